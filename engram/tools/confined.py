"""The sandbox that needs no system package: a child that confines itself with the kernel's
own means between ``fork`` and ``exec``, before any Python of the tool's is read.

In order, in the forked child (``confine``):

1. new mount, IPC and (unless the call may use the network) network namespaces; as root
   directly, otherwise inside a new user namespace that maps only the server's own user;
2. a new, read-only root holding only read-only bind mounts of the system (``/usr``,
   ``/lib*``, ``/bin``, ``/sbin``, a few ``/etc`` files), the null and random devices, and
   a fresh tmpfs capped at ``ENGRAM_TOOL_TMP_MB`` as ``/tmp`` (the child's cwd, ``HOME``
   and ``TMPDIR``). ``/tmp/.engram`` lends, read-only, the Python install, Engram's package
   (the runner and ``engram_memory``), the tool's own packages, and the memory gateway's
   socket. A server running as root adds a ``/proc`` showing the child's own processes
   only. Nothing else of the host is there: no home, no data dir, no ``/run`` (Landlock up
   to ABI 7 does not govern ``connect`` on a Unix socket, so other services' sockets must
   be out of sight). The child enters it with ``chroot``;
3. a server running as root drops to ``nobody`` (the kernel clears every capability);
   otherwise the bounding set and every capability set are emptied;
4. ``no_new_privs``, then Landlock: read and execute on the system (``/usr``, ``/lib*``,
   ``/bin``, a few ``/etc`` files) and on ``/tmp/.engram``, read-write on ``/tmp``, the
   null and random devices, read on ``/proc``, nothing else; TCP bind
   and connect refused without network; signals and abstract sockets stopped at the
   domain's edge (ABI 6);
5. a seccomp filter refusing what a tool never needs (``ptrace``, ``mount``, new
   namespaces, kernel modules, BPF, ...), see ``seccomp``.

Then ``exec`` runs the interpreter from ``/tmp/.engram/python``; the resource limits are
applied last by ``sandbox._spawn``.

A ``pip install`` (``pip_install``) runs in the same confinement with two additions to the
plan: ``lends``, host paths shown read-only at their own paths (the server's Python
environment, whose links and ``pyvenv.cfg`` name them so, and the local folders and files
its pip settings name), and ``work``, the install's own folder, shown read-write at
``WORK`` and the child's working directory. It also keeps the network.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from engram.tools import landlock, linux, seccomp

NOBODY = 65534
INSIDE = "/tmp/.engram"
"""Where the child finds what Engram lends it, read-only, inside its private ``/tmp``."""
PYTHON = f"{INSIDE}/python"
ENGRAM = f"{INSIDE}/engram"
PACKAGES = f"{INSIDE}/packages"
MEMORY_SOCKET = f"{INSIDE}/memory.sock"
WORK = "/install"
"""Where a plan's ``work`` folder appears, read-write."""

ENGRAM_DIR = Path(__file__).resolve().parents[1]
"""Engram's own package, shown whole so the runner can import its helpers by path."""
CONFINE_FAILED = 125
"""Exit status of a child that could not confine itself; it ran nothing."""

_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC = ("resolv.conf", "hosts", "nsswitch.conf", "ld.so.cache", "localtime", "ssl")
_DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
_LAST_CAP = linux.last_capability()


@dataclass(frozen=True)
class ChildPlan:
    """Everything the forked child needs to confine itself, worked out in the parent so
    that the child only makes system calls."""

    staging: str
    """An empty directory (the parent's) the child builds its new root on."""
    tmp_mb: int
    network: bool
    user_namespace: bool
    abi: int
    python_prefix: str
    packages: str | None = None
    memory_socket: str | None = None
    seccomp_filter: bytes | None = field(default=None, repr=False)
    lends: tuple[str, ...] = ()
    """Host paths shown read-only at their own paths (see ``own_path_lends``)."""
    work: str | None = None
    """A host folder shown read-write at ``WORK``, which becomes the working directory."""


