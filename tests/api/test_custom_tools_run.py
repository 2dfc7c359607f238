"""Custom tools running for real: through the agent loop, and directly by the run routes.

The server here has tight sandbox limits, so that attacks end in about a second.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import MODEL, create_tool
from tests.fakes.fake_llm import FakeLLM
from tests.fakes.replies import reply
from tests.helpers import send
from tests.support.backends import Backend
from tests.support.server import EngramServer, serving

WEATHER = '''
def weather(city: str) -> dict:
    """Today's weather.

    Args:
        city: The city to look up.
    """
    import os
    return {"city": city, "temp_c": 21, "key": os.environ.get("WEATHER_KEY")}
'''

SNOOP = '''
def snoop() -> dict:
    """Read the environment."""
    import os
    key = os.environ["OPENAI_API_KEY"]
    return {"key": key}
'''

SPIN = '''
def spin() -> str:
    """Loop forever."""
    while True:
        pass
'''

SHOUT = '''
def shout(times: int) -> str:
    """Repeat a word.

    Args:
        times: How many times.
    """
    return "ha" * times
'''


@pytest.fixture(scope="module")
def server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[Any]:
    limits = {"ENGRAM_TOOL_CPU_SECONDS": "1", "ENGRAM_TOOL_TIMEOUT_SECONDS": "10"}
    with serving(
        tmp_path_factory.mktemp("tools-run"),
        fake_llm_server.base_url,
        limits,
        database_url=backend.database_url(),
        in_process=True,
    ) as engram:
        yield engram


@pytest.fixture
def client(server: EngramServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def agent_with(client: httpx.Client, *tools: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"model": MODEL, "tool_ids": [tool["id"] for tool in tools], **fields}
    response = client.post("/v1/agents/", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def tool_returns(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["message_type"] == "tool_return_message"]


def test_the_model_receives_a_custom_tools_json_result(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    tool = create_tool(client, WEATHER)
    agent = agent_with(client, tool, tool_exec_environment_variables={"WEATHER_KEY": "k-123"})
    fake_llm.script(reply.tool_call("weather", {"city": "Lyon"}), reply.text("21 degrees."))

    body = send(client, agent["id"], "Weather in Lyon?")

    fed_back = json.loads(fake_llm.chat_requests[-1].tool_results[-1])
    assert fed_back == {"city": "Lyon", "temp_c": 21, "key": "k-123"}
    assert tool_returns(body)[0]["status"] == "success"
    assert body["stop_reason"]["stop_reason"] == "end_turn"


@pytest.mark.parametrize(
    ("source", "name", "expected"),
    [(SNOOP, "snoop", "KeyError: 'OPENAI_API_KEY'"), (SPIN, "spin", "CPU time limit")],
    ids=["reads-server-env", "cpu-loop"],
)
def test_an_attacking_tool_ends_as_a_tool_error_and_the_server_stays_healthy(
    client: httpx.Client, fake_llm: FakeLLM, source: str, name: str, expected: str
) -> None:
    tool = create_tool(client, source)
    agent = agent_with(client, tool)
    fake_llm.script(reply.tool_call(name, {}), reply.text("That did not work."))

    body = send(client, agent["id"], "Try it.")

    fed_back = fake_llm.chat_requests[-1].tool_results[-1]
    assert fed_back.startswith("Error: ") and expected in fed_back
    assert "test-key" not in fed_back
    assert tool_returns(body)[0]["status"] == "error"
    assert body["stop_reason"]["stop_reason"] == "end_turn"
    assert client.get("/v1/health/").status_code == 200


def test_a_long_result_is_cut_at_the_tools_return_char_limit(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    tool = create_tool(client, SHOUT, return_char_limit=10)
    agent = agent_with(client, tool)
    fake_llm.script(reply.tool_call("shout", {"times": 50}), reply.text("Loud."))

    send(client, agent["id"], "Shout.")

    assert fake_llm.chat_requests[-1].tool_results[-1] == (
        "hahahahaha… [truncated: 90 more characters]"
    )


def test_tools_run_answers_with_a_tool_return_message(client: httpx.Client) -> None:
    body = {"source_code": WEATHER, "args": {"city": "Oslo"}, "env_vars": {"WEATHER_KEY": "v"}}
    response = client.post("/v1/tools/run", json=body)
    assert response.status_code == 200, response.text
    message = response.json()
    assert message["message_type"] == "tool_return_message"
    assert message["status"] == "success"
    assert json.loads(message["tool_return"]) == {"city": "Oslo", "temp_c": 21, "key": "v"}


def test_tools_run_reports_a_failing_tool_as_an_error(client: httpx.Client) -> None:
    response = client.post("/v1/tools/run", json={"source_code": SNOOP, "args": {}})
    assert response.status_code == 200, response.text
    message = response.json()
    assert message["status"] == "error"
    assert message["tool_return"] == "Error: KeyError: 'OPENAI_API_KEY'"


def test_an_agents_tool_runs_directly_with_the_agents_variables(client: httpx.Client) -> None:
    tool = create_tool(client, WEATHER)
    agent = agent_with(client, tool, secrets={"WEATHER_KEY": "s-1"})
    response = client.post(
        f"/v1/agents/{agent['id']}/tools/weather/run", json={"args": {"city": "Rome"}}
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "success"
    assert result["func_return"] == {"city": "Rome", "temp_c": 21, "key": "s-1"}
    missing = client.post(f"/v1/agents/{agent['id']}/tools/nope/run", json={"args": {}})
    assert missing.status_code == 404


def test_the_agents_tool_variables_are_its_own_not_its_metadata(client: httpx.Client) -> None:
    agent = client.post(
        "/v1/agents/",
        json={
            "model": MODEL,
            "metadata": {"team": "support"},
            "tool_exec_environment_variables": {"WEATHER_KEY": "k-1"},
            "secrets": {"DB_TOKEN": "s-2"},
        },
    ).json()

    shown = {v["key"]: v["value"] for v in agent["tool_exec_environment_variables"]}
    assert shown == {"WEATHER_KEY": "k-1", "DB_TOKEN": "s-2"}
    assert agent["metadata"] == {"team": "support"}
    patched = client.patch(f"/v1/agents/{agent['id']}", json={"metadata": {"team": "sales"}})
    assert patched.status_code == 200, patched.text
    kept = {v["key"] for v in patched.json()["tool_exec_environment_variables"]}
    assert kept == {"WEATHER_KEY", "DB_TOKEN"}
    replaced = client.patch(
        f"/v1/agents/{agent['id']}", json={"tool_exec_environment_variables": {"ONLY": "1"}}
    ).json()
    assert [v["key"] for v in replaced["tool_exec_environment_variables"]] == ["ONLY"]


SIX = '''
def six_version() -> str:
    """The version of the six package this tool asked for."""
    import six
    return six.__version__
'''


def test_pip_requirements_are_installed_once_and_importable(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    tool = create_tool(client, SIX, pip_requirements=[{"name": "six", "version": "1.16.0"}])
    agent = agent_with(client, tool)
    fake_llm.script(
        reply.tool_call("six_version", {}),
        reply.text("Installed."),
        reply.tool_call("six_version", {}),
        reply.text("Still there."),
    )

    send(client, agent["id"], "Which six?")
    first = fake_llm.chat_requests[-1].tool_results[-1]
    send(client, agent["id"], "And again?")

    assert first == "1.16.0"
    assert fake_llm.chat_requests[-1].tool_results[-1] == "1.16.0"


@pytest.mark.parametrize(
    "requirement",
    [{"name": "--index-url=http://evil"}, {"name": "six", "version": "; rm -rf /"}],
)
def test_a_requirement_that_is_not_a_plain_spec_is_refused(
    client: httpx.Client, requirement: dict[str, str]
) -> None:
    response = client.put(
        "/v1/tools/", json={"source_code": SIX, "pip_requirements": [requirement]}
    )
    assert response.status_code == 422
    assert "pip_requirements" in response.text
