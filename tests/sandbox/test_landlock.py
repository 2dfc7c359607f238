"""Attacks on the Landlock sandbox, the one a machine without bubblewrap gets.

Each attack must fail under ``ENGRAM_SANDBOX=landlock`` while ordinary tools and memory
access keep working. The mode is forced by the setting, so these tests mean the same with
and without bubblewrap installed; they are skipped only where the kernel offers no Landlock
or namespaces. Targets a tool must not reach are made readable (or writable) by everyone
on disk, so that the sandbox, not file permissions, is what stops it; where that matters
the same attack is shown to succeed unconfined.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engram.config import Settings
from engram.tools import confined
from engram.tools.confinement import UNCONFINED, sandbox_in_force
from engram.tools.sandbox import SandboxLimits, ToolRun, run_tool
from tests.api.conftest import MODEL, create_tool
from tests.fakes.fake_llm import FakeLLM
from tests.support.server import EngramServer, serving

SUPPORT = confined.probe()
pytestmark = pytest.mark.skipif(
    not SUPPORT.available, reason=f"no Landlock sandbox on this kernel: {SUPPORT.reason}"
)
LANDLOCK = sandbox_in_force(Settings(sandbox="landlock"))
FAST = SandboxLimits(timeout_seconds=15, cpu_seconds=2, memory_mb=256, output_bytes=100_000)
SECRET = "sk-landlock-test-secret"

ATTEMPT = '''
def attempt(action: str, target: str = "", number: int = 0) -> str:
    """Try one thing a confined tool must not do; say what happened."""
    import ctypes, os, socket
    libc = ctypes.CDLL(None, use_errno=True)
    def refused(what):
        return f"refused: {what}: {os.strerror(ctypes.get_errno())}"
    try:
        if action == "read":
            with open(target, "rb") as file:
                return "READ " + file.read(4000).decode(errors="replace")
        if action == "list":
            return "LISTED " + ",".join(sorted(os.listdir(target)))
        if action == "write":
            with open(target, "w") as file:
                file.write("owned")
            return "WROTE"
        if action == "kill":
            os.kill(number, 9)
            return "KILLED"
        if action == "connect":
            socket.create_connection(("127.0.0.1", number), timeout=2).close()
            return "CONNECTED"
        if action == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(target)
            return "CONNECTED " + sock.recv(100).decode()
        if action == "udp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.sendto(b"x", ("127.0.0.1", number))
            return "SENT"
        if action == "ptrace":
            return "ATTACHED" if libc.ptrace(16, number, 0, 0) == 0 else refused("ptrace")
        if action == "mount":
            done = libc.mount(b"none", target.encode(), b"tmpfs", 0, None)
            return "MOUNTED" if done == 0 else refused("mount")
        if action == "chroot":
            os.mkdir("/tmp/jail")
            os.chroot("/tmp/jail")
            return "CHROOTED"
        if action == "unshare":
            return "UNSHARED" if libc.unshare(0x10000000) == 0 else refused("unshare")
    except OSError as exc:
        return f"refused: {type(exc).__name__}: {exc}"
    raise ValueError(action)
'''


def call(source: str, name: str, args: dict[str, Any] | None = None, **kwargs: Any) -> ToolRun:
    kwargs.setdefault("limits", FAST)
    kwargs.setdefault("sandbox", LANDLOCK)
    return asyncio.run(run_tool(source, name, args or {}, **kwargs))


def attempt(action: str, target: str = "", number: int = 0, **kwargs: Any) -> str:
    run = call(ATTEMPT, "attempt", {"action": action, "target": target, "number": number}, **kwargs)
    assert run.ok, run
    return str(run.result)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory outside /tmp that everyone may read and write, as a careless data dir."""
    path = Path(tempfile.mkdtemp(prefix="engram-landlock-", dir="/var/tmp"))
    path.chmod(0o1777)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    """A process of the user tools run as: only the sandbox keeps a tool from it."""
    user = confined.NOBODY if os.getuid() == 0 else None
    process = subprocess.Popen(["sleep", "60"], user=user)
    yield process
    process.kill()
    process.wait()


def test_the_setting_forces_landlock() -> None:
    assert LANDLOCK.name == "landlock"
    run = call("def who():\n    return 'me'\n", "who")
    assert run.ok and run.result == "me" and run.sandboxed