def plan_for(
    staging: str,
    *,
    tmp_mb: int,
    network: bool,
    packages: Path | None = None,
    memory_socket: str | None = None,
    lends: Iterable[str] = (),
    work: Path | None = None,
) -> ChildPlan:
    """The plan of one call's child, its new root built on the empty dir ``staging``.
    Raises ``ValueError`` for a lend that cannot be shown (see ``own_path_lends``)."""
    return ChildPlan(
        staging,
        tmp_mb,
        network,
        user_namespace=os.getuid() != 0,
        abi=_abi(),
        python_prefix=python_prefix(),
        packages=None if packages is None else str(packages),
        memory_socket=memory_socket,
        seccomp_filter=_seccomp_program(),
        lends=own_path_lends(lends),
        work=None if work is None else str(work),
    )


def own_path_lends(paths: Iterable[str]) -> tuple[str, ...]:
    """``paths`` as the child can be shown them at their own place: resolved, missing
    ones and those the system mounts already show (``/usr``, ``/etc/ssl``, ...) left out,
    one inside another shown once. A path that would cover or sit inside what the child
    is built from (``/``, ``/etc``, ``/tmp``, ``/proc``, ``/dev``, ``/tmp/.engram``,
    ``WORK``) raises ``ValueError``."""
    visible = (*_SYSTEM, *(f"/etc/{name}" for name in _ETC))
    kept: list[str] = []
    for path in sorted({os.path.realpath(path) for path in paths}):
        if not os.path.isabs(path) or not os.path.exists(path) or _under(path, visible):
            continue
        if path in ("/", "/etc", "/tmp") or _under(path, ("/proc", "/dev", INSIDE, WORK)):
            raise ValueError(f"{path} cannot be shown inside the sandbox")
        if not any(_under(path, (outer,)) for outer in kept):
            kept.append(path)
    return tuple(kept)


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


@cache
def _abi() -> int:
    return landlock.abi_version()


@cache
def _seccomp_program() -> bytes | None:
    return seccomp.program()


def python_prefix() -> str:
    return os.path.realpath(sys.base_prefix)


def python_binary() -> str:
    """The base interpreter: tools get the standard library, not the server's packages."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def inside_python() -> str:
    """The interpreter's path inside the sandbox."""
    return _inside(python_binary(), python_prefix(), PYTHON)


def command(runner: Path) -> list[str]:
    """The child's command line, as its paths are inside the sandbox."""
    return [inside_python(), "-I", _inside(os.path.realpath(runner), str(ENGRAM_DIR), ENGRAM)]


def client_file(client: Path) -> str:
    """Where Engram's ``engram_memory`` file is inside the sandbox; the runner loads it by
    this path, so no package of the tool's can stand in for it."""
    return _inside(os.path.realpath(client), str(ENGRAM_DIR), ENGRAM)


def extra_env() -> dict[str, str]:
    """An interpreter linked to its own ``libpython`` by an absolute run path (pyenv,
    ``/opt`` builds) finds it at its new place through the loader's search path."""
    prefix = python_prefix()
    if prefix != "/usr" and glob.glob(os.path.join(prefix, "lib", "libpython3*.so*")):
        return {"LD_LIBRARY_PATH": f"{PYTHON}/lib"}
    return {}


def _inside(path: str, host_root: str, inside_root: str) -> str:
    relative = os.path.relpath(path, host_root)
    if relative.startswith(".."):
        raise OSError(f"{path} is not under {host_root}: it cannot be shown to the sandbox")
    return f"{inside_root}/{relative}"


def confine(plan: ChildPlan) -> None:
    """Run in the forked child before ``exec``: confine it or end it. A failure is written
    to the child's stderr and the child exits with ``CONFINE_FAILED``, having run nothing."""
    try:
        _confine(plan)
    except BaseException as exc:  # nothing may run unconfined, whatever went wrong
        os.write(2, f"the sandbox could not confine the tool: {exc}\n".encode())
        os._exit(CONFINE_FAILED)


