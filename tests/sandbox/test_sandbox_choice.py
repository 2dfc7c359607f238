"""Choosing the sandbox (``ENGRAM_SANDBOX``): the decision, its refusal, and ``engram doctor``.

The decision is a pure function of what was asked for and what works; these tests feed it
both, and check that a sandbox is probed only when the decision needs it. Through real
servers: with no sandbox available (bubblewrap asked for, its binary missing) tool calls
are refused with the fix named, whatever the kernel offers; ``unconfined`` runs them and
says so loudly.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engram.config import Settings
from engram.errors import SandboxUnavailable
from engram.tools import confined
from engram.tools.confinement import Probe, choose, sandbox_in_force
from engram.tools.sandbox import run_tool
from tests.api.conftest import MODEL, create_tool
from tests.fakes.fake_llm import FakeLLM
from tests.fakes.replies import reply
from tests.support.server import EngramServer, serving

WORKS = Probe(True, "works")
MISSING = Probe(False, "missing here")


class Prober:
    """A probe result that records whether it was asked for."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.asked = False

    def __call__(self) -> Probe:
        self.asked = True
        return self.probe


def test_auto_prefers_bubblewrap_and_does_not_probe_landlock_then() -> None:
    landlock = Prober(WORKS)
    chosen = choose("auto", Prober(WORKS), landlock)
    assert chosen.name == "bubblewrap" and not chosen.refused
    assert not landlock.asked


def test_auto_falls_back_to_landlock_without_bubblewrap() -> None:
    assert choose("auto", Prober(MISSING), Prober(WORKS)).name == "landlock"


def test_auto_with_nothing_refuses_and_names_the_fix() -> None:
    chosen = choose("auto", Prober(MISSING), Prober(Probe(False, "no Landlock")))
    assert chosen.refused and chosen.name == "none"
    assert "apt-get install bubblewrap" in chosen.description
    assert "ENGRAM_SANDBOX=unconfined" in chosen.description
    assert "bubblewrap: missing here" in chosen.description
    assert "Landlock: no Landlock" in chosen.description
    assert str(chosen.refusal()).startswith("custom tools cannot run: no sandbox works")


@pytest.mark.parametrize(
    ("requested", "bwrap", "landlock"), [("bwrap", MISSING, WORKS), ("landlock", WORKS, MISSING)]
)
def test_an_explicit_mode_is_that_mode_or_nothing(
    requested: str, bwrap: Probe, landlock: Probe
) -> None:
    chosen = choose(requested, Prober(bwrap), Prober(landlock))
    assert chosen.refused
    assert "ENGRAM_SANDBOX=auto" in chosen.description


def test_unconfined_is_an_explicit_choice_that_probes_nothing() -> None:
    bwrap, landlock = Prober(WORKS), Prober(WORKS)
    chosen = choose("unconfined", bwrap, landlock)
    assert chosen.name == "unconfined" and not chosen.refused
    assert not bwrap.asked and not landlock.asked


def test_a_missing_bubblewrap_binary_is_found_missing() -> None:
    chosen = sandbox_in_force(Settings(sandbox="bwrap", bwrap_path="/nonexistent/bwrap"))
    assert chosen.refused
    assert "no executable at /nonexistent/bwrap" in chosen.description


def test_a_refused_call_starts_no_child() -> None:
    refused = sandbox_in_force(Settings(sandbox="bwrap", bwrap_path="/nonexistent/bwrap"))
    source = "def touch():\n    open('/tmp/engram-refused-ran', 'w')\n"
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        asyncio.run(run_tool(source, "touch", {}, sandbox=refused))
    assert not os.path.exists("/tmp/engram-refused-ran")


