"""POST /v1/agents/{id}/recompile over HTTP: the system prompt the next step will send,
compiled from the agent's stored instructions and memory, with or without ``dry_run``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory
from tests.fakes import FakeLLM, reply

MISSING_AGENT = "agent-00000000-0000-4000-8000-000000000000"


@pytest.fixture
def agent(make_agent: AgentFactory) -> dict[str, Any]:
    return make_agent(
        system="You are a careful archivist.",
        memory_blocks=[{"label": "human", "value": "Name: Ada"}],
    )


def recompile(api: httpx.Client, agent_id: str, **params: Any) -> str:
    response = api.post(f"/v1/agents/{agent_id}/recompile", params=params)
    assert response.status_code == 200, response.text
    prompt = response.json()
    assert isinstance(prompt, str)
    return prompt


def test_recompile_answers_instructions_and_memory_as_stored_now(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    before = recompile(api, agent["id"])
    api.patch(f"/v1/agents/{agent['id']}/core-memory/blocks/human", json={"value": "Name: Grace"})

    after = recompile(api, agent["id"], dry_run=True)

    assert before.startswith("You are a careful archivist.")
    assert "Name: Ada" in before and "Name: Grace" not in before
    assert "Name: Grace" in after and "Name: Ada" not in after
    assert recompile(api, agent["id"], update_timestamp=True) == after


def test_recompiled_prompt_is_the_one_the_next_step_sends(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    prompt = recompile(api, agent["id"])
    fake_llm.script(reply.text("Hello."))

    sent = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": "hi"}]},
    )

    assert sent.status_code == 200, sent.text
    assert fake_llm.chat_requests[-1].json["messages"][0] == {"role": "system", "content": prompt}


def test_dry_run_changes_nothing(api: httpx.Client, agent: dict[str, Any]) -> None:
    stored = api.get(f"/v1/agents/{agent['id']}").json()

    recompile(api, agent["id"], dry_run=True)

    assert api.get(f"/v1/agents/{agent['id']}").json() == stored


def test_recompile_errors_name_what_is_wrong(api: httpx.Client) -> None:
    missing = api.post(f"/v1/agents/{MISSING_AGENT}/recompile")
    bad_flag = api.post(f"/v1/agents/{MISSING_AGENT}/recompile", params={"dry_run": "maybe"})

    assert missing.status_code == 404 and MISSING_AGENT in missing.json()["detail"]
    assert bad_flag.status_code == 422 and "dry_run" in bad_flag.text