def test_an_ordinary_tool_computes_prints_and_uses_its_tmp() -> None:
    source = (
        "def work(numbers: list) -> dict:\n"
        "    import json, math, os, subprocess, tempfile\n"
        "    print('working')\n"
        "    with open('scratch.json', 'w') as f:\n"
        "        json.dump(numbers, f)\n"
        "    with tempfile.NamedTemporaryFile('w', delete=False) as f:\n"
        "        f.write('x')\n"
        "    echoed = subprocess.run(['echo', 'hi'], capture_output=True, text=True).stdout\n"
        "    return {'sqrt': math.sqrt(sum(numbers)), 'cwd': os.getcwd(),\n"
        "            'home': os.environ['HOME'], 'read': json.load(open('scratch.json')),\n"
        "            'tmp': os.path.dirname(f.name), 'echo': echoed}\n"
    )
    run = call(source, "work", {"numbers": [9, 16]})
    assert run.ok, run
    assert run.result == {
        "sqrt": 5.0,
        "cwd": "/tmp",
        "home": "/tmp",
        "read": [9, 16],
        "tmp": "/tmp",
        "echo": "hi\n",
    }
    assert run.stdout == "working\n"


def test_threads_processes_sqlite_and_tls_setup_work() -> None:
    source = (
        "def everyday() -> dict:\n"
        "    import concurrent.futures, multiprocessing, socket, sqlite3, ssl\n"
        "    with concurrent.futures.ThreadPoolExecutor(4) as pool:\n"
        "        squares = list(pool.map(lambda x: x * x, range(4)))\n"
        "    with multiprocessing.Pool(2) as pool:\n"
        "        absolute = pool.map(abs, [-1, -2])\n"
        "    db = sqlite3.connect('/tmp/own.db')\n"
        "    db.execute('create table t (x)')\n"
        "    ssl.create_default_context()\n"
        "    one = db.execute('select 1').fetchone()\n"
        "    return {'squares': squares, 'abs': absolute, 'sqlite': one,\n"
        "            'localhost': socket.gethostbyname('localhost')}\n"
    )
    run = call(source, "everyday")
    assert run.ok, run
    assert run.result == {
        "squares": [0, 1, 4, 9],
        "abs": [1, 2],
        "localhost": "127.0.0.1",
        "sqlite": [1],
    }


def test_the_child_is_unprivileged_with_no_capabilities_and_a_read_only_system() -> None:
    source = """
def inspect() -> dict:
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    libc.capget(header, data)
    try:
        open("/usr/owned", "w")
        usr = "writable"
    except OSError as exc:
        usr = type(exc).__name__
    try:
        status = [line for line in open("/proc/self/status") if line.startswith("CapEff")]
    except OSError:
        status = []
    return {"ids": [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()], "status": status,
            "caps": list(data), "no_new_privs": libc.prctl(39, 0, 0, 0, 0),
            "seccomp": libc.prctl(21, 0, 0, 0, 0), "usr": usr}
"""
    run = call(source, "inspect")
    assert run.ok, run
    uid = confined.NOBODY if os.getuid() == 0 else os.getuid()
    gid = confined.NOBODY if os.getuid() == 0 else os.getgid()
    assert run.result["ids"] == [uid, uid, gid, []]
    assert run.result["caps"] == [0] * 6  # effective, permitted, inheritable: nothing
    assert run.result["no_new_privs"] == 1
    assert run.result["seccomp"] == 2  # a filter is installed
    assert run.result["usr"] in ("PermissionError", "OSError")
    if os.getuid() == 0:  # the child's own /proc tells the same
        assert run.result["status"] == ["CapEff:\t0000000000000000\n"]
    assert not Path("/usr/owned").exists()


def test_the_servers_environment_cannot_be_read_through_proc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server = os.getpid()
    for target in (f"/proc/{server}/environ", f"/proc/{server}/cmdline", "/proc/1/environ"):
        outcome = attempt("read", target)
        assert outcome.startswith("refused"), (target, outcome)
        assert SECRET not in outcome
    # A server running as root gives the child a /proc of its own processes only; one
    # that is not root gives it none.
    listing = attempt("list", "/proc")
    if not listing.startswith("refused"):
        entries = listing.removeprefix("LISTED ").split(",")
        assert str(server) not in entries and "1" not in entries
        assert len([entry for entry in entries if entry.isdigit()]) == 1, entries


def test_a_database_readable_by_everyone_is_out_of_reach(open_dir: Path) -> None:
    database = open_dir / "engram.db"
    with sqlite3.connect(database) as db:
        db.execute("create table secrets (value text)")
        db.execute("insert into secrets values (?)", (SECRET,))
    database.chmod(0o644)

    unconfined = attempt("read", str(database), sandbox=UNCONFINED)
    assert unconfined.startswith("READ SQLite format 3")  # the attack is real
    for action, target in (("read", database), ("list", open_dir)):
        outcome = attempt(action, str(target))
        assert outcome.startswith("refused"), (action, outcome)
        assert SECRET not in outcome