def doctor(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engram", "doctor"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_doctor_says_tools_are_refused_and_why() -> None:
    done = doctor(ENGRAM_SANDBOX="bwrap", ENGRAM_BWRAP_PATH="/nonexistent/bwrap")
    assert done.returncode == 1, done.stderr
    assert "sandbox in force: none" in done.stdout
    assert "apt-get install bubblewrap" in done.stdout
    assert "bubblewrap  unavailable: no executable at /nonexistent/bwrap" in done.stdout


@pytest.mark.skipif(not confined.probe().available, reason="no Landlock sandbox on this kernel")
def test_doctor_names_landlock_when_it_is_forced() -> None:
    done = doctor(ENGRAM_SANDBOX="landlock")
    assert done.returncode == 0, done.stderr
    assert "sandbox in force: landlock (Landlock ABI" in done.stdout
    assert "landlock    works" in done.stdout


def test_doctor_refuses_an_unknown_mode_in_one_line() -> None:
    done = doctor(ENGRAM_SANDBOX="sometimes")
    assert done.returncode == 2
    assert "ENGRAM_SANDBOX" in done.stderr and "Traceback" not in done.stderr


PID_OF = '''
def pid_of_parent() -> int:
    """The parent's pid, as the tool sees it."""
    import os
    return os.getppid()
'''


def run_direct(http: httpx.Client, source: str, args: dict[str, Any]) -> httpx.Response:
    return http.post("/v1/tools/run", json={"source_code": source, "args": args})


@pytest.fixture(scope="module")
def without_sandbox(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EngramServer]:
    """A server asked for bubblewrap on a machine where the binary is missing."""
    env = {"ENGRAM_SANDBOX": "bwrap", "ENGRAM_BWRAP_PATH": "/nonexistent/bwrap"}
    with serving(tmp_path_factory.mktemp("no-sandbox"), fake_llm_server.base_url, env) as server:
        yield server


def test_without_a_sandbox_direct_runs_answer_503_naming_the_fix(
    without_sandbox: EngramServer, fake_llm: FakeLLM
) -> None:
    with without_sandbox.client() as http:
        assert http.get("/v1/health/").json()["sandbox"] == "none"
        response = run_direct(http, PID_OF, {})
        assert response.status_code == 503, response.text
        assert response.headers["x-should-retry"] == "false"
        detail = response.json()["detail"]
        assert "apt-get install bubblewrap" in detail
        assert "ENGRAM_SANDBOX=unconfined" in detail

        tool = create_tool(http, PID_OF)
        agent = http.post("/v1/agents/", json={"model": MODEL, "tool_ids": [tool["id"]]}).json()
        response = http.post(f"/v1/agents/{agent['id']}/tools/pid_of_parent/run", json={})
        assert response.status_code == 503, response.text
        assert "apt-get install bubblewrap" in response.json()["detail"]


def test_without_a_sandbox_the_model_is_told_the_fix_and_the_message_is_kept(
    without_sandbox: EngramServer, fake_llm: FakeLLM
) -> None:
    with without_sandbox.client() as http:
        tool = create_tool(http, PID_OF)
        agent = http.post("/v1/agents/", json={"model": MODEL, "tool_ids": [tool["id"]]}).json()
        fake_llm.script(reply.tool_call("pid_of_parent", {}), reply.text("No sandbox here."))
        response = http.post(f"/v1/agents/{agent['id']}/messages", json={"input": "Your pid?"})
        assert response.status_code == 200, response.text
        result = fake_llm.chat_requests[-1].tool_results[-1]
        assert result.startswith("Error: custom tools cannot run"), result
        assert "apt-get install bubblewrap" in result
        history = http.get(f"/v1/agents/{agent['id']}/messages").json()
        assert any(m.get("content") == "Your pid?" for m in history), history


def test_the_unconfined_opt_in_runs_tools_and_says_so_loudly(
    fake_llm_server: FakeLLM, tmp_path: Path
) -> None:
    env = {"ENGRAM_SANDBOX": "unconfined"}
    with serving(tmp_path / "data", fake_llm_server.base_url, env) as server:
        with server.client() as http:
            assert http.get("/v1/health/").json()["sandbox"] == "unconfined"
            assert "custom tools run UNCONFINED" in server.log()
            response = run_direct(http, PID_OF, {})
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "success"
        assert "tool 'pid_of_parent' runs UNCONFINED" in server.log()


def test_a_server_that_refuses_tools_still_starts_and_warns(without_sandbox: EngramServer) -> None:
    assert "custom tool calls will be refused" in without_sandbox.log()
    assert "apt-get install bubblewrap" in without_sandbox.log()
