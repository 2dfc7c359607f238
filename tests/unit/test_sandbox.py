"""The custom tool sandbox, called directly: real children, real limits, real attacks.

Each attack must end as a ``ToolRun`` with ``ok`` false (or a refused operation the tool
reports), never as an exception in the caller.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest

from engram.tools.sandbox import SandboxLimits, ToolRun, bwrap_path, drops_to_nobody, run_tool

needs_bwrap = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")
MODES = [pytest.param(True, marks=needs_bwrap, id="bwrap"), pytest.param(False, id="plain")]
FAST = SandboxLimits(timeout_seconds=10, cpu_seconds=1, memory_mb=256, output_bytes=100_000)


def call(source: str, name: str, args: dict[str, Any] | None = None, **kwargs: Any) -> ToolRun:
    kwargs.setdefault("limits", FAST)
    return asyncio.run(run_tool(source, name, args or {}, **kwargs))


@pytest.mark.parametrize("bwrap", MODES)
def test_a_tool_returns_json_and_its_prints(bwrap: bool) -> None:
    source = "def add(a: int, b: int):\n    print('adding')\n    return {'sum': a + b}\n"
    run = call(source, "add", {"a": 2, "b": 3}, use_bwrap=bwrap)
    assert run.ok, run
    assert run.result == {"sum": 5}
    assert run.stdout == "adding\n"
    assert run.sandboxed is bwrap


def test_a_result_that_is_not_json_comes_back_as_its_string() -> None:
    run = call("def f():\n    return {1, 2}\n", "f")
    assert run.ok and run.result == "{1, 2}"


def test_an_exception_is_an_error_with_its_type_and_message() -> None:
    run = call("def f():\n    raise ValueError('no such city')\n", "f")
    assert not run.ok
    assert run.error == "ValueError: no such city"
    assert run.text() == "Error: ValueError: no such city"
    assert "Traceback" in (run.traceback or "")


@pytest.mark.parametrize("bwrap", MODES)
def test_the_server_environment_is_invisible_and_declared_variables_are_set(
    bwrap: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-secret")
    monkeypatch.setenv("ENGRAM_DATABASE_URL", "postgresql://secret")
    source = "def env():\n    import os\n    return dict(os.environ)\n"
    run = call(source, "env", env={"WEATHER_KEY": "abc"}, use_bwrap=bwrap)
    assert run.ok, run
    assert run.result["WEATHER_KEY"] == "abc"
    assert "OPENAI_API_KEY" not in run.result
    assert not [key for key in run.result if key.startswith("ENGRAM_")]
    assert "sk-server-secret" not in str(run.result)


@needs_bwrap
def test_no_socket_reaches_the_host_with_network_off() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    source = (
        "def connect(port: int):\n"
        "    import socket\n"
        "    socket.create_connection(('127.0.0.1', port), timeout=2).close()\n"
        "    return 'connected'\n"
    )
    try:
        closed = call(source, "connect", {"port": port}, use_bwrap=True)
        opened = call(source, "connect", {"port": port}, use_bwrap=True, network=True)
    finally:
        listener.close()
    assert not closed.ok
    assert "ConnectionRefusedError" in (closed.error or "") or "OSError" in (closed.error or "")
    assert opened.ok and opened.result == "connected"


@needs_bwrap
def test_nothing_outside_tmp_is_writable_or_even_visible(tmp_path: Path) -> None:
    source = (
        "def write(path: str):\n"
        "    with open(path, 'w') as f:\n"
        "        f.write('owned')\n"
        "    return 'written'\n"
    )
    repo = Path(__file__).resolve().parents[2]
    for target in [repo / "pwned.txt", Path.home() / "pwned.txt", tmp_path / "x", Path("/x")]:
        run = call(source, "write", {"path": str(target)}, use_bwrap=True)
        assert not run.ok, target
        assert not target.exists()
    assert call(source, "write", {"path": "/tmp/scratch.txt"}, use_bwrap=True).ok
    listing = call("def ls():\n    import os\n    return os.listdir('/')\n", "ls", use_bwrap=True)
    assert "work" not in listing.result and "root" not in listing.result


# As root without bubblewrap, the child drops to nobody only if it can still reach Python.
PLAIN_CHILD_IS_ROOT = os.getuid() == 0 and not drops_to_nobody(under_bwrap=False)


@pytest.mark.skipif(
    os.getuid() != 0 or PLAIN_CHILD_IS_ROOT, reason="the drop to nobody happens only as root"
)
def test_a_child_started_as_root_runs_as_nobody_without_bwrap(tmp_path: Path) -> None:
    target = Path(__file__).resolve().parents[2] / "pwned.txt"
    source = "def write(path: str):\n    open(path, 'w').write('x')\n"
    run = call(source, "write", {"path": str(target)}, use_bwrap=False)
    assert not run.ok and "PermissionError" in (run.error or "")
    assert not target.exists()


@pytest.mark.parametrize("bwrap", MODES)
def test_a_cpu_loop_is_killed(bwrap: bool) -> None:
    run = call("def spin():\n    while True:\n        pass\n", "spin", use_bwrap=bwrap)
    assert not run.ok
    assert "CPU time limit" in (run.error or ""), run
    assert run.seconds < 5


@pytest.mark.parametrize("bwrap", MODES)
def test_a_memory_hog_is_stopped(bwrap: bool) -> None:
    source = (
        "def hog():\n    chunks = []\n    while True:\n"
        "        chunks.append(bytearray(50_000_000))\n"
    )
    run = call(source, "hog", use_bwrap=bwrap)
    assert not run.ok
    assert "MemoryError" in (run.error or "") or "stopped" in (run.error or ""), run


@pytest.mark.parametrize("bwrap", MODES)
def test_a_fork_bomb_is_contained(bwrap: bool) -> None:
    if not bwrap and PLAIN_CHILD_IS_ROOT:
        pytest.skip("root is exempt from the process limit, and Python is unreachable as nobody")
    source = "def bomb():\n    import os\n    while True:\n        os.fork()\n"
    # Every process of this bomb carries the mark in its environment; other tests running
    # beside this one have tools of their own running as nobody.
    mark = f"bomb-{uuid.uuid4().hex}"
    run = call(source, "bomb", use_bwrap=bwrap, env={"BOMB_MARK": mark})
    assert not run.ok
    assert "BlockingIOError" in (run.error or "") or "stopped" in (run.error or ""), run
    if os.getuid() == 0:
        # Nothing of the bomb outlives the call (killed processes may linger as zombies
        # until init reaps them; they run nothing).
        assert [pid for pid in os.listdir("/proc") if _alive_and_marked(pid, mark)] == []


def _alive_and_marked(pid: str, mark: str) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    alive = fields["Uid"].split()[0] == "65534" and fields["State"].split()[0] != "Z"
    return alive and f"BOMB_MARK={mark}".encode() in environ.split(b"\0")


def test_a_huge_result_is_cut_with_a_marker() -> None:
    run = call("def big():\n    return 'x' * 5_000_000\n", "big")
    assert run.ok
    assert len(run.result) < FAST.output_bytes
    assert "[truncated:" in run.result


def test_raw_output_over_the_cap_is_cut_and_reported() -> None:
    source = "def flood():\n    import os\n    os.write(1, b'y' * 3_000_000)\n"
    run = call(source, "flood")
    assert not run.ok
    assert "more than 100000 bytes" in (run.error or "")


def test_a_sleeping_tool_times_out() -> None:
    limits = SandboxLimits(timeout_seconds=1, cpu_seconds=5)
    run = call("def nap():\n    import time\n    time.sleep(30)\n", "nap", limits=limits)
    assert not run.ok
    assert "timed out after 1 seconds" in (run.error or "")
    assert run.seconds < 5


def test_the_model_sees_results_cut_at_the_tools_limit() -> None:
    run = ToolRun(ok=True, result="abcdefghij")
    assert run.text(4) == "abcd… [truncated: 6 more characters]"
    assert ToolRun(ok=True, result={"a": 1}).text() == '{"a": 1}'
