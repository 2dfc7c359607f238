"""Nothing a tool's packages ship runs with privileges, and code inside cannot gain any.

A wheel built here ships an ``engram_memory.py`` that would stand in for Engram's memory
client, a ``sitecustomize.py`` and a ``.pth`` file, each of which records what it sees if it
ever runs, plus an ordinary module the tool imports. The tool must get Engram's own
``engram_memory``, the start-up payloads must never run, and whatever of the package does
run must see uid 65534 (when the server is root), no capabilities, and a read-only ``/usr``.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pytest

from engram.tools.sandbox import CLIENT_LIB, PACKAGES, SandboxLimits, bwrap_command, bwrap_path
from tests.sandbox import distributions
from tests.sandbox.conftest import (
    SANDBOXES,
    call,
    install,
    local_index,
    needs_bwrap,
    sandbox_named,
)
from tests.sandbox.probes import OBSERVE

NO_CAPS = "0000000000000000"
PAYLOAD = {
    "probe_observe.py": OBSERVE,
    "engram_memory.py": "import probe_observe\nprobe_observe.record('engram_memory')\n",
    "sitecustomize.py": "import probe_observe\nprobe_observe.record('sitecustomize')\n",
    "zz_probe.pth": "import probe_observe; probe_observe.record('pth')\n",
    "probe_payload.py": "import probe_observe\nprobe_observe.record('import')\n",
}
TOOL = (
    OBSERVE
    + """
def probe():
    import builtins, engram_memory, probe_payload
    return {
        "log": builtins.__dict__.get("_engram_probe_log", []),
        "memory_file": engram_memory.__file__,
        "memory_is_engrams": hasattr(engram_memory, "MemoryAccessError"),
        "tool": observe(),
    }
"""
)
REFUSED = (errno.EPERM, errno.EACCES)


def _assert_unprivileged(seen: dict[str, object]) -> None:
    if os.getuid() == 0:
        assert seen["uid"] == seen["euid"] == 65534, seen
    assert seen["cap_eff"] == NO_CAPS and seen["cap_prm"] == NO_CAPS, seen
    assert seen["mount"] in REFUSED, seen
    assert seen["remount_usr"] in REFUSED, seen
    assert seen["mknod"] in REFUSED, seen
    assert seen["ptrace"] in REFUSED, seen
    assert seen["raw_socket"] in REFUSED, seen
    assert seen["usr_write"] in (errno.EROFS, errno.EACCES), seen


@pytest.mark.parametrize("mode", SANDBOXES)
def test_a_package_payload_runs_unprivileged_and_cannot_replace_engram_memory(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed and called in the same sandbox, as the server does."""
    sandbox = sandbox_named(mode)
    with distributions.wheelhouse() as folder:
        distributions.wheel(folder, "probe_payload", "1.0", PAYLOAD)
        local_index(monkeypatch, folder)
        packages = install(tmp_path / "tool-packages", ["probe_payload==1.0"], sandbox=sandbox)
    # Shipped, and in the folder on the tool's import path.
    for payload in ("engram_memory.py", "sitecustomize.py", "zz_probe.pth"):
        assert (packages / payload).is_file(), payload

    run = call(TOOL, "probe", packages=packages, sandbox=sandbox)

    assert run.ok, run
    result = run.result
    # Engram's client, loaded by its own path, whatever the packages hold.
    assert result["memory_is_engrams"] is True
    assert Path(result["memory_file"]).name == "engram_memory.py"
    assert not result["memory_file"].startswith(str(packages))
    # The start-up payloads never ran; the module the tool imported did, unprivileged.
    assert [entry["who"] for entry in result["log"]] == ["import"]
    for seen in [*result["log"], result["tool"]]:
        _assert_unprivileged(seen)
    if mode != "plain":
        assert result["tool"]["no_new_privs"] == "1"


