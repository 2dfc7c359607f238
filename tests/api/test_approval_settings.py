"""PATCH /v1/agents/{agent_id}/tools/approval/{tool_name}: approval turned on and off for
one attached tool, kept as the agent's ``requires_approval`` tool rules."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import AgentFactory, detail_text, send_input
from tests.fakes import FakeLLM, reply

TOOL = "archival_memory_insert"


def set_approval(
    api: httpx.Client, agent_id: str, tool_name: str = TOOL, **request: Any
) -> httpx.Response:
    return api.patch(f"/v1/agents/{agent_id}/tools/approval/{tool_name}", **request)


def approval_rules(agent: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for rule in agent["tool_rules"] if rule["type"] == "requires_approval"]


def test_requiring_approval_adds_one_rule_and_holds_the_next_call(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()

    first = set_approval(api, agent["id"], json={"requires_approval": True})
    again = set_approval(api, agent["id"], json={"requires_approval": True})

    assert first.status_code == 200, first.text
    assert first.json()["id"] == agent["id"]
    assert approval_rules(first.json()) == [{"type": "requires_approval", "tool_name": TOOL}]
    assert approval_rules(again.json()) == approval_rules(first.json())
    fake_llm.script(reply.tool_call(TOOL, {"content": "Likes tea."}, id="call_1"))
    answer = send_input(api, agent["id"], "Remember that I like tea.")
    assert answer["stop_reason"]["stop_reason"] == "requires_approval"


def test_lifting_approval_removes_the_rule_and_keeps_the_others(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    others = [{"type": "max_count_per_step", "tool_name": TOOL, "max_count_limit": 3}]
    agent = make_agent(tool_rules=[*others, {"type": "requires_approval", "tool_name": TOOL}])

    response = set_approval(api, agent["id"], json={"requires_approval": False})

    assert response.status_code == 200, response.text
    assert response.json()["tool_rules"] == others
    assert api.get(f"/v1/agents/{agent['id']}").json()["tool_rules"] == others
    fake_llm.script(
        reply.tool_call(TOOL, {"content": "Likes tea."}, id="call_1"), reply.text("Saved.")
    )
    answer = send_input(api, agent["id"], "Remember that I like tea.")
    assert answer["stop_reason"]["stop_reason"] == "end_turn"


def test_the_deprecated_query_parameter_is_accepted_and_the_body_wins(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()

    by_query = set_approval(api, agent["id"], params={"requires_approval": "true"})
    both = set_approval(
        api, agent["id"], params={"requires_approval": "true"}, json={"requires_approval": False}
    )

    assert by_query.status_code == 200, by_query.text
    assert len(approval_rules(by_query.json())) == 1
    assert both.status_code == 200, both.text
    assert approval_rules(both.json()) == []


def test_bad_requests_name_the_problem_and_change_nothing(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=[{"type": "requires_approval", "tool_name": TOOL}])
    before = api.get(f"/v1/agents/{agent['id']}").json()["tool_rules"]

    no_value = set_approval(api, agent["id"], json={})
    not_bool = set_approval(api, agent["id"], json={"requires_approval": "maybe"})
    no_agent = set_approval(api, "agent-nope", json={"requires_approval": False})
    no_tool = set_approval(api, agent["id"], "web_search", json={"requires_approval": False})

    assert no_value.status_code == 422
    assert "requires_approval" in detail_text(no_value)
    assert not_bool.status_code == 422
    assert "requires_approval" in detail_text(not_bool)
    assert no_agent.status_code == 404
    assert "agent-nope" in detail_text(no_agent)
    assert no_tool.status_code == 404
    assert "'web_search' is not attached" in detail_text(no_tool)
    assert TOOL in detail_text(no_tool)
    assert api.get(f"/v1/agents/{agent['id']}").json()["tool_rules"] == before


def test_a_tool_approved_by_default_cannot_be_lifted_per_agent(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    source = (
        "def proclaim(text: str) -> str:\n"
        '    """Proclaim.\n\n    Args:\n        text: what to proclaim\n    """\n'
        "    return text.upper()\n"
    )
    tool = api.post("/v1/tools/", json={"source_code": source, "default_requires_approval": True})
    assert tool.status_code == 200, tool.text
    agent = make_agent(tool_ids=[tool.json()["id"]])

    lifted = set_approval(api, agent["id"], "proclaim", json={"requires_approval": False})
    required = set_approval(api, agent["id"], "proclaim", json={"requires_approval": True})

    assert lifted.status_code == 409
    assert "default_requires_approval" in detail_text(lifted)
    assert tool.json()["id"] in detail_text(lifted)
    assert required.status_code == 200, required.text
    assert approval_rules(required.json()) == [
        {"type": "requires_approval", "tool_name": "proclaim"}
    ]
