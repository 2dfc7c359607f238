"""Running a custom tool's Python source in a fresh, confined subprocess, one per call.

Under bubblewrap (the ``bwrap`` binary) or the Landlock confinement (``confined``, no
system package needed) the child sees a read-only system, the Python install, a private
writable ``/tmp`` and nothing else: no data dir, no home, no network unless the call
allows it. ``confinement`` chooses between them and refuses calls when neither works,
unless the operator opted in to plain, unconfined subprocesses. Every mode gets
resource limits (CPU seconds, address space, processes, open files, file size), a
wall-clock timeout that kills its whole process group, an output cap, and an environment
holding only the variables the caller declares.

Arguments go in and results come out as JSON (see ``sandbox_runner``); nothing is
unpickled. Every failure of the tool comes back as a ``ToolRun`` with ``ok`` false.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import resource
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engram.config import Settings
from engram.tools import confined, confinement
from engram.tools.confinement import SandboxInForce
from engram.tools.memory_access import CLIENT_DIR, MemoryAccess

log = logging.getLogger(__name__)

RUNNER = Path(__file__).with_name("sandbox_runner.py")
NOBODY = 65534
"""The user a child started as root becomes before running tool code."""

_MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"
_STDERR_BYTES = 64_000
_ETC_FILES = ("resolv.conf", "hosts", "nsswitch.conf", "ld.so.cache", "localtime", "ssl")
_SIGNAL_CAUSES = {
    signal.SIGXCPU: "over its CPU time limit",
    signal.SIGKILL: "killed at a resource limit",
    signal.SIGSEGV: "crashed (segmentation fault)",
    signal.SIGXFSZ: "over its file size limit",
}
_warned: set[str] = set()


@dataclass(frozen=True)
class SandboxLimits:
    timeout_seconds: float = 30.0
    memory_mb: int = 512
    cpu_seconds: int = 10
    max_processes: int = 32
    max_open_files: int = 64
    output_bytes: int = 1_000_000
    tmp_mb: int = 64
    """The size of the private ``/tmp`` (a RAM-backed tmpfs in either sandbox)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxLimits:
        return cls(
            timeout_seconds=settings.tool_timeout_seconds,
            memory_mb=settings.tool_memory_mb,
            cpu_seconds=settings.tool_cpu_seconds,
            max_processes=settings.tool_max_processes,
            max_open_files=settings.tool_max_open_files,
            output_bytes=settings.tool_output_bytes,
            tmp_mb=settings.tool_tmp_mb,
        )

    def __post_init__(self) -> None:
        if self.memory_mb - self.tmp_mb < 64:
            raise ValueError(f"tmp_mb {self.tmp_mb} leaves under 64 MiB of memory_mb")

    def address_space(self, *, tmpfs: bool) -> int:
        """Bytes of ``RLIMIT_AS``. A tmpfs ``/tmp`` lives in RAM but outside the address
        space, so its size comes out of the call's memory budget: ``memory_mb`` bounds
        what a call holds in RAM, files in ``/tmp`` included."""
        budget = self.memory_mb - (self.tmp_mb if tmpfs else 0)
        return budget * 1024 * 1024


@dataclass
class ToolRun:
    """What one sandboxed call produced: a JSON result, or an error saying why not."""

    ok: bool
    result: Any = None
    error: str | None = None
    stdout: str = ""
    stderr: str = ""
    traceback: str | None = None
    seconds: float = 0.0
    sandboxed: bool = field(default=False)

    def text(self, char_limit: int | None = None) -> str:
        """The result as the model reads it: a string as is, anything else as JSON, an
        error as ``Error: ...``; cut at ``char_limit`` with a visible marker."""
        if not self.ok:
            return f"Error: {self.error}"
        value = self.result if isinstance(self.result, str) else json.dumps(self.result)
        return truncate(value, char_limit)