def test_other_agents_files_and_the_home_are_out_of_reach(open_dir: Path) -> None:
    other = open_dir / "other-agent"
    other.mkdir(mode=0o755)
    (other / "notes.txt").write_text(SECRET)
    (other / "notes.txt").chmod(0o644)
    for action, target in (
        ("read", other / "notes.txt"),
        ("list", other),
        ("list", Path.home()),
        ("list", Path(__file__).resolve().parents[2]),  # the repository
        ("read", Path("/etc/passwd")),
    ):
        outcome = attempt(action, str(target))
        assert outcome.startswith("refused"), (target, outcome)
        assert SECRET not in outcome


def test_calls_do_not_see_each_others_tmp() -> None:
    writer = (
        "def write() -> str:\n"
        "    import time\n"
        "    open('/tmp/mine.txt', 'w').write('secret')\n"
        "    time.sleep(3)\n"
        "    return 'done'\n"
    )

    async def both() -> tuple[ToolRun, ToolRun]:
        first = asyncio.ensure_future(run_tool(writer, "write", {}, limits=FAST, sandbox=LANDLOCK))
        await asyncio.sleep(1.5)
        second = await run_tool(
            ATTEMPT, "attempt", {"action": "list", "target": "/tmp"}, limits=FAST, sandbox=LANDLOCK
        )
        return await first, second

    first, second = asyncio.run(both())
    assert first.ok and first.result == "done"
    assert second.ok and second.result == "LISTED .engram", second


