"""API keys: with ENGRAM_API_KEY set every route but health needs a bearer key, and the CLI
will not serve the network unprotected."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import MODEL
from tests.fakes.fake_llm import FakeLLM
from tests.support import loopback
from tests.support.backends import Backend
from tests.support.inprocess import InProcessServer
from tests.support.server import free_port

KEYS = ("k1", "k2")


@pytest.fixture(scope="module")
def keyed_server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[InProcessServer]:
    server = InProcessServer(
        tmp_path_factory.mktemp("engram-keyed"),
        fake_llm_server.base_url,
        extra_env={"ENGRAM_API_KEY": ",".join(KEYS)},
        database_url=backend.database_url(),
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(keyed_server: InProcessServer) -> Iterator[httpx.Client]:
    with keyed_server.client() as http:
        yield http


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


PROTECTED = [
    ("GET", "/v1/agents/"),
    ("GET", "/v1/agents/count"),
    ("POST", "/v1/agents/"),
    ("GET", "/v1/blocks/"),
    ("GET", "/v1/tags/"),
    ("GET", "/v1/models/"),
    ("GET", "/v1/agents/agent-00000000-0000-4000-8000-000000000000"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_request_without_a_key_gets_401(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path, json={"model": MODEL} if method == "POST" else None)

    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wrong",
        "Bearer k1,k2",
        "Bearer k",
        "Bearer k1x",
        "Bearer",
        "Basic k1",
        "k1",
    ],
)
def test_request_with_a_wrong_key_gets_401(client: httpx.Client, header: str) -> None:
    response = client.get("/v1/agents/", headers={"Authorization": header})

    assert response.status_code == 401


@pytest.mark.parametrize("key", KEYS)
def test_each_configured_key_is_accepted(client: httpx.Client, key: str) -> None:
    response = client.get("/v1/agents/", headers=bearer(key))

    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_bearer_scheme_is_case_insensitive(client: httpx.Client) -> None:
    response = client.get("/v1/agents/", headers={"Authorization": "bearer k2"})

    assert response.status_code == 200


def test_health_is_open_without_a_key(client: httpx.Client) -> None:
    for path in ("/v1/health/", "/v1/health"):
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        assert response.json()["status"] == "ok"


def test_rejected_write_changes_nothing_and_keyed_write_works(client: httpx.Client) -> None:
    before = client.get("/v1/agents/count", headers=bearer("k1")).json()

    refused = client.post("/v1/agents/", json={"model": MODEL, "name": "sneaky"})
    accepted = client.post(
        "/v1/agents/", json={"model": MODEL, "name": "allowed"}, headers=bearer("k2")
    )

    assert refused.status_code == 401
    assert accepted.status_code == 200, accepted.text
    assert client.get("/v1/agents/count", headers=bearer("k1")).json() == before + 1
    assert client.get("/v1/agents/", headers=bearer("k1"), params={"name": "sneaky"}).json() == []


def test_agent_made_with_one_key_is_visible_with_the_other(client: httpx.Client) -> None:
    made = client.post(
        "/v1/agents/", json={"model": MODEL, "name": "shared"}, headers=bearer("k1")
    ).json()

    response = client.get(f"/v1/agents/{made['id']}", headers=bearer("k2"))

    assert response.status_code == 200
    assert response.json()["name"] == "shared"


# --------------------------------------------------------------------------- the CLI


def _serve_env(tmp_path: Path, fake_llm: FakeLLM, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "OPENAI_BASE_URL": fake_llm.base_url,
        "OPENAI_API_KEY": "test-key",
        "ENGRAM_DATA_DIR": str(tmp_path / "data"),
        **extra,
    }
    env.pop("ENGRAM_DATABASE_URL", None)
    if "ENGRAM_API_KEY" not in extra:
        env.pop("ENGRAM_API_KEY", None)
    return env


def _serve(host: str, port: int, *flags: str) -> list[str]:
    return [sys.executable, "-m", "engram", "serve", "--host", host, "--port", str(port), *flags]


def test_cli_refuses_a_network_host_without_a_key(tmp_path: Path, fake_llm: FakeLLM) -> None:
    started = time.monotonic()
    result = subprocess.run(
        _serve("0.0.0.0", free_port()),
        env=_serve_env(tmp_path, fake_llm),
        capture_output=True,
        text=True,
        timeout=30,
    )

    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert time.monotonic() - started < 20
    assert "ENGRAM_API_KEY" in output
    assert "--insecure" in output


def _wait_healthy(process: subprocess.Popen[bytes], url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early with code {process.returncode}")
        try:
            if loopback.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("server did not become healthy")


@pytest.mark.parametrize(
    ("flags", "extra_env"),
    [((), {"ENGRAM_API_KEY": "net-key"}), (("--insecure",), {})],
    ids=["with-key", "insecure"],
)
def test_cli_serves_a_network_host_with_a_key_or_insecure(
    tmp_path: Path, fake_llm: FakeLLM, flags: tuple[str, ...], extra_env: dict[str, str]
) -> None:
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        _serve("0.0.0.0", port, "--log-level", "warning", *flags),
        env=_serve_env(tmp_path, fake_llm, **extra_env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(process, f"http://127.0.0.1:{port}/v1/health/")
        agents = loopback.get(f"http://127.0.0.1:{port}/v1/agents/", timeout=10)
        assert agents.status_code == (401 if extra_env else 200)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()