@needs_bwrap
def test_the_first_code_python_runs_inside_bwrap_is_already_confined() -> None:
    """Runs a probe in the runner's place, as the very first Python code of the child: with
    setpriv it is already nobody with no capability; without it, it is the uid 0 the child
    starts as, holding only the two capabilities the drop needs, and still cannot mount,
    make device nodes or open raw sockets."""
    if os.getuid() != 0:
        pytest.skip("the child starts as root only when the server is root")
    bwrap = bwrap_path()
    assert bwrap is not None
    command = bwrap_command(bwrap, {"PATH": "/usr/bin:/bin"}, False, limits=SandboxLimits())
    assert command[-2:] == ["-I", "/runner.py"]
    report = "import json, os\nprint(json.dumps({**observe(), 'pids': os.listdir('/proc')}))"
    done = subprocess.run(
        [*command[:-1], "-c", f"{OBSERVE}\n{report}\n"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    seen = json.loads(done.stdout)

    assert seen["no_new_privs"] == "1"
    if "--reuid" in command:
        _assert_unprivileged(seen)
    else:
        assert seen["uid"] == 0
        setuid_setgid = f"{(1 << 6) | (1 << 7):016x}"  # CAP_SETGID, CAP_SETUID
        assert seen["cap_eff"] == setuid_setgid, seen
        assert seen["mount"] == seen["remount_usr"] == errno.EPERM
        assert seen["mknod"] == seen["raw_socket"] == errno.EPERM
        assert seen["usr_write"] == errno.EROFS
    # Its own PID namespace: no process of the host is there to trace.
    assert sorted(int(pid) for pid in seen["pids"] if pid.isdigit()) == [1, 2]


@pytest.mark.parametrize("mode", SANDBOXES)
def test_tool_code_cannot_mount_mknod_trace_open_raw_sockets_or_write_usr(mode: str) -> None:
    run = call(OBSERVE + "\n", "observe", sandbox=sandbox_named(mode))
    assert run.ok, run
    _assert_unprivileged(run.result)


@needs_bwrap
def test_without_setpriv_the_runner_drops_before_loading_anything_of_the_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where setpriv is missing the child starts Python as root and the runner drops: the
    payloads must still never run as root, and engram_memory must still be Engram's."""
    if os.getuid() != 0:
        pytest.skip("the runner drops privileges only when the server is root")
    with distributions.wheelhouse() as folder:
        distributions.wheel(folder, "probe_payload", "1.0", PAYLOAD)
        local_index(monkeypatch, folder)
        packages = install(tmp_path / "tool-packages", ["probe_payload==1.0"])
    bwrap = bwrap_path()
    assert bwrap is not None
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    command = bwrap_command(bwrap, env, False, packages, use_setpriv=False)
    assert "--reuid" not in command
    request = {
        "source": TOOL,
        "name": "probe",
        "args": {},
        "limits": {"RLIMIT_NPROC": 32},
        "drop_to_uid": 65534,
        "max_output_bytes": 1_000_000,
        "paths": [PACKAGES],
        "client": f"{CLIENT_LIB}/engram_memory.py",
        "memory": None,
    }
    done = subprocess.run(
        command, input=json.dumps(request), capture_output=True, text=True, timeout=30
    )
    answer = json.loads(done.stdout)

    assert answer["ok"], answer
    result = answer["result"]
    assert result["memory_is_engrams"] is True
    assert result["memory_file"] == f"{CLIENT_LIB}/engram_memory.py"
    assert [entry["who"] for entry in result["log"]] == ["import"]
    for seen in [*result["log"], result["tool"]]:
        _assert_unprivileged(seen)


@needs_bwrap
def test_a_tool_can_read_the_etc_files_it_is_given() -> None:
    """DNS and TLS need /etc/resolv.conf and /etc/ssl, readable by the nobody the child is."""
    source = (
        "def etc():\n    import os\n"
        "    return [os.path.isfile('/etc/resolv.conf') and bool(open('/etc/hosts').read()),\n"
        "            bool(os.listdir('/etc/ssl'))]\n"
    )
    run = call(source, "etc", use_bwrap=True, network=True)
    assert run.ok, run
    assert run.result == [True, True]