def _confine(plan: ChildPlan) -> None:
    flags = linux.CLONE_NEWNS | linux.CLONE_NEWIPC | (0 if plan.network else linux.CLONE_NEWNET)
    if plan.user_namespace:  # a server that is not root: it is the child's only user
        uid, gid = os.getuid(), os.getgid()
        linux.unshare(linux.CLONE_NEWUSER | flags)
        linux.map_user(uid, gid)
        _build_root(plan, _open_sources(plan))
        linux.drop_bounding_set(_LAST_CAP)
    else:  # root: namespaces and mounts first, then the drop to nobody
        linux.unshare(flags)
        # Opened as root: a source under /root stays reachable through its descriptor.
        _build_root(plan, _open_sources(plan))
        linux.drop_bounding_set(_LAST_CAP)
        linux.become(NOBODY, NOBODY)
    linux.clear_capabilities()
    linux.die_with_parent(signal.SIGKILL)
    os.chdir("/tmp" if plan.work is None else WORK)
    linux.no_new_privs()
    landlock.restrict_self(plan.abi, _rules(plan), deny_tcp=not plan.network)
    if plan.seccomp_filter is not None:
        seccomp.install(plan.seccomp_filter)


def _open_sources(plan: ChildPlan) -> dict[str, int]:
    """What ``/tmp/.engram`` lends, by name, then the lends at their own paths and the
    work folder, by path, as ``O_PATH`` descriptors."""
    paths = {"python": plan.python_prefix, "engram": str(ENGRAM_DIR)}
    if plan.packages is not None:
        paths["packages"] = plan.packages
    if plan.memory_socket is not None:
        paths["memory.sock"] = plan.memory_socket
    paths |= {path: path for path in plan.lends}
    if plan.work is not None:
        paths[WORK] = plan.work
    return {name: os.open(path, os.O_PATH | os.O_CLOEXEC) for name, path in paths.items()}


def _build_root(plan: ChildPlan, sources: dict[str, int]) -> None:
    """Make the new root on ``plan.staging`` and move into it."""
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    root = plan.staging
    linux.mount("tmpfs", root, "tmpfs", _QUIET, "size=1m,nr_inodes=4096,mode=0755")
    for path in _SYSTEM:
        _lend(path, root + path, keep_symlink=True)
    _mkdir(f"{root}/etc")
    for name in _ETC:  # the file itself: resolv.conf may point into /run, which is absent
        _lend(os.path.realpath(f"/etc/{name}"), f"{root}/etc/{name}")
    _mkdir(f"{root}/dev")
    for path in _DEVICES:
        if os.path.exists(path):
            _touch(root + path)
            linux.mount(path, root + path, None, linux.MS_BIND)
    os.symlink("/tmp", f"{root}/dev/shm")  # POSIX shared memory and semaphores
    if not plan.user_namespace:
        _mount_own_proc(f"{root}/proc")
    _mkdir(f"{root}/tmp")
    inodes = max(1024, plan.tmp_mb * 256)
    options = f"size={plan.tmp_mb}m,nr_inodes={inodes},mode=1777"
    linux.mount("tmpfs", f"{root}/tmp", "tmpfs", _QUIET, options)
    _mkdir(f"{root}{INSIDE}")
    for name, fd in sources.items():
        source, target = f"/proc/self/fd/{fd}", f"{root}{INSIDE}/{name}"
        if name.startswith("/"):  # a lend at its own path, or the work folder
            _show_at_own_path(source, fd, root + name, writable=name == WORK)
        elif name == "memory.sock":
            # A path-bound Unix socket reaches the server from any network namespace.
            _touch(target)
            linux.mount(source, target, None, linux.MS_BIND)
        else:
            _mkdir(target)
            linux.bind_read_only(source, target)
        os.close(fd)
    linux.mount(None, root, None, linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | _QUIET)
    # chroot rather than pivot_root: detaching the old root waits for an RCU grace period
    # (milliseconds a call), and the way out of a chroot needs a capability, an open
    # directory or /proc, none of which the child keeps (seccomp refuses chroot as well).
    os.chdir(root)
    os.chroot(".")
    os.chdir("/")


_QUIET = linux.MS_NOSUID | linux.MS_NODEV


def _mount_own_proc(target: str) -> None:
    """A /proc showing only the processes the child may trace, its own (``invisible``:
    not the server's, not another call's, whose Landlock domains differ) and none of the
    system's files (``subset=pid``). Root only: in a user namespace the kernel allows no
    procfs without a PID namespace of its own. Left out on kernels before 5.8."""
    _mkdir(target)
    try:
        linux.mount("proc", target, "proc", _QUIET | linux.MS_NOEXEC, _PROC_OPTIONS)
    except OSError:
        os.rmdir(target)


