"""Step feedback, metrics and traces over HTTP: feedback stored and filterable in the step
listing, and each step's own timings (prompt, model call, tools, write) read back as
Letta's StepMetrics and as Engram's spans."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory
from tests.fakes import FakeLLM, reply

USER = [{"role": "user", "content": "remember: my dog is Rex"}]
MISSING_STEP = "step-00000000-0000-4000-8000-000000000000"
MISSING_RUN = "run-00000000-0000-4000-8000-000000000000"
PHASES = ["step", "context", "llm", "tools", "database"]


@pytest.fixture
def agent(make_agent: AgentFactory) -> dict[str, Any]:
    return make_agent()


def run_two_steps(api: httpx.Client, fake_llm: FakeLLM, agent_id: str) -> tuple[str, list[Any]]:
    """A turn of two steps, the second model call slow; returns the run and its steps."""
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "my dog is Rex"}),
        reply.text("Saved.", delay=0.3),
    )
    response = api.post(f"/v1/agents/{agent_id}/messages", json={"messages": USER})
    assert response.status_code == 200, response.text
    run_id = response.json()["messages"][0]["run_id"]
    steps = api.get(f"/v1/runs/{run_id}/steps").json()
    assert len(steps) == 2
    return run_id, steps


def listed(api: httpx.Client, **params: Any) -> list[str]:
    response = api.get("/v1/steps/", params=params)
    assert response.status_code == 200, response.text
    return [step["id"] for step in response.json()]


def test_feedback_is_stored_and_filters_the_step_listing(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    _, (first, second) = run_two_steps(api, fake_llm, agent["id"])

    liked = api.patch(
        f"/v1/steps/{first['id']}/feedback", json={"feedback": "positive", "tags": ["kind"]}
    )
    disliked = api.patch(f"/v1/steps/{second['id']}/feedback", json={"feedback": "negative"})

    assert liked.status_code == 200, liked.text
    assert (liked.json()["feedback"], liked.json()["tags"]) == ("positive", ["kind"])
    assert disliked.json()["feedback"] == "negative"
    assert api.get(f"/v1/steps/{first['id']}").json()["feedback"] == "positive"
    mine = {"agent_id": agent["id"]}
    assert listed(api, feedback="positive", **mine) == [first["id"]]
    assert listed(api, feedback="negative", **mine) == [second["id"]]
    assert set(listed(api, has_feedback=True, **mine)) == {first["id"], second["id"]}
    assert listed(api, has_feedback=False, **mine) == []
    assert listed(api, tags=["kind"], **mine) == [first["id"]]
    assert listed(api, tags=["other", "kind"], **mine) == [first["id"]]
    assert listed(api, tags=["kin"], **mine) == []


def test_feedback_adds_tags_keeps_a_verdict_left_out_and_clears_with_null(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    _, (step, _) = run_two_steps(api, fake_llm, agent["id"])
    path = f"/v1/steps/{step['id']}/feedback"

    api.patch(path, json={"feedback": "positive", "tags": ["a", "b"]})
    tagged = api.patch(path, json={"tags": ["b", "c", "c"]}).json()
    cleared = api.patch(path, json={"feedback": None}).json()

    assert (tagged["feedback"], tagged["tags"]) == ("positive", ["a", "b", "c"])
    assert (cleared["feedback"], cleared["tags"]) == (None, ["a", "b", "c"])
    assert listed(api, agent_id=agent["id"], has_feedback=True) == []


def test_bad_feedback_is_a_422_naming_the_field_and_changes_nothing(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    _, (step, _) = run_two_steps(api, fake_llm, agent["id"])
    before = api.get(f"/v1/steps/{step['id']}").json()

    bad = api.patch(f"/v1/steps/{step['id']}/feedback", json={"feedback": "meh"})
    bad_tags = api.patch(f"/v1/steps/{step['id']}/feedback", json={"tags": "one"})
    missing = api.patch(f"/v1/steps/{MISSING_STEP}/feedback", json={"feedback": "positive"})

    assert bad.status_code == 422 and "feedback" in bad.text
    assert bad_tags.status_code == 422 and "tags" in bad_tags.text
    assert missing.status_code == 404 and MISSING_STEP in missing.json()["detail"]
    assert api.get(f"/v1/steps/{step['id']}").json() == before
    assert api.get("/v1/steps/", params={"feedback": "meh"}).status_code == 422


def test_step_metrics_split_the_step_into_its_phases(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    run_id, (_, slow) = run_two_steps(api, fake_llm, agent["id"])

    metrics = api.get(f"/v1/steps/{slow['id']}/metrics").json()

    assert (metrics["id"], metrics["run_id"], metrics["agent_id"]) == (
        slow["id"],
        run_id,
        agent["id"],
    )
    # The scripted model call took 0.3 s: the LLM phase holds it, the step holds all phases.
    assert metrics["llm_request_ns"] >= 300_000_000
    assert metrics["step_ns"] >= (
        metrics["context_ns"]
        + metrics["llm_request_ns"]
        + metrics["tool_execution_ns"]
        + metrics["database_ns"]
    )
    assert metrics["llm_request_start_ns"] == metrics["step_start_ns"] + metrics["context_ns"]
    assert metrics["step_ns"] == pytest.approx(slow["duration_ms"] * 1e6, abs=1)
    assert api.get(f"/v1/steps/{MISSING_STEP}/metrics").status_code == 404


def test_step_trace_answers_provider_trace_fields_with_engram_spans(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    _, (_, slow) = run_two_steps(api, fake_llm, agent["id"])

    trace = api.get(f"/v1/steps/{slow['id']}/trace").json()

    assert trace["step_id"] == slow["id"]
    assert trace["response_json"]["usage"]["prompt_tokens"] == slow["prompt_tokens"]
    assert isinstance(trace["request_json"], dict)
    assert [span["name"] for span in trace["spans"]] == PHASES
    llm = next(span for span in trace["spans"] if span["name"] == "llm")
    assert llm["duration_ns"] >= 300_000_000
    assert api.get(f"/v1/steps/{MISSING_STEP}/trace").status_code == 404


def test_run_trace_lists_each_step_then_its_phases_in_order_up_to_limit(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    run_id, steps = run_two_steps(api, fake_llm, agent["id"])

    spans = api.get(f"/v1/runs/{run_id}/trace").json()
    first_three = api.get(f"/v1/runs/{run_id}/trace", params={"limit": 3}).json()

    assert [span["name"] for span in spans] == PHASES * 2
    assert [span["step_id"] for span in spans] == [steps[0]["id"]] * 5 + [steps[1]["id"]] * 5
    starts = [span["start_ns"] for span in spans]
    assert starts[1:5] == sorted(starts[1:5]) and starts[5] >= starts[0]
    assert first_three == spans[:3]
    assert api.get(f"/v1/runs/{run_id}/trace", params={"limit": 0}).status_code == 422
    assert api.get(f"/v1/runs/{run_id}/trace", params={"limit": 5001}).status_code == 422
    assert api.get(f"/v1/runs/{MISSING_RUN}/trace").status_code == 404
