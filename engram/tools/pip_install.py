"""``pip install`` of a tool's requirements, confined like a tool call.

Installing a package runs code its author wrote (a source distribution's build), so the
install gets what a tool call gets: an environment holding only ``PATH``, ``HOME``,
``TMPDIR``, ``LANG``, the server's ``PIP_*`` variables and its proxy variables (never an API
key or a database URL); ``nobody`` as its user when the server is root; resource limits and
a timeout; and a read-only system where the only writable places are its own work folder
and a small private ``/tmp``. Unlike a tool call it has the network: that is what an
install is for.

The install runs in the sandbox tool calls run in (``confinement``): under bubblewrap, a
``bwrap`` command line; under Landlock, the same self-confining child as a tool call
(``confined``), lent the server's Python environment read-only at its own paths and its
work folder read-write. Only with the explicit ``ENGRAM_SANDBOX=unconfined`` opt-in does it
run as a plain child (a clean environment, limits and ``nobody``, but no filesystem
confinement), refused when ``nobody`` cannot reach the Python install.

Pip reads the server's ``PIP_*`` variables and the system's pip configuration files
(``/etc/pip.conf``, ``/etc/xdg/pip/pip.conf``, the environment's own ``pip.conf``); local
paths they name (a wheel folder, a ``file://`` index, a certificate, a constraints file)
are mounted read-only into the sandbox and must be readable by others. No pip cache is
kept: a cache shared between installs would let one install's build leave a poisoned
wheel for the next.

Only wheels are installed unless the operator opts in to source builds
(``ENGRAM_TOOL_ALLOW_SOURCE_BUILDS``). When the install has finished, the installed tree is
made the server's own and read-only to everybody else, without following any link the
install may have planted, so a later tool call cannot change what the next one imports.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import functools
import logging
import os
import resource
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from engram.tools import confined
from engram.tools import sandbox as tool_sandbox
from engram.tools.confinement import SandboxInForce

log = logging.getLogger(__name__)

MEMORY_MB = 4096
"""Address space of the install (``RLIMIT_AS``): pip's resolver, and a compiler if opted in."""
MAX_FILE_BYTES = 4 * 1024**3
"""The largest file the install may write (``RLIMIT_FSIZE``): a big wheel being downloaded."""
MAX_PROCESSES = 128
"""``RLIMIT_NPROC`` once the install runs as ``nobody`` (builds start compilers)."""
MAX_OPEN_FILES = 1024
TMP_BYTES = 256 * 1024**2
"""The private ``/tmp`` in either sandbox; pip itself is pointed at ``TMPDIR`` on disk."""
WORK = confined.WORK
"""Where the work folder (``target``, ``tmp``, ``home``) appears inside either sandbox."""
SOURCE_BUILDS_SETTING = "ENGRAM_TOOL_ALLOW_SOURCE_BUILDS"

_PROXIES = ("http_proxy", "https_proxy", "no_proxy")
_PIP_CONFIG_FILES = (Path("/etc/xdg/pip/pip.conf"), Path("/etc/pip.conf"))
_STDERR_BYTES = 64_000

# Run as ``python -I -c _BOOT <uid> <nproc> <pip args...>``: drop to ``uid`` (-1: stay),
# apply the process limit, then become pip. Nothing else runs before the drop.
_BOOT = (
    "import os, resource, sys\n"
    "uid, nproc = int(sys.argv[1]), int(sys.argv[2])\n"
    "if uid >= 0:\n"
    "    os.setgroups([])\n"
    "    os.setgid(uid)\n"
    "    os.setuid(uid)\n"
    "if nproc:\n"
    "    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'pip', *sys.argv[3:]])\n"
)


class PackagesError(Exception):
    """The requirements could not be installed (pip failed, timed out, or the install
    could not be confined); the message says why."""


