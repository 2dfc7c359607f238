"""The sandbox's ``/tmp`` is bounded, and its size comes out of the call's memory limit."""

from __future__ import annotations

import errno

import pytest
from pydantic import ValidationError

from engram.config import Settings
from engram.tools.sandbox import SandboxLimits
from tests.sandbox.conftest import call, needs_bwrap

LIMITS = SandboxLimits(
    timeout_seconds=30, cpu_seconds=10, memory_mb=256, tmp_mb=16, output_bytes=100_000
)
FILL = """
def fill():
    import os
    chunk = b"x" * 500_000  # under the per-file limit: it is /tmp that must run out
    written, index = 0, 0
    try:
        while written < 10 * 1024 ** 3:
            with open(f"/tmp/fill-{index}", "wb") as f:
                f.write(chunk)
            written += len(chunk)
            index += 1
    except OSError as exc:
        return {"errno": exc.errno, "written": written}
    return {"errno": None, "written": written}
"""


@needs_bwrap
def test_a_tool_filling_tmp_gets_enospc_and_the_next_call_works() -> None:
    run = call(FILL, "fill", use_bwrap=True, limits=LIMITS)

    assert run.ok, run
    assert run.result["errno"] == errno.ENOSPC
    assert 15 * 1024**2 <= run.result["written"] <= 16 * 1024**2

    after = call("def ls():\n    import os\n    return os.listdir('/tmp')\n", "ls", use_bwrap=True)
    assert after.ok and after.result == []


@needs_bwrap
def test_tmp_is_taken_out_of_the_address_space() -> None:
    source = (
        "def limits():\n    import os, resource\n"
        "    s = os.statvfs('/tmp')\n"
        "    return [resource.getrlimit(resource.RLIMIT_AS)[0], s.f_blocks * s.f_frsize]\n"
    )
    run = call(source, "limits", use_bwrap=True, limits=LIMITS)
    assert run.ok, run
    address_space, tmp_size = run.result
    assert tmp_size == 16 * 1024**2
    assert address_space + tmp_size == 256 * 1024**2


def test_defaults_and_a_tmp_that_leaves_no_memory_is_refused() -> None:
    assert SandboxLimits().tmp_mb == 64
    assert Settings().tool_tmp_mb == 64
    assert SandboxLimits.from_settings(Settings(tool_tmp_mb=32)).tmp_mb == 32
    with pytest.raises(ValidationError, match="ENGRAM_TOOL_TMP_MB"):
        Settings(tool_memory_mb=128, tool_tmp_mb=100)
    with pytest.raises(ValueError, match="tmp_mb"):
        SandboxLimits(memory_mb=128, tmp_mb=100)
