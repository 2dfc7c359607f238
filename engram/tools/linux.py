"""The few Linux calls a confined child makes on itself, through ``ctypes``: namespaces,
mounts, user-id maps, capabilities and ``prctl``.

Python 3.11 has no ``os.unshare`` and no ``mount``; glibc has both. Everything here is
called between ``fork`` and ``exec``, so nothing is imported or resolved lazily, and every
failure raises ``OSError`` naming the call.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21

# statvfs f_flag bits and the mount flags they stand for: a read-only remount of a bind
# must keep the flags the original mount has (the kernel locks them in a user namespace).
_KEPT_FLAGS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}

_PR_SET_PDEATHSIG = 1
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAPABILITY_VERSION_3 = 0x20080522


def _check(result: int, call: str) -> None:
    if result < 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{call}: {os.strerror(number)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _libc.mount(
            None if source is None else source.encode(),
            target.encode(),
            None if fstype is None else fstype.encode(),
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def bind_read_only(source: str, target: str) -> None:
    """Show ``source`` at ``target``, read-only, keeping the source mount's own flags."""
    mount(source, target, None, MS_BIND | MS_REC)
    kept = MS_NOSUID | MS_NODEV
    flags = os.statvfs(target).f_flag
    for bit, mount_flag in _KEPT_FLAGS.items():
        if flags & bit:
            kept |= mount_flag
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def map_user(uid: int, gid: int) -> None:
    """In a fresh user namespace, be ``uid``/``gid`` there as outside; no other id exists.
    Only a process that never changed user may write its own maps."""
    _write("/proc/self/setgroups", b"deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1".encode())
    _write("/proc/self/gid_map", f"{gid} {gid} 1".encode())


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def become(uid: int, gid: int) -> None:
    """Drop from root to ``uid``: the kernel then clears every capability."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def last_capability() -> int:
    """The highest capability number this kernel knows (read once, before any fork)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as file:
            return int(file.read())
    except (OSError, ValueError):
        return 40


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_bounding_set(last_cap: int) -> None:
    """Empty the bounding set, so no exec can ever regain a capability; needs
    CAP_SETPCAP, so before the capabilities themselves go."""
    for cap in range(last_cap + 1):
        _check(_libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0), "prctl(PR_CAPBSET_DROP)")


def clear_capabilities() -> None:
    """No capability left in the ambient, effective, permitted or inheritable sets."""
    _check(
        _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl(PR_CAP_AMBIENT)"
    )
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def no_new_privs() -> None:
    """No exec can ever grant privileges again (setuid bits, file capabilities)."""
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def die_with_parent(signal_number: int) -> None:
    """Receive ``signal_number`` when the parent dies; cleared by a change of user, so
    set after it."""
    _check(_libc.prctl(_PR_SET_PDEATHSIG, signal_number, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
