"""The example of docs/python.md runs as printed: in a fresh process, with ``~`` a fresh
home, its model calls going to the scripted fake LLM."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.fakes.fake_llm import FakeLLM
from tests.fakes.replies import reply

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"


def first_example() -> str:
    section = DOC.read_text().split("## A first agent", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "docs/python.md: no python example under 'A first agent'"
    return found.group(1)


def test_the_first_example_runs_and_the_agent_answers(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script(reply.text("Hello Sam! Rex is a fine name for a dog."))
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "OPENAI_BASE_URL": fake_llm.base_url,
        "OPENAI_API_KEY": "test-key",
    }
    for name in ("ENGRAM_DATA_DIR", "ENGRAM_DATABASE_URL"):
        env.pop(name, None)

    done = subprocess.run(
        [sys.executable, "-c", first_example()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["Hello Sam! Rex is a fine name for a dog.", "Name: Sam"]
    assert (tmp_path / ".engram" / "engram.db").exists()
