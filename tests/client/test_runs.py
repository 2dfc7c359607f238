"""Runs and steps through the in-process client: the same records, in the same shapes, as
the REST API answers for them; bad arguments are errors naming the argument."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engram import Engram
from engram.errors import InvalidInput, NotFound
from tests.client.rest import create_agent, database_target, ok, rest_api, send
from tests.fakes import FakeLLM, reply
from tests.support.backends import Backend


@pytest.fixture
def target(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> str:
    return database_target(fake_llm, tmp_path, backend, monkeypatch)


def two_turns(target: str, fake_llm: FakeLLM) -> tuple[str, str, dict[str, Any]]:
    """An agent with two finished runs (the first with a memory edit, two steps), and
    what the REST API answers about them: (agent id, first run id, answers by name)."""
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Has a dog, Rex."}),
        reply.text("Noted: your dog is Rex."),
        reply.text("Hello again."),
    )
    with rest_api(target) as http:
        agent = create_agent(http, memory_blocks=[{"label": "human", "value": "Name: Ada"}])
        first = send(http, agent["id"], "remember: my dog is Rex")["messages"][0]["run_id"]
        send(http, agent["id"], "hi")
        steps = ok(http.get(f"/v1/runs/{first}/steps"))
        step_id = steps[0]["id"]
        answers = {
            "runs": ok(http.get("/v1/runs/", params={"agent_id": agent["id"]})),
            "runs_asc": ok(http.get("/v1/runs/", params={"order": "asc", "limit": 1})),
            "run": ok(http.get(f"/v1/runs/{first}")),
            "messages": ok(http.get(f"/v1/runs/{first}/messages")),
            "messages_desc": ok(http.get(f"/v1/runs/{first}/messages", params={"order": "desc"})),
            "steps": steps,
            "usage": ok(http.get(f"/v1/runs/{first}/usage")),
            "all_steps": ok(http.get("/v1/steps/", params={"agent_id": agent["id"]})),
            "step": ok(http.get(f"/v1/steps/{step_id}")),
            "step_messages": ok(http.get(f"/v1/steps/{step_id}/messages")),
            "history": ok(http.get(f"/v1/agents/{agent['id']}/messages")),
        }
    return agent["id"], first, answers


def dumped(items: list[Any]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]


def test_runs_and_their_records_read_as_the_rest_api_answers_them(
    target: str, fake_llm: FakeLLM
) -> None:
    agent_id, run_id, rest = two_turns(target, fake_llm)

    with Engram.open(target) as client:
        runs = client.runs.list(agent_id=agent_id)
        oldest = client.runs.list(order="asc", limit=1)
        run = client.runs.retrieve(run_id)
        messages = client.runs.messages.list(run_id)
        newest_messages = client.runs.messages.list(run_id, order="desc")
        steps = client.runs.steps.list(run_id)
        usage = client.runs.usage.retrieve(run_id)

    assert dumped(runs) == rest["runs"] and len(runs) == 2
    assert runs[0].created_at >= runs[1].created_at, "newest first"
    assert dumped(oldest) == rest["runs_asc"]
    assert run.model_dump() == rest["run"]
    assert (run.id, run.agent_id, run.status, run.stop_reason) == (
        run_id,
        agent_id,
        "completed",
        "end_turn",
    )
    assert dumped(messages) == rest["messages"]
    assert dumped(newest_messages) == rest["messages_desc"]
    assert [m.message_type for m in messages][-1] == "assistant_message"
    assert dumped(steps) == rest["steps"] and len(steps) == 2
    assert usage.model_dump() == rest["usage"]
    assert usage.total_tokens == sum(step.total_tokens or 0 for step in steps) > 0


def test_steps_read_as_the_rest_api_answers_them(target: str, fake_llm: FakeLLM) -> None:
    agent_id, _, rest = two_turns(target, fake_llm)
    step_id = rest["step"]["id"]

    with Engram.open(target) as client:
        steps = client.steps.list(agent_id=agent_id)
        step = client.steps.retrieve(step_id)
        written = client.steps.messages.list(step_id)
        later = client.steps.list(agent_id=agent_id, start_date="2999-01-01")
        earlier = client.steps.list(agent_id=agent_id, end_date="2999-01-01T00:00:00Z")
        with_feedback = client.steps.list(agent_id=agent_id, has_feedback=True)

    assert dumped(steps) == rest["all_steps"] and len(steps) == 3
    assert step.model_dump() == rest["step"]
    assert dumped(written) == rest["step_messages"]
    assert later == [] and len(earlier) == 3
    assert with_feedback == [], "Engram records no feedback"


def test_deleting_a_run_forgets_it_and_its_steps_and_keeps_the_history(
    target: str, fake_llm: FakeLLM
) -> None:
    agent_id, run_id, rest = two_turns(target, fake_llm)

    with Engram.open(target) as client:
        deleted = client.runs.delete(run_id)
        with pytest.raises(NotFound) as gone:
            client.runs.retrieve(run_id)
        with pytest.raises(NotFound):
            client.steps.retrieve(rest["step"]["id"])
        remaining = client.runs.list(agent_id=agent_id)

    assert deleted.model_dump() == rest["run"]
    assert gone.value.kind == "run" and gone.value.ident == run_id
    assert [run.id for run in remaining] == [rest["runs"][0]["id"]]
    with rest_api(target) as http:
        assert http.get(f"/v1/runs/{run_id}").status_code == 404
        assert ok(http.get(f"/v1/agents/{agent_id}/messages")) == rest["history"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.runs.list(limit=0), "limit"),
        (lambda c: c.runs.list(limit=1001), "limit"),
        (lambda c: c.runs.list(order="sideways"), "order"),
        (lambda c: c.runs.list(order_by="name"), "order_by"),
        (lambda c: c.runs.list(statuses=["finished"]), "statuses"),
        (lambda c: c.runs.list(stop_reason="bored"), "stop_reason"),
        (lambda c: c.runs.messages.list("run-x", limit=0), "limit"),
        (lambda c: c.runs.steps.list("run-x", order="up"), "order"),
        (lambda c: c.steps.list(start_date="yesterday"), "start_date"),
        (lambda c: c.steps.list(end_date="2026-13-45"), "end_date"),
        (lambda c: c.steps.list(feedback="meh"), "feedback"),
        (lambda c: c.steps.messages.list("step-x", limit=5000), "limit"),
    ],
)
def test_bad_arguments_are_errors_naming_the_argument(
    engram_client: Engram, call: Any, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        call(engram_client)

    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        (lambda c: c.runs.retrieve("run-missing"), "run"),
        (lambda c: c.runs.delete("run-missing"), "run"),
        (lambda c: c.runs.messages.list("run-missing"), "run"),
        (lambda c: c.runs.steps.list("run-missing"), "run"),
        (lambda c: c.runs.usage.retrieve("run-missing"), "run"),
        (lambda c: c.runs.list(after="run-missing"), "run"),
        (lambda c: c.steps.retrieve("step-missing"), "step"),
        (lambda c: c.steps.messages.list("step-missing"), "step"),
    ],
)
def test_unknown_ids_are_not_found_naming_the_id(
    engram_client: Engram, call: Any, kind: str
) -> None:
    with pytest.raises(NotFound) as missing:
        call(engram_client)

    assert missing.value.kind == kind and missing.value.ident == f"{kind}-missing"


def test_a_conversation_id_matches_no_run(engram_client: Engram) -> None:
    assert engram_client.runs.list(conversation_id="conv-1") == []


def test_a_runs_stream_replays_as_the_rest_api_sends_it(target: str, fake_llm: FakeLLM) -> None:
    _, run_id, _ = two_turns(target, fake_llm)
    with rest_api(target) as http:
        sent = http.post(f"/v1/runs/{run_id}/stream", json={"include_pings": False})
    assert sent.status_code == 200
    data = [line[len("data: ") :] for line in sent.text.splitlines() if line.startswith("data: ")]
    rest = [json.loads(item) for item in data[:-1]]

    with Engram.open(target) as client:
        events = list(client.runs.messages.stream(run_id, include_pings=False))
        resumed = list(client.runs.messages.stream(run_id, starting_after=2))
        with pytest.raises(NotFound):
            list(client.runs.messages.stream("run-unknown"))
        with pytest.raises(InvalidInput) as refused:
            list(client.runs.messages.stream(run_id, starting_after=-1))

    assert data[-1] == "[DONE]"
    seen = [(e.model_dump().get("seq_id"), e.model_dump()["message_type"]) for e in events]
    assert seen == [(event.get("seq_id"), event["message_type"]) for event in rest]
    assert [kind for _, kind in seen][-2:] == ["stop_reason", "usage_statistics"]
    assert [
        e.model_dump().get("seq_id") for e in resumed if e.model_dump()["message_type"] != "ping"
    ] == [event.get("seq_id") for event in rest[2:]]
    assert refused.value.field == "starting_after"
