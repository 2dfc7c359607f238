"""Landlock, the kernel's unprivileged access control, called directly through ``ctypes``.

A process restricts itself with a ruleset: the kinds of access it handles (everything the
running kernel knows about), and for each allowed file hierarchy the accesses allowed
beneath it. Whatever the ruleset handles and no rule allows is refused, to the process and
all it starts, for good; root inside the domain is bound as well. ABI 4 adds TCP bind and
connect, ABI 6 scoping: no signal and no abstract Unix socket reaches a process outside
the domain (the server, say).

The syscall numbers are the generic ones, the same on x86_64 and aarch64. Everything here
is safe to call between ``fork`` and ``exec``: nothing is imported or looked up lazily.
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long

_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1

# Filesystem accesses (include/uapi/linux/landlock.h).
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5

# Network accesses (ABI 4) and scopes (ABI 6).
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

READ = EXECUTE | READ_FILE | READ_DIR
"""What the system and the installs are opened with: look, load and run, nothing else."""
SCRATCH = (
    READ_FILE
    | READ_DIR
    | WRITE_FILE
    | REMOVE_DIR
    | REMOVE_FILE
    | MAKE_DIR
    | MAKE_REG
    | MAKE_SOCK
    | MAKE_FIFO
    | MAKE_SYM
    | REFER
    | TRUNCATE
)
"""A call's own scratch: everything but running files from it and making device nodes."""
DEVICE = READ_FILE | WRITE_FILE | IOCTL_DEV
"""``/dev/null`` and the random devices."""
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
"""The accesses a rule on a single file (not a directory) may carry."""


class LandlockError(OSError):
    """A Landlock call failed; the message names the step."""


def abi_version() -> int:
    """The Landlock ABI the running kernel offers, 0 when it offers none (too old, or
    Landlock missing from the kernel's ``lsm=`` list)."""
    version = _syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(version), 0)


def handled_fs(abi: int) -> int:
    """Every filesystem access the kernel at ``abi`` can refuse."""
    handled = (MAKE_SYM << 1) - 1
    if abi >= 2:
        handled |= REFER
    if abi >= 3:
        handled |= TRUNCATE
    if abi >= 5:
        handled |= IOCTL_DEV
    return handled


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@dataclass(frozen=True)
class Rule:
    """``access`` allowed on ``path`` and, for a directory, everything beneath it."""

    path: str
    access: int


def restrict_self(abi: int, rules: Iterable[Rule], *, deny_tcp: bool) -> None:
    """Confine this process (and all it starts) to ``rules``: every other filesystem
    access is refused; with ``deny_tcp`` (ABI 4) every TCP bind and connect; from ABI 6 on,
    signals and abstract Unix sockets stop at the domain's edge. A missing path is skipped.

    Needs ``no_new_privs`` first. Raises ``LandlockError`` naming the failed step."""
    fs = handled_fs(abi)
    attr = _RulesetAttr(handled_access_fs=fs)
    size = 8
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP if deny_tcp else 0
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET
        size = 24
    ruleset = _syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        _fail("landlock_create_ruleset")
    try:
        for rule in rules:
            _add_path_rule(int(ruleset), rule, fs)
        if _syscall(_SYS_RESTRICT_SELF, int(ruleset), 0) < 0:
            _fail("landlock_restrict_self")
    finally:
        os.close(int(ruleset))


def _add_path_rule(ruleset: int, rule: Rule, handled: int) -> None:
    try:
        fd = os.open(rule.path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        access = rule.access & handled
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= _FILE_ONLY
        beneath = _PathBeneath(allowed_access=access, parent_fd=fd)
        added = _syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(beneath), 0)
        if added < 0:
            _fail(f"landlock_add_rule on {rule.path}")
    finally:
        os.close(fd)


def _fail(step: str) -> None:
    number = ctypes.get_errno()
    raise LandlockError(number, f"{step}: {os.strerror(number)}")