def truncate(text: str, char_limit: int | None) -> str:
    if char_limit is None or len(text) <= char_limit:
        return text
    return f"{text[:char_limit]}… [truncated: {len(text) - char_limit} more characters]"


PACKAGES = "/packages"
"""Where a tool's installed requirements appear inside the sandbox."""
CLIENT_LIB = "/engram-lib"
"""Where the ``engram_memory`` module appears inside the sandbox."""
CLIENT_FILE = CLIENT_DIR / "engram_memory.py"
"""Engram's own memory client, which the runner loads by this path, never by import."""
MEMORY_SOCKET = "/memory.sock"
"""Where the memory gateway's socket appears inside the sandbox."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


async def run_tool(
    source_code: str,
    name: str,
    args: dict[str, Any],
    *,
    env: dict[str, str] | None = None,
    limits: SandboxLimits | None = None,
    network: bool = False,
    use_bwrap: bool | None = None,
    packages: Path | None = None,
    memory: MemoryAccess | None = None,
    sandbox: SandboxInForce | None = None,
) -> ToolRun:
    """Call function ``name`` defined by ``source_code`` with ``args`` in a fresh child.

    ``sandbox`` is the one in force (``confinement.sandbox_in_force``); without it,
    ``use_bwrap`` True asks for bubblewrap, False for an unconfined child, None for what
    ``auto`` picks. ``memory`` lets the tool reach its agent's memory through the gateway
    (see ``engram.runtime.memory_gateway``). Never raises for anything the tool does; raises
    ``SandboxUnavailable`` when no sandbox is in force, ``OSError`` only if no child can
    be started at all."""
    limits = limits or SandboxLimits()
    sandbox = sandbox or _sandbox_for(use_bwrap)
    if sandbox.refused:
        raise sandbox.refusal()
    if sandbox.name == "landlock":
        return await _run_landlocked(
            source_code, name, args, env, limits, network, packages, memory
        )
    bwrap = sandbox.bwrap
    if bwrap is None:
        confinement.warn_unconfined_use(name)
    request = {
        "source": source_code,
        "name": name,
        "args": args,
        "limits": _child_limits(limits, tmpfs=bwrap is not None),
        "drop_to_uid": NOBODY if drops_to_nobody(bwrap is not None) else None,
        "max_output_bytes": limits.output_bytes,
        "paths": _import_paths(packages, under_bwrap=bwrap is not None),
        "client": _client_path(under_bwrap=bwrap is not None),
        "memory": None
        if memory is None
        else memory.for_child(MEMORY_SOCKET if bwrap else memory.socket_path),
    }
    child_env = {**(env or {}), "PATH": _MINIMAL_PATH, "HOME": "/tmp", "LANG": "C.UTF-8"}
    workdir = tempfile.mkdtemp(prefix="engram-tool-")
    try:
        if bwrap is None:
            if os.getuid() == 0:
                os.chown(workdir, NOBODY, NOBODY)
            command = [_python(), "-I", str(RUNNER)]
            started = await _spawn(command, child_env, workdir, limits)
        else:
            socket = memory.socket_path if memory else None
            command = bwrap_command(bwrap, child_env, network, packages, socket, limits)
            started = await _spawn(command, {}, workdir, limits, tmpfs=True)
        run = await _collect(started, json.dumps(request).encode(), limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    run.sandboxed = bwrap is not None
    return run


def _sandbox_for(use_bwrap: bool | None) -> SandboxInForce:
    if use_bwrap is None:
        return confinement.automatic()
    if not use_bwrap:
        return confinement.UNCONFINED
    path = bwrap_path()
    if path is None:
        raise OSError("bubblewrap was asked for but the 'bwrap' binary is not on PATH")
    return SandboxInForce("bubblewrap", f"bubblewrap at {path}", bwrap=path)


async def _run_landlocked(
    source_code: str,
    name: str,
    args: dict[str, Any],
    env: dict[str, str] | None,
    limits: SandboxLimits,
    network: bool,
    packages: Path | None,
    memory: MemoryAccess | None,
) -> ToolRun:
    """The call in a child that confines itself before ``exec`` (see ``confined``)."""
    request = {
        "source": source_code,
        "name": name,
        "args": args,
        "limits": _child_limits(limits, tmpfs=True),
        "drop_to_uid": None,  # the child is nobody (or unprivileged) before it runs Python
        "max_output_bytes": limits.output_bytes,
        "paths": [confined.PACKAGES] if packages else [],
        "client": confined.client_file(CLIENT_FILE),
        "memory": None if memory is None else memory.for_child(confined.MEMORY_SOCKET),
    }
    child_env = {**(env or {}), "PATH": _MINIMAL_PATH, "HOME": "/tmp", "TMPDIR": "/tmp"}
    child_env |= {"LANG": "C.UTF-8", **confined.extra_env()}
    workdir = tempfile.mkdtemp(prefix="engram-tool-")
    try:
        plan = confined.plan_for(
            workdir,
            tmp_mb=limits.tmp_mb,
            network=network,
            packages=packages,
            memory_socket=memory.socket_path if memory else None,
        )
        command = confined.command(RUNNER)
        before = functools.partial(confined.confine, plan)
        # No cwd: the child moves into its new /tmp itself, and uvloop would change
        # directory after the confinement, into a path the new /tmp hides.
        started = await _spawn(command, child_env, None, limits, tmpfs=True, before_exec=before)
        run = await _collect(started, json.dumps(request).encode(), limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not run.ok and f"(exit status {confined.CONFINE_FAILED})" in (run.error or ""):
        # Under uvloop the child's stderr is still the server's when it confines itself.
        log.error("a tool's child could not confine itself: %s", run.stderr or "see above")
        run.error = "the sandbox could not confine the tool, so it did not run (see the server log)"
    run.sandboxed = True
    return run


def _import_paths(packages: Path | None, *, under_bwrap: bool) -> list[str]:
    """The tool's own packages, put on the import path only after the drop. The memory
    client is not among them: the runner loads it by file path (``_client_path``)."""
    if packages is None:
        return []
    return [PACKAGES if under_bwrap else str(packages)]


def _client_path(*, under_bwrap: bool) -> str:
    """Where the runner finds ``engram_memory``. It loads it after dropping privileges,
    so the file must be readable by ``nobody``; the server warns once when it is not."""
    if os.getuid() == 0 and not _readable_by_others(CLIENT_FILE):
        _warn_once(
            f"{CLIENT_FILE} is not readable by others: tools run as 'nobody' and cannot "
            "load engram_memory (chmod o+r the file and o+x its folder)"
        )
    return f"{CLIENT_LIB}/{CLIENT_FILE.name}" if under_bwrap else str(CLIENT_FILE)


def _readable_by_others(path: Path) -> bool:
    try:
        modes = (path.stat().st_mode, path.parent.stat().st_mode)
    except OSError:
        return False
    return bool(modes[0] & stat.S_IROTH and modes[1] & stat.S_IXOTH)


def drops_to_nobody(under_bwrap: bool) -> bool:
    """Whether a child started as root can become ``nobody`` and still import the standard
    library: under bubblewrap it always can (the install is mounted at ``/python``); without
    it only when every directory down to the install lets others through."""
    if os.getuid() != 0:
        return False
    if under_bwrap:
        return True
    path = Path(os.path.realpath(sys.base_prefix))
    if all(part.stat().st_mode & stat.S_IXOTH for part in [path, *path.parents]):
        return True
    _warn_once(
        f"the Python install {path} is not reachable by 'nobody': without bubblewrap, custom "
        "tools run as root, which the kernel's process limit does not apply to"
    )
    return False


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("!!! %s !!!", message)


def _python() -> str:
    """The base interpreter: tools get the standard library, not the server's packages."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def _child_limits(limits: SandboxLimits, *, tmpfs: bool = False) -> dict[str, int]:
    return {
        "RLIMIT_CPU": limits.cpu_seconds,
        "RLIMIT_AS": limits.address_space(tmpfs=tmpfs),
        "RLIMIT_NPROC": limits.max_processes,
        "RLIMIT_NOFILE": limits.max_open_files,
        "RLIMIT_FSIZE": limits.output_bytes * 10,
    }


