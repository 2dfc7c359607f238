"""The fake OpenAI server (``tests.fakes.fake_llm`` in echo mode) as a subprocess, for the
benches that drive a real ``engram serve``: its own process, so it shares no GIL with the
bench's clients."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class FakeLLM:
    """The fake OpenAI server as a subprocess; its first stdout line is its URL."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.fake_llm", "--port", "0", "--mode", "echo"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
