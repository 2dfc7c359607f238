"""What code inside the sandbox can see and do, as a source string it can run.

``OBSERVE`` defines ``observe()``: the user, the capabilities and ``no_new_privs`` from
``/proc/self/status``, and the errno of each privileged act it tries (0 when the act
succeeded): mounting a tmpfs, remounting ``/usr`` writable, making a device node, tracing
process 1, opening a raw socket, writing into ``/usr``. ``record(who)`` appends an
observation to a list on ``builtins``, so payloads that run during start-up or import can
be seen by the tool afterwards.
"""

from __future__ import annotations

OBSERVE = """
def observe():
    import ctypes, os, socket, stat
    status = open("/proc/self/status").read()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    libc = ctypes.CDLL(None, use_errno=True)

    def attempt(rc):
        return 0 if rc == 0 else ctypes.get_errno()

    seen = {
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "cap_eff": fields["CapEff"].strip(),
        "cap_prm": fields["CapPrm"].strip(),
        "no_new_privs": fields["NoNewPrivs"].strip(),
    }
    os.makedirs("/tmp/probe-mount", exist_ok=True)
    seen["mount"] = attempt(libc.mount(b"none", b"/tmp/probe-mount", b"tmpfs", 0, None))
    remount_bind = 32 | 4096  # MS_REMOUNT | MS_BIND, without MS_RDONLY: writable
    seen["remount_usr"] = attempt(libc.mount(None, b"/usr", None, remount_bind, None))
    node = stat.S_IFCHR | 0o666
    seen["mknod"] = attempt(libc.mknod(b"/tmp/probe-node", node, os.makedev(1, 3)))
    attach, detach = ctypes.c_long(16), ctypes.c_long(17)
    traced = libc.ptrace(attach, ctypes.c_long(1), None, None)
    seen["ptrace"] = attempt(traced)
    if traced == 0:
        os.waitpid(1, 0x40000000)  # __WALL: wait for the stop, or detaching fails
        libc.ptrace(detach, ctypes.c_long(1), None, None)
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
        seen["raw_socket"] = 0
    except OSError as exc:
        seen["raw_socket"] = exc.errno
    try:
        with open("/usr/engram-probe", "w"):
            pass
        os.unlink("/usr/engram-probe")
        seen["usr_write"] = 0
    except OSError as exc:
        seen["usr_write"] = exc.errno
    return seen


def record(who):
    import builtins
    log = builtins.__dict__.setdefault("_engram_probe_log", [])
    log.append({"who": who, **observe()})
"""