async def install(
    specs: list[str],
    into: Path,
    *,
    timeout: float,
    allow_source_builds: bool,
    sandbox: SandboxInForce | None = None,
    use_bwrap: bool | None = None,
) -> None:
    """Install ``specs`` into the new folder ``into`` (which must not exist yet), confined
    by ``sandbox``, the one tool calls run in; ``into``'s parent must belong to the server.
    Without ``sandbox``, ``use_bwrap`` True asks for bubblewrap, False for a plain child,
    None for what ``auto`` picks. Raises ``PackagesError`` when no sandbox is in force."""
    chosen = _chosen(sandbox, use_bwrap)
    if chosen.refused:
        raise PackagesError(f"pip_requirements cannot be installed: {chosen.description}")
    as_nobody = os.getuid() == 0
    landlocked = chosen.name == "landlock"
    bwrap = chosen.bwrap
    confined_fs = landlocked or bwrap is not None
    if not confined_fs:
        _refuse_unreachable_python(as_nobody)
        tool_sandbox._warn_once(
            "no sandbox is in force (ENGRAM_SANDBOX=unconfined): pip_requirements are "
            "installed without a confined filesystem (with a clean environment, limits"
            + (", as 'nobody')" if as_nobody else ")")
        )
    # A plain child running as nobody must reach its work folder: a fresh one in the
    # system's temporary directory. A sandbox mounts it: beside the target.
    parent = into.parent if confined_fs or not as_nobody else None
    work = Path(tempfile.mkdtemp(prefix=f".{into.name}.", dir=parent))
    staging: str | None = None
    try:
        for name in ("target", "tmp", "home"):
            (work / name).mkdir(mode=0o700)
            if as_nobody:
                os.chown(work / name, tool_sandbox.NOBODY, tool_sandbox.NOBODY)
        work.chmod(0o755)
        inside = Path(WORK) if confined_fs else work
        args = _pip_args(specs, inside / "target", allow_source_builds)
        env = _environment(inside)
        # Under Landlock the child is nobody (or unprivileged) before pip's Python starts.
        uid = tool_sandbox.NOBODY if as_nobody and not landlocked else -1
        nproc = MAX_PROCESSES if as_nobody or confined_fs else 0
        boot = ["-I", "-c", _BOOT, str(uid), str(nproc), *args]
        before_exec: Callable[[], None] | None = None
        cwd: Path | None = work
        if landlocked:
            staging = tempfile.mkdtemp(prefix="engram-install-root-")
            before_exec = functools.partial(confined.confine, _landlock_plan(staging, work))
            command = [_python_at_own_path(), *boot]
            cwd = None  # the child moves into its work folder itself
        elif bwrap:
            command = [*_bwrap_prefix(bwrap, work, env, as_root=as_nobody), sys.executable, *boot]
            env = {}
        else:
            command = [sys.executable, *boot]
        await _run(command, env, cwd, timeout, specs, allow_source_builds, before_exec)
        _seal(work / "target", own=as_nobody)
        shutil.move(work / "target", into)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _chosen(sandbox_in_force: SandboxInForce | None, use_bwrap: bool | None) -> SandboxInForce:
    if sandbox_in_force is not None:
        return sandbox_in_force
    try:
        return tool_sandbox._sandbox_for(use_bwrap)
    except OSError as exc:
        raise PackagesError(str(exc)) from None


def _landlock_plan(staging: str, work: Path) -> confined.ChildPlan:
    """The tool calls' Landlock confinement, with the network, the server's Python
    environment and its pip settings' local paths lent read-only at their own paths, and
    the work folder writable at ``WORK``."""
    try:
        return confined.plan_for(
            staging,
            tmp_mb=TMP_BYTES // 1024**2,
            network=True,
            lends=[*_python_dirs(), *_pip_local_paths()],
            work=work,
        )
    except ValueError as exc:
        raise PackagesError(f"pip_requirements cannot be installed in the sandbox: {exc}") from None


def _python_at_own_path() -> str:
    """The server's interpreter by a path the sandbox shows: its environment's real
    folder, so that ``pyvenv.cfg`` beside it is found."""
    prefix = os.path.realpath(sys.prefix)
    relative = os.path.relpath(sys.executable, sys.prefix)
    if relative.startswith(".."):
        return os.path.realpath(sys.executable)
    return os.path.join(prefix, relative)


