"""The built-ins that leave the server (``run_code``, ``fetch_webpage``, ``web_search``),
each called by the model in a turn and read back as the tool's return.

The web is the fake HTTP server of ``tests/fakes/web.py`` on 127.0.0.1, which the servers
under test are pointed at through their settings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from letta_client.types import ToolReturnMessage

from engram.tools.web import WebToolError
from engram.tools.web_search import SearchRequest, web_search
from tests.api.conftest import MODEL
from tests.compat.conftest import letta_client_for
from tests.fakes.fake_llm import FakeLLM
from tests.fakes.replies import reply
from tests.fakes.web import SLOW_SECONDS, FakeWeb
from tests.support.backends import Backend
from tests.support.inprocess import settings_from
from tests.support.server import RunningServer, serving

MAX_BYTES = 100_000
FETCH_TIMEOUT = 1.0
CODE_TIMEOUT = 4.0


@pytest.fixture(scope="module")
def server(
    fake_llm_server: FakeLLM,
    tmp_path_factory: pytest.TempPathFactory,
    backend: Backend,
    web: FakeWeb,
) -> Iterator[RunningServer]:
    """Small fetch limits, loopback pages allowed (the fake web lives there), no search."""
    env = {
        "ENGRAM_WEB_FETCH_TIMEOUT_SECONDS": str(FETCH_TIMEOUT),
        "ENGRAM_WEB_FETCH_MAX_BYTES": str(MAX_BYTES),
        "ENGRAM_WEB_FETCH_PRIVATE_ADDRESSES": "true",
        "ENGRAM_TOOL_TIMEOUT_SECONDS": str(CODE_TIMEOUT),
    }
    with serving(
        tmp_path_factory.mktemp("web-tools"),
        fake_llm_server.base_url,
        env,
        database_url=backend.database_url(),
        in_process=True,
    ) as engram:
        yield engram


@pytest.fixture
def client(server: RunningServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def new_agent(http: httpx.Client, tools: list[str], *, network: bool = False, **fields: Any) -> str:
    body: dict[str, Any] = {"model": MODEL, "tools": tools, "include_base_tools": False}
    body |= fields
    if network:
        body["metadata"] = {"tool_network": True}
    response = http.post("/v1/agents/", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def tool_returns(http: httpx.Client, agent_id: str, text: str) -> list[dict[str, Any]]:
    """Send ``text``; the turn's tool return messages, in order."""
    response = http.post(f"/v1/agents/{agent_id}/messages", json={"input": text})
    assert response.status_code == 200, response.text
    messages = response.json()["messages"]
    return [m for m in messages if m["message_type"] == "tool_return_message"]


def only_return(http: httpx.Client, agent_id: str, text: str) -> dict[str, Any]:
    returns = tool_returns(http, agent_id, text)
    assert len(returns) == 1, returns
    return returns[0]


# --- listing and attaching -------------------------------------------------------------


def test_the_three_are_listed_as_builtins_and_attach_by_name(client: httpx.Client) -> None:
    names = ["run_code", "fetch_webpage", "web_search"]
    for name in names:
        listed = client.get("/v1/tools/", params={"name": name}).json()
        assert [(tool["name"], tool["tool_type"]) for tool in listed] == [(name, "letta_builtin")]
    schema = client.get("/v1/tools/", params={"name": "web_search"}).json()[0]["json_schema"]
    assert set(schema["parameters"]["properties"]) >= {
        "query",
        "num_results",
        "category",
        "include_text",
        "include_domains",
        "exclude_domains",
        "start_published_date",
        "end_published_date",
        "user_location",
    }

    agent_id = new_agent(client, names)

    attached = client.get(f"/v1/agents/{agent_id}/tools").json()
    assert sorted(tool["name"] for tool in attached) == sorted(names)


# --- run_code ----------------------------------------------------------------------------


