"""Several tool calls in one model response: independent ones run side by side, and the
model gets their results in the order it made the calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import MODEL
from tests.fakes.fake_llm import FakeLLM
from tests.fakes.replies import reply
from tests.support.backends import Backend
from tests.support.inprocess import InProcessServer

NAP = '''
def nap(seconds: float, tag: str) -> dict:
    """Sleep, then say which call this was.

    Args:
        seconds: How long to sleep.
        tag: A label echoed back.
    """
    import time
    started = time.time()
    time.sleep(seconds)
    return {"tag": tag, "started": started, "ended": time.time()}
'''


@pytest.fixture(scope="module")
def server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[Any]:
    engram = InProcessServer(
        tmp_path_factory.mktemp("parallel"),
        fake_llm_server.base_url,
        database_url=backend.database_url(),
    )
    engram.start()
    yield engram
    engram.stop()


@pytest.fixture
def client(server: InProcessServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def test_sandboxed_calls_of_one_response_run_concurrently_and_answer_in_order(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    tool = client.put("/v1/tools/", json={"source_code": NAP}).json()
    agent = client.post("/v1/agents/", json={"model": MODEL, "tool_ids": [tool["id"]]}).json()
    fake_llm.script(
        reply.tool_calls(
            [("nap", {"seconds": 1.5, "tag": "first"}), ("nap", {"seconds": 0.1, "tag": "second"})]
            + [("nap", {"seconds": 1.5, "tag": f"call-{i}"}) for i in range(2)]
        ),
        reply.text("All rested."),
    )

    response = client.post(f"/v1/agents/{agent['id']}/messages", json={"input": "Rest."})

    assert response.status_code == 200, response.text
    results = [json.loads(r) for r in fake_llm.chat_requests[-1].tool_results]
    assert [r["tag"] for r in results] == ["first", "second", "call-0", "call-1"]
    # The calls overlapped in time: each started before the first one ended.
    first_end = results[0]["ended"]
    assert all(r["started"] < first_end for r in results[1:])