_PROC_OPTIONS = "hidepid=invisible,subset=pid"


def _show_at_own_path(source: str, fd: int, target: str, *, writable: bool) -> None:
    """``source`` at ``target``, its missing parents made 0755 (``nobody`` must pass)."""
    parent = os.path.dirname(target)
    missing = []
    while not os.path.lexists(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for path in reversed(missing):
        _mkdir(path)
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        _mkdir(target)
    else:
        _touch(target)
    if writable:  # not recursive: nothing mounted under the work folder comes along
        linux.mount(source, target, None, linux.MS_BIND)
    else:
        linux.bind_read_only(source, target)


def _lend(source: str, target: str, *, keep_symlink: bool = False) -> None:
    """``source`` at ``target`` read-only: a directory or file bound, a symlink copied."""
    if keep_symlink and os.path.islink(source):
        os.symlink(os.readlink(source), target)
    elif os.path.isdir(source):
        _mkdir(target)
        linux.bind_read_only(source, target)
    elif os.path.exists(source):
        _touch(target)
        linux.bind_read_only(source, target)


def _touch(path: str) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def _mkdir(path: str) -> None:
    os.mkdir(path)
    os.chmod(path, 0o755)


def _rules(plan: ChildPlan) -> list[landlock.Rule]:
    rules = [landlock.Rule(path, landlock.READ) for path in _SYSTEM]
    rules += [landlock.Rule(f"/etc/{name}", landlock.READ) for name in _ETC]
    rules += [landlock.Rule(path, landlock.DEVICE) for path in _DEVICES]
    rules.append(landlock.Rule("/proc", landlock.READ_FILE | landlock.READ_DIR))
    rules.append(landlock.Rule("/tmp", landlock.SCRATCH))
    rules.append(landlock.Rule(INSIDE, landlock.READ))
    rules += [landlock.Rule(path, landlock.READ) for path in plan.lends]
    if plan.work is not None:
        # A build may run what it installs into its own folder (a build tool's script).
        rules.append(landlock.Rule(WORK, landlock.SCRATCH | landlock.EXECUTE))
    return rules


# --- Is this confinement available here? ---------------------------------------------


@dataclass(frozen=True)
class Support:
    """Whether this kernel can confine a child so, how (with a user namespace or not),
    and if not, why."""

    available: bool
    reason: str
    abi: int = 0
    user_namespace: bool = False


def probe(tmp_mb: int = 8) -> Support:
    """Confine a real child that starts the interpreter and exits: the only honest test
    of namespaces, mounts and Landlock on this machine. Root needs no user namespace (it
    drops to nobody after the mounts); any other user needs one."""
    abi = landlock.abi_version()
    if abi == 0:
        return Support(
            False,
            "the kernel offers no Landlock (Linux 5.13+ with 'landlock' "
            "in its lsm= list is needed)",
        )
    if os.getuid() != 0 and abi < 6:
        return Support(
            False,
            f"Landlock ABI {abi} cannot stop a tool signalling the server, which runs as the "
            "same user (ABI 6, Linux 6.12+, is needed; or run the server as root)",
            abi,
        )
    user_namespace = os.getuid() != 0
    failure = _trial(tmp_mb)
    if failure is not None:
        return Support(False, failure, abi, user_namespace)
    how = "a user namespace" if user_namespace else "namespaces made as root, then 'nobody'"
    return Support(True, f"Landlock ABI {abi} with {how}", abi, user_namespace)


def _trial(tmp_mb: int) -> str | None:
    try:
        staging = tempfile.mkdtemp(prefix="engram-probe-")
    except OSError as exc:
        return f"no temporary directory to build the sandbox on: {exc}"
    try:
        plan = plan_for(staging, tmp_mb=tmp_mb, network=False)
        done = subprocess.run(
            [inside_python(), "-I", "-S", "-c", "pass"],
            env={"PATH": "/usr/bin:/bin", **extra_env()},
            cwd=staging,
            preexec_fn=lambda: confine(plan),
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if done.returncode == 0:
        return None
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"the confined child exited with status {done.returncode}"