def bwrap_command(
    bwrap: str,
    env: dict[str, str],
    network: bool,
    packages: Path | None = None,
    memory_socket: str | None = None,
    limits: SandboxLimits | None = None,
    *,
    use_setpriv: bool = True,
) -> list[str]:
    """The bubblewrap command line running the runner for one call. ``use_setpriv``
    False leaves a root server's drop to the runner, as where setpriv is missing."""
    limits = limits or SandboxLimits()
    prefix = os.path.realpath(sys.base_prefix)
    python = _python()
    inside_python = "/python/" + os.path.relpath(python, prefix)
    if inside_python.startswith("/python/.."):
        raise OSError(f"the interpreter {python} is not under its prefix {prefix}")
    command = [bwrap, "--die-with-parent", "--new-session"]
    if os.getuid() == 0:
        # As root a user namespace would map the child back to host root, whom the
        # kernel's process limit ignores and who owns the system's files; without one the
        # child becomes nobody (a real uid, so RLIMIT_NPROC holds): through setpriv before
        # Python starts, or else in the runner's first lines. Every capability but the two
        # the drop needs is gone and bwrap sets no_new_privs, so even before the drop the
        # child is a uid 0 that cannot mount, mknod or open raw sockets; after it, it has
        # no capability at all.
        command += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        command += [] if network else ["--unshare-net"]
        command += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        command += ["--unshare-all"] + (["--share-net"] if network else [])
    command += ["--ro-bind", "/usr", "/usr"]
    for path in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        command += ["--ro-bind-try", path, path]
    # bwrap makes missing parents 0700: nobody could not read /etc/resolv.conf or ssl.
    command += ["--perms", "0755", "--dir", "/etc"]
    for name in _ETC_FILES:
        command += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    command += ["--ro-bind", prefix, "/python", "--ro-bind", str(RUNNER), "/runner.py"]
    if packages is not None:
        command += ["--ro-bind", str(packages), PACKAGES]
    command += ["--ro-bind", str(CLIENT_DIR), CLIENT_LIB]
    if memory_socket is not None:
        # A path-bound Unix socket reaches the server without any network namespace.
        command += ["--ro-bind", memory_socket, MEMORY_SOCKET]
    # /tmp is RAM: its size is bounded, and taken out of the address space (see limits).
    command += ["--perms", "1777", "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    command += ["--proc", "/proc", "--dev", "/dev"]
    command += ["--chdir", "/tmp", "--clearenv"]
    for key, value in env.items():
        command += ["--setenv", key, value]
    runner = [inside_python, "-I", "/runner.py"]
    setpriv = _setpriv() if os.getuid() == 0 and use_setpriv else None
    if setpriv is not None:
        # Become nobody before Python starts: then no code at all, not even the
        # interpreter's start-up, runs as uid 0 inside; the runner's drop is a no-op.
        drop = ["--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]
        runner = [setpriv, *drop, "--inh-caps=-all", "--", *runner]
    return [*command, *runner]


@functools.cache
def _setpriv() -> str | None:
    """util-linux's ``setpriv``, if it lies where the sandbox sees it (under ``/usr``)."""
    found = shutil.which("setpriv")
    path = os.path.realpath(found) if found else None
    return path if path and path.startswith("/usr/") else None


async def _spawn(
    command: list[str],
    env: dict[str, str],
    cwd: str | None,
    limits: SandboxLimits,
    *,
    tmpfs: bool = False,
    before_exec: Callable[[], None] | None = None,
) -> asyncio.subprocess.Process:
    def confine() -> None:
        if before_exec is not None:
            before_exec()  # first: it may open files, which the limit on files would stop
        # The limits the whole tree (bwrap included) lives under; the runner adds the
        # process limit itself, see sandbox_runner._apply_limits.
        memory = limits.address_space(tmpfs=tmpfs)
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output_bytes * 10,) * 2)

    return await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=confine,
    )