def test_nothing_outside_its_tmp_is_writable(open_dir: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    assert attempt("write", str(open_dir / "by-unconfined"), sandbox=UNCONFINED) == "WROTE"
    for target in (
        open_dir / "x",
        repo / "owned.txt",
        Path("/usr/owned"),
        Path("/etc/owned"),
        Path("/owned"),
        Path(confined.ENGRAM) / "owned",
    ):
        outcome = attempt("write", str(target))
        assert outcome.startswith("refused"), (target, outcome)
        assert not target.exists()
    assert attempt("write", "/tmp/fine.txt") == "WROTE"


def test_the_tools_packages_are_importable_and_read_only(open_dir: Path) -> None:
    packages = open_dir / "packages"
    packages.mkdir(mode=0o755)
    (packages / "greeting.py").write_text("WORD = 'hello'\n")
    (packages / "greeting.py").chmod(0o644)
    source = (
        "def greet() -> dict:\n"
        "    import greeting\n"
        "    try:\n"
        "        open(greeting.__file__, 'a').write('owned')\n"
        "        written = True\n"
        "    except OSError:\n"
        "        written = False\n"
        "    return {'word': greeting.WORD, 'written': written}\n"
    )
    run = call(source, "greet", packages=packages)
    assert run.ok, run
    assert run.result == {"word": "hello", "written": False}
    assert (packages / "greeting.py").read_text() == "WORD = 'hello'\n"


def test_a_full_tmp_answers_no_space_and_the_cap_is_the_setting() -> None:
    source = (
        "def fill() -> str:\n"
        "    import errno\n"
        "    try:\n"
        "        for n in range(64):\n"
        "            with open(f'/tmp/part{n}', 'wb') as f:\n"
        "                f.write(b'x' * 1_000_000)\n"
        "    except OSError as exc:\n"
        "        return errno.errorcode[exc.errno]\n"
        "    return 'filled'\n"
    )
    limits = SandboxLimits(timeout_seconds=15, cpu_seconds=5, output_bytes=100_000, tmp_mb=8)
    run = call(source, "fill", limits=limits)
    assert run.ok and run.result == "ENOSPC", run
    assert call(source, "fill", limits=SandboxLimits(tmp_mb=128)).result == "filled"


def test_no_network_unless_the_call_allows_it() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        closed = attempt("connect", number=port)
        udp = attempt("udp", number=port)
        opened = attempt("connect", number=port, network=True)
    finally:
        listener.close()
    assert closed.startswith("refused"), closed
    assert udp.startswith("refused"), udp
    assert opened == "CONNECTED"


def test_other_services_unix_sockets_are_out_of_sight(open_dir: Path) -> None:
    # Landlock (up to ABI 7) does not govern connect() on a Unix socket: the sandbox's own
    # root, without /run or anything else of the host's, is what keeps these away.
    run_dir = Path(tempfile.mkdtemp(prefix="engram-landlock-", dir="/run"))
    run_dir.chmod(0o755)
    servers = []
    try:
        for folder in (run_dir, open_dir):
            path = str(folder / "service.sock")
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(path)
            os.chmod(path, 0o666)
            server.listen()
            servers.append((server, path))
        for _, path in servers:
            outcome = attempt("unix", path)
            assert outcome.startswith("refused: FileNotFoundError"), (path, outcome)
    finally:
        for server, _ in servers:
            server.close()
        subprocess.run(["rm", "-rf", str(run_dir)], check=False)


def test_the_root_holds_only_the_system_and_tmp() -> None:
    source = (
        "def look() -> dict:\n"
        "    import os\n"
        "    return {p: os.path.lexists(p) for p in ('/usr', '/etc/passwd', '/proc/self',\n"
        "            '/home', '/root', '/run', '/var', '/sys', '/work', '/dev/null')}\n"
    )
    run = call(source, "look")
    assert run.ok, run
    own_proc = ["/proc/self"] if os.getuid() == 0 else []
    assert [path for path, there in run.result.items() if there] == ["/usr", *own_proc, "/dev/null"]


def test_a_tool_cannot_signal_the_server_or_a_process_of_its_own_user(
    victim: subprocess.Popen[bytes],
) -> None:
    if SUPPORT.abi < 6:
        pytest.skip(f"Landlock ABI {SUPPORT.abi} cannot scope signals (ABI 6 can)")
    for pid in (os.getpid(), victim.pid):
        outcome = attempt("kill", number=pid)
        assert outcome.startswith("refused: PermissionError"), outcome
    assert victim.poll() is None


def test_ptrace_mount_and_new_namespaces_are_refused(victim: subprocess.Popen[bytes]) -> None:
    for pid in (os.getpid(), victim.pid):
        assert attempt("ptrace", number=pid).startswith("refused: ptrace"), pid
    assert attempt("mount", "/tmp").startswith("refused: mount")
    assert attempt("unshare").startswith("refused: unshare")
    assert attempt("chroot").startswith("refused: PermissionError")
    assert victim.poll() is None


UNPRIVILEGED_SERVER = r"""
import json, os, subprocess, sys, tempfile
sys.path.insert(0, sys.argv[1])
from engram.tools import confined

TOOL = '''
import ctypes, json, os, resource
libc = ctypes.CDLL(None, use_errno=True)
sibling = int(os.environ["SIBLING"])
def outcome(action):
    try:
        action()
        return "done"
    except OSError as exc:
        return type(exc).__name__
header = (ctypes.c_uint32 * 2)(0x20080522, 0)
caps = (ctypes.c_uint32 * 6)()
libc.capget(header, caps)
print(json.dumps({
    "uid": os.getuid(),
    "caps": list(caps),
    "kill_server": outcome(lambda: os.kill(int(os.environ["SERVER"]), 0)),
    "kill_sibling": outcome(lambda: os.kill(sibling, 9)),
    "ptrace_sibling": libc.ptrace(16, sibling, 0, 0),
    "prlimit_sibling": outcome(lambda: resource.prlimit(sibling, resource.RLIMIT_NOFILE, (1, 1))),
    "root": outcome(lambda: os.listdir("/")),
}))
'''
support = confined.probe()
if not support.available:
    print(json.dumps({"unavailable": support.reason}))
    sys.exit(0)
sibling = subprocess.Popen(["sleep", "30"])
staging = tempfile.mkdtemp(prefix="engram-unprivileged-")
plan = confined.plan_for(staging, tmp_mb=8, network=False)
env = {"SERVER": str(os.getpid()), "SIBLING": str(sibling.pid), **confined.extra_env()}
done = subprocess.run(
    [confined.inside_python(), "-I", "-c", TOOL], env=env, capture_output=True, text=True,
    preexec_fn=lambda: confined.confine(plan),
)
result = json.loads(done.stdout or "{}")
result["sibling_alive"] = sibling.poll() is None
result["user_namespace"] = support.user_namespace
sibling.kill()
os.rmdir(staging)
print(json.dumps(result))
"""


def _python_for_nobody(repo: str) -> str | None:
    """A system interpreter the unprivileged user can run and import this checkout's
    ``engram.tools.confined`` with (the test's own interpreter may sit under /root)."""
    check = f"import sys; sys.path.insert(0, {repo!r}); import engram.tools.confined"
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if not os.path.exists(candidate):
            continue
        done = subprocess.run(
            [candidate, "-c", check],
            user=confined.NOBODY,
            capture_output=True,
        )
        if done.returncode == 0:
            return candidate
    return None


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to start an unprivileged 'server'")
def test_a_server_that_is_not_root_confines_tools_in_a_user_namespace() -> None:
    repo = str(Path(__file__).resolve().parents[2])
    python = _python_for_nobody(repo)
    if python is None:
        pytest.skip("no Python interpreter with which 'nobody' can import this checkout")
    done = subprocess.run(
        [python, "-c", UNPRIVILEGED_SERVER, repo],
        user=confined.NOBODY,
        group=confined.NOBODY,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    if "unavailable" in result:
        pytest.skip(f"no Landlock sandbox for an unprivileged user: {result['unavailable']}")
    assert result["user_namespace"] is True
    assert result["uid"] == confined.NOBODY  # the server's own user, mapped to itself
    assert result["caps"] == [0] * 6
    # The same user: only the sandbox (Landlock's scoping and ptrace rule, seccomp) stops these.
    assert result["kill_server"] == "PermissionError"
    assert result["kill_sibling"] == "PermissionError"
    assert result["ptrace_sibling"] == -1
    assert result["prlimit_sibling"] == "PermissionError"
    assert result["root"] == "PermissionError"
    assert result["sibling_alive"] is True


def test_a_fork_bomb_is_contained() -> None:
    source = "def bomb():\n    import os\n    while True:\n        os.fork()\n"
    run = call(source, "bomb")
    assert not run.ok
    assert "BlockingIOError" in (run.error or "") or "stopped" in (run.error or ""), run


# --- Through a real server -------------------------------------------------------------

REMEMBER = '''
def remember(fact: str) -> dict:
    """Write to the agent's memory.

    Args:
        fact: What to keep.
    """
    from engram_memory import memory
    memory.append_block("human", fact)
    stored = memory.archival_insert(fact)
    return {"human": memory.get_block("human")["value"], "stored": stored["id"]}
'''


def run_direct(http: httpx.Client, source: str, args: dict[str, Any]) -> httpx.Response:
    return http.post("/v1/tools/run", json={"source_code": source, "args": args})


@pytest.fixture(scope="module")
def landlocked(fake_llm_server: FakeLLM) -> Iterator[EngramServer]:
    """A server forced to Landlock, its data dir outside /tmp and readable by everyone."""
    data = Path(tempfile.mkdtemp(prefix="engram-landlock-data-", dir="/var/tmp"))
    data.chmod(0o755)
    env = {"ENGRAM_SANDBOX": "landlock", "OPENAI_API_KEY": SECRET}
    with serving(data, fake_llm_server.base_url, env) as server:
        (data / "engram.db").chmod(0o644)
        yield server
    subprocess.run(["rm", "-rf", str(data)], check=False)


def test_health_names_the_sandbox_in_force(landlocked: EngramServer) -> None:
    with landlocked.client() as http:
        health = http.get("/v1/health/").json()
    assert health["status"] == "ok" and health["sandbox"] == "landlock"


def test_a_tool_cannot_read_the_servers_keys_or_database_nor_kill_it(
    landlocked: EngramServer, fake_llm: FakeLLM
) -> None:
    assert landlocked.process is not None
    server_pid = landlocked.process.pid
    attempts = [
        {"action": "read", "target": f"/proc/{server_pid}/environ"},
        {"action": "read", "target": str(landlocked.data_dir / "engram.db")},
        {"action": "list", "target": str(landlocked.data_dir)},
        {"action": "kill", "number": server_pid},
        {"action": "ptrace", "number": server_pid},
    ]
    with landlocked.client() as http:
        for args in attempts:
            response = run_direct(http, ATTEMPT, args)
            assert response.status_code == 200, response.text
            outcome = response.json()["tool_return"]
            assert outcome.startswith("refused"), (args, outcome)
            assert SECRET not in response.text
        assert http.get("/v1/health/").status_code == 200
    assert landlocked.process.poll() is None


def test_memory_access_works_under_landlock(landlocked: EngramServer, fake_llm: FakeLLM) -> None:
    with landlocked.client() as http:
        tool = create_tool(http, REMEMBER)
        body = {
            "model": MODEL,
            "tool_ids": [tool["id"]],
            "memory_blocks": [{"label": "human", "value": "Name: Sam"}],
        }
        agent = http.post("/v1/agents/", json=body).json()
        response = http.post(
            f"/v1/agents/{agent['id']}/tools/remember/run", json={"args": {"fact": "Likes tea"}}
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["status"] == "success", answer
        assert answer["func_return"]["human"] == "Name: Sam\nLikes tea"
        passages = http.get(f"/v1/agents/{agent['id']}/archival-memory").json()
        assert [p["id"] for p in passages] == [answer["func_return"]["stored"]]
