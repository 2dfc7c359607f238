"""What ``engram serve`` tells its operator: a banner with the version, the database, the
embedding model's status and the URL; no noise from alembic's plugins; and a token-count
difference for a model without a shipped tokenizer said once, not on every step."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engram import __version__
from tests.fakes import FakeLLM, reply
from tests.support.backends import Backend
from tests.support.server import EngramServer, free_port

pytestmark = pytest.mark.slow  # see tests/conftest.py


def banner(log: str) -> dict[str, str]:
    """The banner's ``label value`` lines, up to the first log line."""
    lines = log.splitlines()
    assert lines[0] == f"Engram {__version__}", log
    fields = {}
    for line in lines[1:]:
        if not line.startswith("  "):
            break
        label, _, value = line.strip().partition(" ")
        fields[label] = value.strip()
    return fields


def test_the_banner_names_version_database_embeddings_and_url(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend
) -> None:
    database_url = backend.database_url()
    server = EngramServer(
        tmp_path / "data", fake_llm.base_url, database_url=database_url, log_level="info"
    )
    server.start()
    server.stop()
    log = server.log()
    shown = banner(log)
    if database_url is None:
        assert shown["database"].startswith(f"{tmp_path / 'data' / 'engram.db'} (SQLite")
    else:
        assert shown["database"].startswith("postgresql+psycopg://postgres@/")
        assert "(PostgreSQL)" in shown["database"]
    assert shown["embeddings"].startswith("local all-MiniLM-L6-v2 found at ")
    assert Path(shown["embeddings"].rsplit(" at ", 1)[1], "model.safetensors").is_file()
    assert shown["reranker"] == "off"
    assert shown["listening"] == server.base_url
    assert "setup plugin" not in log
    assert "Running upgrade" in log  # the migrations themselves are still reported


def test_a_password_in_the_database_url_is_not_printed(tmp_path: Path) -> None:
    """The banner is printed before the database is checked; an unreachable one fails after."""
    env = {
        **os.environ,
        "ENGRAM_DATA_DIR": str(tmp_path),
        "ENGRAM_DATABASE_URL": "postgresql://engram:s3cret-pw@127.0.0.1:1/engram",
    }
    shown = subprocess.run(
        [sys.executable, "-m", "engram", "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert shown.returncode == 2
    assert "s3cret-pw" not in shown.stderr + shown.stdout
    assert "postgresql+psycopg://engram:***@127.0.0.1:1/engram" in shown.stderr


def test_an_estimated_token_count_is_warned_about_once_per_model(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    server = EngramServer(tmp_path / "data", fake_llm.base_url)
    server.start()
    try:
        with server.client() as client:
            agent = client.post(
                "/v1/agents/", json={"name": "estimated", "model": "openai/fake-small"}
            ).json()
            # The provider reports far fewer prompt tokens than the estimate, every step.
            fake_llm.script(*(reply.text(f"answer {n}", prompt_tokens=5) for n in range(3)))
            for n in range(3):
                sent = client.post(
                    f"/v1/agents/{agent['id']}/messages",
                    json={"messages": [{"role": "user", "content": f"question {n}"}]},
                )
                assert sent.status_code == 200, sent.text
    finally:
        server.stop()
    warnings = [line for line in server.log().splitlines() if "provider reported" in line]
    assert len(warnings) == 1, warnings
    assert "fake-small are an estimate" in warnings[0]