async def _collect(
    process: asyncio.subprocess.Process, request: bytes, limits: SandboxLimits
) -> ToolRun:
    loop = asyncio.get_running_loop()
    started = loop.time()
    stdout = asyncio.ensure_future(_read_bounded(process.stdout, limits.output_bytes))
    stderr = asyncio.ensure_future(_read_bounded(process.stderr, _STDERR_BYTES))
    timed_out = False
    try:
        assert process.stdin is not None
        process.stdin.write(request)
        await process.stdin.drain()
        process.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the child died before reading; its exit status says why
    try:
        await asyncio.wait_for(process.wait(), limits.timeout_seconds)
    except TimeoutError:
        timed_out = True
    finally:
        _kill_group(process.pid)
        await process.wait()
    try:
        (out, out_over), (err, _) = await asyncio.wait_for(asyncio.gather(stdout, stderr), 5)
    except TimeoutError:
        stdout.cancel()
        stderr.cancel()
        out, out_over, err = b"", False, b""
    seconds = loop.time() - started
    stderr_text = err.decode(errors="replace")
    if timed_out:
        error = f"timed out after {limits.timeout_seconds:g} seconds and was killed"
        return ToolRun(False, error=error, stderr=stderr_text, seconds=seconds)
    if out_over:
        error = (
            f"wrote more than {limits.output_bytes} bytes to its output and was cut off "
            f"there: return a shorter result"
        )
        return ToolRun(False, error=error, stderr=stderr_text, seconds=seconds)
    return _parse_answer(out, process.returncode, stderr_text, limits, seconds)