def _pip_args(specs: list[str], target: Path, allow_source_builds: bool) -> list[str]:
    args = ["install", "--quiet", "--no-input", "--disable-pip-version-check"]
    args += ["--no-cache-dir", "--no-warn-script-location", "--target", str(target)]
    if not allow_source_builds:
        args += ["--only-binary", ":all:"]
    return [*args, *specs]


def _environment(work: Path) -> dict[str, str]:
    """Only what pip needs: its own variables, proxies, and a home of its own."""
    passed = {
        key: value
        for key, value in os.environ.items()
        if key.startswith("PIP_") or key.lower() in _PROXIES
    }
    path = f"{Path(sys.executable).parent}:{tool_sandbox._MINIMAL_PATH}"
    home, tmp = str(work / "home"), str(work / "tmp")
    return {**passed, "PATH": path, "HOME": home, "TMPDIR": tmp, "LANG": "C.UTF-8"}


def _bwrap_prefix(bwrap: str, work: Path, env: dict[str, str], *, as_root: bool) -> list[str]:
    command = [bwrap, "--die-with-parent", "--new-session"]
    if as_root:
        # As for a tool call (see sandbox.bwrap_command): no user namespace, every
        # capability gone but the two the drop to nobody needs, no_new_privs.
        command += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        command += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        command += ["--unshare-all", "--share-net"]
    command += ["--ro-bind", "/usr", "/usr"]
    for path in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        command += ["--ro-bind-try", path, path]
    command += ["--perms", "0755", "--dir", "/etc"]
    for name in tool_sandbox._ETC_FILES:
        command += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    command += ["--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    made = {"/", "/etc", "/tmp", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64"}
    for path in _python_dirs():
        command += [*_parents(path, made), "--ro-bind", path, path]
    for path in sorted(_pip_local_paths()):
        if os.path.dirname(path) not in made and _under(path, _SYSTEM):
            command += ["--ro-bind-try", path, path]  # already visible, read-only
            continue
        command += [*_parents(path, made), "--ro-bind-try", path, path]
    command += ["--bind", str(work), WORK, "--proc", "/proc", "--dev", "/dev"]
    command += ["--chdir", WORK, "--clearenv"]
    for key, value in env.items():
        command += ["--setenv", key, value]
    return command


_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc/ssl")


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root + "/") for root in roots)


def _parents(path: str, made: set[str]) -> list[str]:
    """``--dir`` options making ``path``'s missing parents 0755 (bwrap's own are 0700,
    which ``nobody`` could not pass), remembering them in ``made``."""
    options: list[str] = []
    for parent in reversed(Path(path).parents):
        name = str(parent)
        if name in made or _under(name, _SYSTEM):
            continue
        made.add(name)
        options += ["--perms", "0755", "--dir", name]
    return options


