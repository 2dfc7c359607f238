"""A seccomp filter for confined tool children: the system calls a tool never needs fail
with ``EPERM``, everything else runs.

Refused: tracing and reading other processes' memory, mounting and new namespaces (also
``clone`` with a namespace flag), kernel modules, kexec, BPF, perf, keyrings, userfaultfd,
io_uring, file-handle opens, swap, reboot, accounting, raw port I/O, the kernel log, and
``prlimit64`` on any process but the caller. ``clone3`` answers ``ENOSYS`` (its flags are
behind a pointer no filter can read), so the C library falls back to ``clone``. A call
from another architecture's ABI (x32, 32-bit) is refused too.

This is defence in depth: Landlock and the drop of every capability already stop most of
these. The filter exists for x86_64 and aarch64; elsewhere ``program`` returns ``None``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_BIT = 0x40000000

_DENIED = {
    "x86_64": {
        "ptrace": 101,
        "syslog": 103,
        "uselib": 134,
        "pivot_root": 155,
        "chroot": 161,
        "acct": 163,
        "mount": 165,
        "umount2": 166,
        "swapon": 167,
        "swapoff": 168,
        "reboot": 169,
        "iopl": 172,
        "ioperm": 173,
        "init_module": 175,
        "delete_module": 176,
        "quotactl": 179,
        "kexec_load": 246,
        "add_key": 248,
        "request_key": 249,
        "keyctl": 250,
        "unshare": 272,
        "perf_event_open": 298,
        "name_to_handle_at": 303,
        "open_by_handle_at": 304,
        "setns": 308,
        "process_vm_readv": 310,
        "process_vm_writev": 311,
        "finit_module": 313,
        "kexec_file_load": 320,
        "bpf": 321,
        "userfaultfd": 323,
    },
    "aarch64": {
        "umount2": 39,
        "mount": 40,
        "pivot_root": 41,
        "chroot": 51,
        "quotactl": 60,
        "acct": 89,
        "unshare": 97,
        "kexec_load": 104,
        "init_module": 105,
        "delete_module": 106,
        "syslog": 116,
        "ptrace": 117,
        "reboot": 142,
        "add_key": 217,
        "request_key": 218,
        "keyctl": 219,
        "swapon": 224,
        "swapoff": 225,
        "perf_event_open": 241,
        "name_to_handle_at": 264,
        "open_by_handle_at": 265,
        "setns": 268,
        "process_vm_readv": 270,
        "process_vm_writev": 271,
        "finit_module": 273,
        "bpf": 280,
        "userfaultfd": 282,
        "kexec_file_load": 294,
    },
}
# The same numbers on both: the calls added after the tables were unified.
_DENIED_COMMON = {
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
}
_CLONE = {"x86_64": 56, "aarch64": 220}
_PRLIMIT64 = {"x86_64": 302, "aarch64": 261}
_CLONE3 = 435
_NAMESPACE_FLAGS = 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
_NAMESPACE_FLAGS |= 0x00020000  # CLONE_NEWNS

_LD_ABS = 0x20
_JEQ = 0x15
_JGE = 0x35
_JSET = 0x45
_RET = 0x06
_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000
_NR, _ARCH_OFFSET, _ARG0 = 0, 4, 16

_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_libc = ctypes.CDLL(None, use_errno=True)


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes | None:
    """The filter for this machine's architecture, as the kernel reads it."""
    machine = machine or platform.machine()
    if machine not in _ARCH:
        return None
    eperm = _op(_RET, _ERRNO | errno.EPERM)
    ops = [_op(_LD_ABS, _ARCH_OFFSET), _op(_JEQ, _ARCH[machine], 1, 0)]
    ops += [_op(_RET, _KILL_PROCESS), _op(_LD_ABS, _NR)]
    if machine == "x86_64":
        ops += [_op(_JGE, _X32_BIT, 0, 1), eperm]
    for number in sorted({**_DENIED[machine], **_DENIED_COMMON}.values()):
        ops += [_op(_JEQ, number, 0, 1), eperm]
    ops += [_op(_JEQ, _CLONE3, 0, 1), _op(_RET, _ERRNO | errno.ENOSYS)]
    # clone with a namespace flag, and prlimit64 on another process: look at argument 0.
    ops += _refuse_if_arg0(_CLONE[machine], _NAMESPACE_FLAGS)
    ops += _refuse_if_arg0(_PRLIMIT64[machine], 0xFFFFFFFF)
    ops.append(_op(_RET, _ALLOW))
    return b"".join(ops)


def _refuse_if_arg0(number: int, bits: int) -> list[bytes]:
    """If the call is ``number`` and its first argument has any of ``bits``: ``EPERM``;
    if it is ``number`` without them: allowed. Otherwise on to the next check (the
    accumulator is reloaded with the call's number)."""
    return [
        _op(_JEQ, number, 0, 4),
        _op(_LD_ABS, _ARG0),
        _op(_JSET, bits, 0, 1),
        _op(_RET, _ERRNO | errno.EPERM),
        _op(_RET, _ALLOW),
        _op(_LD_ABS, _NR),
    ]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(filter_program: bytes) -> None:
    """Apply the filter to this process and all it starts (needs ``no_new_privs``)."""
    buffer = ctypes.create_string_buffer(filter_program, len(filter_program))
    prog = _Program(len(filter_program) // 8, ctypes.addressof(buffer))
    if _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) < 0:
        number = ctypes.get_errno()
        raise OSError(number, f"prctl(PR_SET_SECCOMP): {os.strerror(number)}")