def test_run_code_answers_printed_text_and_the_last_expression(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(client, ["run_code"])
    code = "import math\nprint('otters:', 3)\nvalue = math.factorial(5)\nvalue + 1"
    fake_llm.script(
        reply.tool_call("run_code", {"code": code, "language": "python"}), reply.text("Done.")
    )

    result = only_return(client, agent_id, "Compute.")

    assert result["status"] == "success", result
    answer = json.loads(result["tool_return"])
    assert answer == {"results": ["121"], "logs": {"stdout": ["otters: 3\n"], "stderr": []}}
    assert json.loads(fake_llm.chat_requests[-1].tool_results[0]) == answer


def test_run_code_reports_the_programs_own_error_with_what_it_printed(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(client, ["run_code"])
    code = "print('before')\n1 / 0"
    fake_llm.script(
        reply.tool_call("run_code", {"code": code, "language": "python"}), reply.text("Oops.")
    )

    result = only_return(client, agent_id, "Divide.")

    answer = json.loads(result["tool_return"])
    assert answer["logs"]["stdout"] == ["before\n"]
    assert answer["results"] == []
    assert answer["error"]["name"] == "ZeroDivisionError"
    assert "division by zero" in answer["error"]["value"]
    assert "line 2" in answer["error"]["traceback"]


def test_run_code_in_another_language_is_a_tool_error_naming_python(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(client, ["run_code"])
    fake_llm.script(
        reply.tool_call("run_code", {"code": "console.log(1)", "language": "js"}),
        reply.text("I will use Python."),
    )

    result = only_return(client, agent_id, "Run JS.")

    assert result["status"] == "error"
    assert "Python only" in result["tool_return"] and "'js'" in result["tool_return"]


def test_run_code_gets_no_secrets_and_the_network_only_by_the_agents_policy(
    client: httpx.Client, fake_llm: FakeLLM, web: FakeWeb
) -> None:
    code = (
        "import os, urllib.request\n"
        "print(sorted(k for k in os.environ if 'KEY' in k))\n"
        "try:\n"
        f"    urllib.request.urlopen('{web.base_url}/page.html', timeout=5)\n"
        "    print('reached')\n"
        "except OSError:\n"
        "    print('no network')\n"
    )
    outputs = []
    for network in (False, True):
        secret = {"tool_exec_environment_variables": {"SECRET_API_KEY": "s3cret"}}
        agent_id = new_agent(client, ["run_code"], network=network, **secret)
        fake_llm.script(
            reply.tool_call("run_code", {"code": code, "language": "python"}), reply.text("ok")
        )
        result = only_return(client, agent_id, "Reach the page.")
        outputs.append(json.loads(result["tool_return"])["logs"]["stdout"])

    assert outputs == [["[]\nno network\n"], ["[]\nreached\n"]]


@pytest.mark.slow
def test_run_code_is_stopped_at_the_sandboxs_time_limit(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(client, ["run_code"])
    fake_llm.script(
        reply.tool_call("run_code", {"code": "import time\ntime.sleep(60)", "language": "python"}),
        reply.text("Too slow."),
    )

    result = only_return(client, agent_id, "Wait a minute.")

    assert result["status"] == "error"
    assert f"timed out after {CODE_TIMEOUT:g} seconds" in result["tool_return"]


def test_run_code_through_letta_client(server: RunningServer, fake_llm: FakeLLM) -> None:
    with letta_client_for(server) as letta:
        agent = letta.agents.create(model=MODEL, tools=["run_code"], include_base_tools=False)
        fake_llm.script(
            reply.tool_call("run_code", {"code": "sum(range(10))", "language": "python"}),
            reply.text("45"),
        )
        response = letta.agents.messages.create(
            agent.id, messages=[{"role": "user", "content": "Add."}]
        )
        listed = [tool.name for tool in letta.tools.list(name="run_code").items]

    (result,) = [m for m in response.messages if isinstance(m, ToolReturnMessage)]
    assert result.status == "success"
    assert json.loads(str(result.tool_return))["results"] == ["45"]
    assert listed == ["run_code"]


# --- fetch_webpage -----------------------------------------------------------------------


def test_fetch_webpage_reads_html_as_markdown(
    client: httpx.Client, fake_llm: FakeLLM, web: FakeWeb
) -> None:
    agent_id = new_agent(client, ["fetch_webpage"], network=True)
    fake_llm.script(
        reply.tool_call("fetch_webpage", {"url": f"{web.base_url}/moved"}),
        reply.text("Otters hold hands."),
    )

    result = only_return(client, agent_id, "Read the page.")

    assert result["status"] == "success", result
    text = result["tool_return"]
    assert "# Otter facts" in text
    assert "# Sea otters" in text
    assert "[hands](https://example.org/hands)" in text
    assert "* They use tools." in text or "- They use tools." in text
    assert "do-not-show" not in text and "color: red" not in text
    assert fake_llm.chat_requests[-1].tool_results == [text]


def test_fetch_webpage_refuses_what_it_cannot_or_must_not_read(
    client: httpx.Client, fake_llm: FakeLLM, web: FakeWeb
) -> None:
    agent_id = new_agent(client, ["fetch_webpage"], network=True)
    cases = {
        "ftp://127.0.0.1/file.txt": "http:// and https://",
        f"{web.base_url}/huge.html": f"larger than {MAX_BYTES} bytes",
        f"{web.base_url}/slow.html": "did not load within 1 seconds",
        f"{web.base_url}/doc.pdf": "application/pdf, not a text page",
        f"{web.base_url}/missing": "answered HTTP 404",
    }
    fake_llm.script(
        reply.tool_calls([("fetch_webpage", {"url": url}) for url in cases]),
        reply.text("None of those worked."),
    )

    started = time.monotonic()
    results = tool_returns(client, agent_id, "Read them all.")

    assert [r["status"] for r in results] == ["error"] * len(cases)
    for result, expected in zip(results, cases.values(), strict=True):
        assert expected in result["tool_return"], result["tool_return"]
    # The slow page was cut off at the deadline, not waited for.
    assert time.monotonic() - started < SLOW_SECONDS + 5


def test_fetch_webpage_without_the_network_policy_is_a_tool_error(
    client: httpx.Client, fake_llm: FakeLLM, web: FakeWeb
) -> None:
    agent_id = new_agent(client, ["fetch_webpage"], network=False)
    fake_llm.script(
        reply.tool_call("fetch_webpage", {"url": f"{web.base_url}/page.html"}),
        reply.text("I cannot."),
    )

    result = only_return(client, agent_id, "Read the page.")

    assert result["status"] == "error"
    assert "may not use the network" in result["tool_return"]
    assert "tool_network" in result["tool_return"]


def test_by_default_loopback_and_private_hosts_are_refused(
    api: httpx.Client, fake_llm: FakeLLM, web: FakeWeb
) -> None:
    """The session server keeps the default: no private addresses."""
    agent_id = new_agent(api, ["fetch_webpage"], network=True)
    fake_llm.script(
        reply.tool_call("fetch_webpage", {"url": f"{web.base_url}/page.html"}),
        reply.text("Refused."),
    )

    result = only_return(api, agent_id, "Read the page.")

    assert result["status"] == "error"
    assert "private or local network" in result["tool_return"]
    assert "ENGRAM_WEB_FETCH_PRIVATE_ADDRESSES" in result["tool_return"]


# --- web_search --------------------------------------------------------------------------


def test_web_search_with_no_backend_is_a_tool_error_naming_the_settings(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(client, ["web_search"])
    fake_llm.script(reply.tool_call("web_search", {"query": "otters"}), reply.text("No search."))

    result = only_return(client, agent_id, "Search.")

    assert result["status"] == "error"
    for setting in ("ENGRAM_WEB_SEARCH", "ENGRAM_EXA_API_KEY", "ENGRAM_SEARXNG_URL"):
        assert setting in result["tool_return"]


SEARCH_ENVS = {
    "exa": lambda base: {
        "ENGRAM_WEB_SEARCH": "exa",
        "ENGRAM_EXA_API_KEY": "exa-test-key",
        "ENGRAM_EXA_BASE_URL": f"{base}/exa",
    },
    # No ENGRAM_WEB_SEARCH: the one service configured is chosen.
    "tavily": lambda base: {
        "ENGRAM_TAVILY_API_KEY": "tvly-test-key",
        "ENGRAM_TAVILY_BASE_URL": f"{base}/tavily",
    },
    "searxng": lambda base: {
        "ENGRAM_WEB_SEARCH": "searxng",
        "ENGRAM_SEARXNG_URL": f"{base}/searxng",
    },
}


@pytest.fixture(scope="module", params=sorted(SEARCH_ENVS))
def search_server(
    request: pytest.FixtureRequest,
    fake_llm_server: FakeLLM,
    tmp_path_factory: pytest.TempPathFactory,
    backend: Backend,
    web: FakeWeb,
) -> Iterator[tuple[str, RunningServer]]:
    name = str(request.param)
    with serving(
        tmp_path_factory.mktemp(f"search-{name}"),
        fake_llm_server.base_url,
        SEARCH_ENVS[name](web.base_url),
        database_url=backend.database_url(),
        in_process=True,
    ) as engram:
        yield name, engram


def test_web_search_asks_the_configured_service_and_answers_one_shape(
    search_server: tuple[str, RunningServer], fake_llm: FakeLLM, web: FakeWeb
) -> None:
    name, server = search_server
    web.requests.clear()
    arguments = {"query": "otters", "num_results": 1, "include_domains": ["example.org"]}
    with server.client() as http:
        agent_id = new_agent(http, ["web_search"])
        fake_llm.script(reply.tool_call("web_search", arguments), reply.text("Found it."))
        result = only_return(http, agent_id, "Search.")

    assert result["status"] == "success", result
    answer = json.loads(result["tool_return"])
    assert answer["query"] == "otters"
    assert [(hit["title"], hit["url"]) for hit in answer["results"]] == [
        ("Otters at rest", "https://example.org/otters")
    ]
    assert answer["results"][0]["highlights"] == ["Otters hold hands."]
    asked = web.requests[-1]
    headers = {key.lower(): value for key, value in asked["headers"].items()}
    if name == "exa":
        assert asked["path"] == "/exa/search"
        assert headers["x-api-key"] == "exa-test-key"
        assert asked["body"]["query"] == "otters"
        assert asked["body"]["numResults"] == 1
        assert asked["body"]["includeDomains"] == ["example.org"]
        assert "text" not in answer["results"][0]  # include_text was not asked for
        assert answer["results"][0]["summary"] == "About otters."
    elif name == "tavily":
        assert asked["path"] == "/tavily/search"
        assert headers["authorization"] == "Bearer tvly-test-key"
        assert asked["body"]["max_results"] == 1
        assert asked["body"]["include_domains"] == ["example.org"]
    else:
        assert asked["path"] == "/searxng/search"
        assert asked["body"] == {"q": "otters", "format": "json"}


def test_a_bad_call_is_a_tool_error_not_a_crash(client: httpx.Client, fake_llm: FakeLLM) -> None:
    agent_id = new_agent(client, ["web_search", "fetch_webpage"])
    fake_llm.script(
        reply.tool_calls([("web_search", {"q": "otters"}), ("fetch_webpage", {"url": 42})]),
        reply.text("Sorry."),
    )

    results = tool_returns(client, agent_id, "Search.")

    assert [r["status"] for r in results] == ["error", "error"]
    assert "unexpected argument(s) q" in results[0]["tool_return"]
    assert "url must be a string" in results[1]["tool_return"]


async def test_a_search_service_that_fails_is_a_tool_error_naming_it(web: FakeWeb) -> None:
    settings = settings_from(
        {"ENGRAM_EXA_API_KEY": "exa-test-key", "ENGRAM_EXA_BASE_URL": f"{web.base_url}/broken"}
    )

    with pytest.raises(WebToolError) as failed:
        await web_search(settings, SearchRequest(query="otters"))

    assert "the exa search answered HTTP 503: overloaded" in str(failed.value)