def _python_dirs() -> list[str]:
    """The server's Python environment (where pip lives) and the install under it, at
    their own paths so the environment's links and ``pyvenv.cfg`` still hold."""
    dirs = {sys.prefix, os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    dirs.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    return sorted(path for path in dirs if not path.startswith("/usr/"))


def _pip_local_paths() -> set[str]:
    """Local files and folders the server's pip settings name, to mount read-only."""
    values: list[tuple[str, str]] = [
        (key.lower(), value) for key, value in os.environ.items() if key.startswith("PIP_")
    ]
    files = [*_PIP_CONFIG_FILES, Path(sys.prefix) / "pip.conf"]
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    paths = {str(path) for path in files if path.is_file()}
    for path in files:
        parser = configparser.RawConfigParser()
        with contextlib.suppress(OSError, configparser.Error):
            parser.read(path)
            values += [
                (key, value) for section in parser.values() for key, value in section.items()
            ]
    for key, value in values:
        for token in value.split():
            local = _local(token)
            if local is None:
                continue
            # A local simple index keeps its files beside it, e.g. <root>/simple, <root>/files.
            paths.add(os.path.dirname(local) if "index" in key else local)
    return {path for path in paths if path != "/"}


def _local(token: str) -> str | None:
    if token.startswith("file:"):
        token = unquote(urlparse(token).path)
    if not token.startswith("/"):
        return None
    path = os.path.realpath(token)
    return path if os.path.exists(path) else None


def _refuse_unreachable_python(as_nobody: bool) -> None:
    """Unconfined, a root server runs pip as nobody, who must reach the Python
    environment; if it cannot, the install is refused rather than run as root."""
    if not as_nobody:
        return
    for path in [Path(os.path.realpath(sys.executable)), Path(os.path.realpath(sys.prefix))]:
        for part in [path, *path.parents]:
            if part.is_dir() and not part.stat().st_mode & stat.S_IXOTH:
                raise PackagesError(
                    f"pip_requirements cannot be installed safely: unconfined, the install "
                    f"runs as 'nobody', who cannot enter {part}; install bubblewrap "
                    "(apt-get install bubblewrap) or use a sandbox (ENGRAM_SANDBOX=auto)"
                )


async def _run(
    command: list[str],
    env: dict[str, str],
    cwd: Path | None,
    timeout: float,
    specs: list[str],
    allow_source_builds: bool,
    before_exec: Callable[[], None] | None = None,
) -> None:
    def confine() -> None:
        if before_exec is not None:
            before_exec()  # first: it opens files, and ends the child if it cannot confine
        cpu = max(int(timeout), 1)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_MB * 1024**2,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_OPEN_FILES,) * 2)

    child = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=confine,
    )
    wanted = ", ".join(specs)

    async def finish() -> bytes:
        stderr = await _tail(child.stderr)
        await child.wait()
        return stderr

    try:
        stderr = await asyncio.wait_for(finish(), timeout)
    except TimeoutError:
        raise PackagesError(f"installing {wanted} took over {timeout:.0f} s") from None
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        await child.wait()
    if child.returncode == 0:
        return
    text = stderr.decode(errors="replace")
    if before_exec is not None and child.returncode == confined.CONFINE_FAILED:
        log.error("an install's child could not confine itself: %s", text or "see above")
        raise PackagesError(
            f"the sandbox could not confine the install of {wanted}, so it did not run "
            "(see the server log)"
        )
    last = " ".join(text.strip().splitlines()[-3:]) or f"exit status {child.returncode}"
    message = f"pip could not install {wanted}: {last}"
    if not allow_source_builds and "No matching distribution" in text:
        message += (
            " (only wheels are installed: a requirement published only as a source "
            f"distribution needs {SOURCE_BUILDS_SETTING}=true, which runs its build code, "
            "confined, at install time)"
        )
    raise PackagesError(message)


async def _tail(stream: asyncio.StreamReader | None) -> bytes:
    """The last bytes of ``stream``: a build printing without end costs no memory."""
    kept = b""
    assert stream is not None
    while chunk := await stream.read(65536):
        kept = (kept + chunk)[-_STDERR_BYTES:]
    return kept


def _seal(tree: Path, *, own: bool) -> None:
    """Make ``tree`` the server's (``own``) and readable, not writable, by others. Every
    change goes through a descriptor opened without following links, so a link or a hard
    link the install planted cannot turn it onto a file elsewhere."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
    for _, _, files, dirfd in os.fwalk(tree, follow_symlinks=False):
        if own:
            os.fchown(dirfd, 0, 0)
        os.fchmod(dirfd, 0o755)
        for name in files:
            info = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode):
                os.unlink(name, dir_fd=dirfd)  # a FIFO, socket or device: nothing to import
                continue
            fd = os.open(name, flags, dir_fd=dirfd)
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                    raise PackagesError(f"the install left a hard link or special file: {name}")
                if own:
                    os.fchown(fd, 0, 0)
                os.fchmod(fd, 0o755 if info.st_mode & 0o111 else 0o644)
            finally:
                os.close(fd)