async def _read_bounded(stream: asyncio.StreamReader | None, cap: int) -> tuple[bytes, bool]:
    """Up to ``cap`` bytes of ``stream`` and whether it held more; the rest is drained."""
    kept = bytearray()
    over = False
    assert stream is not None
    while chunk := await stream.read(65536):
        room = cap - len(kept)
        if len(chunk) > room:
            over = True
        kept += chunk[: max(room, 0)]
    return bytes(kept), over


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(pid, signal.SIGKILL)


def _parse_answer(
    out: bytes, returncode: int | None, stderr: str, limits: SandboxLimits, seconds: float
) -> ToolRun:
    try:
        answer = json.loads(out) if out else None
    except ValueError:
        answer = None
    if isinstance(answer, dict) and "ok" in answer:
        return ToolRun(
            ok=bool(answer["ok"]),
            result=answer.get("result"),
            error=answer.get("error"),
            stdout=str(answer.get("stdout", "")),
            stderr=str(answer.get("stderr", "")),
            traceback=answer.get("traceback"),
            seconds=seconds,
        )
    return ToolRun(False, error=_death(returncode, stderr, limits), stderr=stderr, seconds=seconds)


def _death(returncode: int | None, stderr: str, limits: SandboxLimits) -> str:
    """Why a child ended without an answer, in words a model can act on."""
    code = returncode or 0
    number = -code if code < 0 else code - 128 if code > 128 else 0
    if number:
        try:
            sig = signal.Signals(number)
        except ValueError:
            return f"was killed by signal {number}"
        cause = _SIGNAL_CAUSES.get(sig, "killed")
        if sig == signal.SIGXCPU:
            cause += f" of {limits.cpu_seconds} s"
        return f"was stopped: {cause} ({sig.name})"
    tail = stderr.strip().splitlines()[-1:] or ["no output"]
    return f"ended without a result (exit status {code}): {tail[0][:500]}"
