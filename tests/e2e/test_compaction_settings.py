"""Per-agent compaction settings: when the window folds, what stays verbatim, and who
writes the summary with which instructions."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest

from tests.fakes import FakeLLM, reply
from tests.fakes.replies import FakeRequest, Reply

WINDOW = 4000
FILLER = (
    "Here is some more background about my week, the weather, the trains that ran late, "
    "the meetings that ran long, and the groceries I still have to buy before the weekend. "
)
EAGER = {"trigger_fraction": 0.5, "target_fraction": 0.3}


def _is_summarizer(request: FakeRequest) -> bool:
    # Every summarizer prompt, an owner's own included, ends with the budget sentence.
    return "running summary" in request.system_text


def _summarizer_requests(fake_llm: FakeLLM) -> list[FakeRequest]:
    return [r for r in fake_llm.chat_requests if _is_summarizer(r)]


def _folded(request: FakeRequest) -> dict[str, str]:
    """What a summarizer request was given: the current summary and the leaving messages."""
    return json.loads(request.user_texts[-1])


def _numbered_summaries() -> Any:
    counter = itertools.count(1)

    def handler(_request: FakeRequest) -> Reply:
        return reply.text(f"SUMMARY-{next(counter)}")

    return handler


def _agent(api: httpx.Client, compaction: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {
        "name": "compactor",
        "model": "openai/gpt-4o-mini",
        "context_window_limit": WINDOW,
        "memory_blocks": [{"label": "human", "value": "Likes trains."}],
    }
    if compaction is not None:
        body["compaction_settings"] = compaction
    created = api.post("/v1/agents/", json=body)
    assert created.status_code == 200, created.text
    return created.json()["id"]


def _chat(api: httpx.Client, agent_id: str, text: str) -> dict[str, Any]:
    response = api.post(
        f"/v1/agents/{agent_id}/messages", json={"messages": [{"role": "user", "content": text}]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stop_reason"]["stop_reason"] == "end_turn", body
    return body


def _context(api: httpx.Client, agent_id: str) -> dict[str, Any]:
    return api.get(f"/v1/agents/{agent_id}/context").json()


def _user_texts_in_window(api: httpx.Client, agent_id: str) -> list[str]:
    return [
        m["content"]
        for m in _context(api, agent_id)["messages"]
        if m["message_type"] == "user_message"
    ]


def _force_fold(api: httpx.Client, agent_id: str) -> dict[str, Any]:
    folded = api.post(f"/v1/agents/{agent_id}/summarize")
    assert folded.status_code == 200, folded.text
    return folded.json()


# --------------------------------------------------------------------------- when and what


def test_a_lower_trigger_folds_earlier_under_the_same_traffic(
    api: httpx.Client, fake_llm: FakeLLM
) -> None:
    fake_llm.when(_is_summarizer, reply.text("SUMMARY: a long week."))

    def first_fold(agent_id: str) -> int | None:
        first = None
        for turn in range(18):
            before = len(_summarizer_requests(fake_llm))
            _chat(api, agent_id, f"Turn {turn}. {FILLER * 5}")
            if first is None and len(_summarizer_requests(fake_llm)) > before:
                first = turn
        return first

    default_first = first_fold(_agent(api))
    eager = _agent(api, EAGER)
    eager_first = first_fold(eager)
    assert default_first is not None and eager_first is not None
    assert eager_first < default_first
    # Folding down to 30% of the window, the eager agent ends well below the default's 90%.
    assert _context(api, eager)["context_window_size_current"] < 0.6 * WINDOW


def test_the_last_user_turns_stay_verbatim_through_folds(
    api: httpx.Client, fake_llm: FakeLLM
) -> None:
    fake_llm.when(_is_summarizer, reply.text("SUMMARY: notes were taken."))
    agent_id = _agent(api, {**EAGER, "keep_last_user_turns": 3})
    sent = [f"Note {turn}: the code word is kestrel{turn}. {FILLER * 4}" for turn in range(14)]
    after_folds: list[list[str]] = []
    for text in sent:
        folds = len(_summarizer_requests(fake_llm))
        _chat(api, agent_id, text)
        if len(_summarizer_requests(fake_llm)) > folds:
            after_folds.append(_user_texts_in_window(api, agent_id))
    assert len(after_folds) >= 2
    in_window = _user_texts_in_window(api, agent_id)
    assert in_window[-3:] == sent[-3:]
    assert sent[0] not in in_window
    # The target (30%) is out of reach while three turns are kept: each fold left only
    # those and the turn that triggered it (later turns add up again until the next fold).
    assert all(len(window) <= 4 for window in after_folds), after_folds


def test_a_forced_fold_folds_until_one_message_is_left(
    api: httpx.Client, fake_llm: FakeLLM
) -> None:
    fake_llm.when(_is_summarizer, _numbered_summaries())
    agent_id = _agent(api, {"keep_last_user_turns": 2})
    for turn in range(3):
        _chat(api, agent_id, f"Turn {turn}.")
    # The oldest turn that is not kept goes first...
    assert _force_fold(api, agent_id) == {
        "summary": "SUMMARY-1",
        "num_messages_before": 6,
        "num_messages_after": 4,
    }
    assert _user_texts_in_window(api, agent_id) == ["Turn 1.", "Turn 2."]
    # ...then, asked again, the oldest kept turn gives way, and so on down to one message...
    assert _force_fold(api, agent_id)["num_messages_after"] == 2
    assert _force_fold(api, agent_id)["num_messages_after"] == 1
    # ...and with nothing left to fold the answer is the current summary, and no model call.
    assert _force_fold(api, agent_id) == {
        "summary": "SUMMARY-3",
        "num_messages_before": 1,
        "num_messages_after": 1,
    }
    assert len(_summarizer_requests(fake_llm)) == 3


# --------------------------------------------------------------------------- the summarizer


def test_an_owner_prompt_replaces_the_summarizer_instructions(
    api: httpx.Client, fake_llm: FakeLLM
) -> None:
    fake_llm.when(_is_summarizer, reply.text("- likes trains"))
    agent_id = _agent(api, {"prompt": "List the user's facts as short bullets, nothing else."})
    for turn in range(4):
        _chat(api, agent_id, f"Turn {turn}: I like trains.")
    assert _force_fold(api, agent_id)["summary"] == "- likes trains"
    (request,) = _summarizer_requests(fake_llm)
    assert request.system_text.startswith("List the user's facts as short bullets")
    assert "words" in request.system_text  # the budget stays
    assert "Be concrete" not in request.system_text  # the default instructions are gone


def test_each_summary_covers_the_previous_one(api: httpx.Client, fake_llm: FakeLLM) -> None:
    fake_llm.when(_is_summarizer, _numbered_summaries())
    agent_id = _agent(api, {"keep_last_user_turns": 1})
    for turn in range(3):
        _chat(api, agent_id, f"First stretch {turn}.")
    _force_fold(api, agent_id)
    for turn in range(3):
        _chat(api, agent_id, f"Second stretch {turn}.")
    _force_fold(api, agent_id)

    first, second = (_folded(r) for r in _summarizer_requests(fake_llm))
    assert first["current_summary"] == ""
    assert "First stretch 0." in first["messages_leaving_view"]
    assert second["current_summary"] == "SUMMARY-1"
    assert "First stretch 0." not in second["messages_leaving_view"]
    assert _context(api, agent_id)["summary_memory"] == "SUMMARY-2"


def test_the_summary_is_written_by_the_model_the_settings_name(
    api: httpx.Client, fake_llm: FakeLLM
) -> None:
    fake_llm.when(_is_summarizer, reply.text("SUMMARY: small model."))
    agent_id = _agent(api, {"model": "openai/fake-small"})
    for turn in range(3):
        _chat(api, agent_id, f"Turn {turn}.")
    assert _force_fold(api, agent_id)["summary"] == "SUMMARY: small model."
    (request,) = _summarizer_requests(fake_llm)
    assert request.model == "fake-small"
    assert {r.model for r in fake_llm.chat_requests if not _is_summarizer(r)} == {"gpt-4o-mini"}


def test_an_unknown_summarizer_model_falls_back_to_the_agents_own(
    api: httpx.Client, fake_llm: FakeLLM
) -> None:
    fake_llm.when(_is_summarizer, reply.text("SUMMARY: own model."))
    agent_id = _agent(api, {**EAGER, "model": "openai/retired-model"})
    for turn in range(8):
        _chat(api, agent_id, f"Turn {turn}. {FILLER * 5}")
    requests = _summarizer_requests(fake_llm)
    assert requests, "the window never folded"
    assert {r.model for r in requests} == {"gpt-4o-mini"}
    assert _context(api, agent_id)["summary_memory"] == "SUMMARY: own model."


def test_clip_chars_bounds_what_the_summarizer_reads(api: httpx.Client, fake_llm: FakeLLM) -> None:
    fake_llm.when(_is_summarizer, reply.text("SUMMARY: clipped."))
    agent_id = _agent(api, {"clip_chars": 120})
    long_note = f"{FILLER * 4} The tail marker is osprey."
    _chat(api, agent_id, long_note)
    for turn in range(2):
        _chat(api, agent_id, f"Turn {turn}.")
    _force_fold(api, agent_id)
    (request,) = _summarizer_requests(fake_llm)
    leaving = _folded(request)["messages_leaving_view"]
    assert FILLER[:100] in leaving
    assert "osprey" not in leaving
    assert "more characters" in leaving
    # Only what the summarizer reads is clipped: the message itself is whole in recall.
    found = api.get(f"/v1/agents/{agent_id}/messages", params={"limit": 100, "order": "asc"}).json()
    assert found[0]["content"] == long_note


# --------------------------------------------------------------------------- never failing a run


def test_a_failing_summarizer_with_custom_settings_does_not_fail_the_run(
    api: httpx.Client, fake_llm: FakeLLM
) -> None:
    fake_llm.when(_is_summarizer, reply.error(500, "summarizer down", should_retry=False))
    agent_id = _agent(
        api,
        {**EAGER, "model": "openai/fake-small", "prompt": "Bullets only.", "clip_chars": 200},
    )
    sent = [f"Turn {turn}. {FILLER * 5}" for turn in range(12)]
    for text in sent:
        _chat(api, agent_id, text)
    requests = _summarizer_requests(fake_llm)
    assert requests and {r.model for r in requests} == {"fake-small"}
    context = _context(api, agent_id)
    assert "conversation_search" in context["summary_memory"]
    assert context["context_window_size_current"] < WINDOW
    assert _user_texts_in_window(api, agent_id)[-2:] == sent[-2:]


@pytest.mark.slow
def test_one_turn_longer_than_the_window_gives_way(api: httpx.Client, fake_llm: FakeLLM) -> None:
    fake_llm.when(_is_summarizer, reply.text("SUMMARY: many facts were saved."))
    agent_id = _agent(api, {"keep_last_user_turns": 2})
    _chat(api, agent_id, "Hello.")
    saves = [
        reply.tool_call("archival_memory_insert", {"content": f"fact {n}: {FILLER * 6}"})
        for n in range(14)
    ]
    fake_llm.script(*saves, reply.text("All saved."))
    # One turn whose tool calls alone outgrow the window: the kept turns must give way.
    answer = _chat(api, agent_id, f"Save these facts. {FILLER}")
    assert answer["messages"][-1]["content"] == "All saved."
    assert _summarizer_requests(fake_llm), "the window never folded"
    context = _context(api, agent_id)
    assert context["context_window_size_current"] < WINDOW
    assert context["messages"][0]["message_type"] != "tool_return_message"


# --------------------------------------------------------------------------- validation


def _refused(response: httpx.Response, field: str) -> None:
    """A 422 that names ``compaction_settings.<field>`` (ours) or its location (pydantic)."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    if isinstance(detail, str):
        assert f"compaction_settings.{field}" in detail, detail
    else:
        assert any(e["loc"][-2:] == ["compaction_settings", field] for e in detail), detail


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"trigger_fraction": 0.5, "target_fraction": 0.5}, "target_fraction"),
        ({"trigger_fraction": 0.5, "target_fraction": 0.7}, "target_fraction"),
        ({"target_fraction": 0.95}, "target_fraction"),  # above the default trigger
        ({"trigger_fraction": 0.4}, "target_fraction"),  # below the default target
        ({"trigger_fraction": 1.5}, "trigger_fraction"),
        ({"trigger_fraction": 0}, "trigger_fraction"),
        ({"target_fraction": -0.1}, "target_fraction"),
        ({"target_fraction": 1}, "target_fraction"),
        ({"keep_last_user_turns": -1}, "keep_last_user_turns"),
    ],
)
def test_impossible_settings_are_refused_naming_the_field(
    api: httpx.Client, settings: dict[str, Any], field: str
) -> None:
    created = api.post(
        "/v1/agents/",
        json={"name": "refused", "model": "openai/gpt-4o-mini", "compaction_settings": settings},
    )
    _refused(created, field)

    agent_id = _agent(api, {"trigger_fraction": 0.8, "target_fraction": 0.4})
    before = api.get(f"/v1/agents/{agent_id}").json()
    patched = api.patch(f"/v1/agents/{agent_id}", json={"compaction_settings": settings})
    _refused(patched, field)
    assert api.get(f"/v1/agents/{agent_id}").json() == before


def test_settings_are_echoed_and_null_restores_the_defaults(
    api: httpx.Client, fake_llm: FakeLLM
) -> None:
    fake_llm.when(_is_summarizer, reply.text("SUMMARY: defaults."))
    chosen = {**EAGER, "keep_last_user_turns": 1, "prompt": "Be brief.", "clip_chars": 500}
    agent_id = _agent(api, chosen)
    shown = api.get(f"/v1/agents/{agent_id}").json()["compaction_settings"]
    assert {key: shown[key] for key in chosen} == chosen

    patched = api.patch(f"/v1/agents/{agent_id}", json={"compaction_settings": None})
    assert patched.status_code == 200, patched.text
    assert patched.json()["compaction_settings"] is None
    assert api.get(f"/v1/agents/{agent_id}").json()["compaction_settings"] is None
    # Back on the defaults: no fold at 50% of the window, and two turns kept.
    for turn in range(6):
        _chat(api, agent_id, f"Turn {turn}. {FILLER * 5}")
    assert not _summarizer_requests(fake_llm)
    for turn in range(3):
        _chat(api, agent_id, f"Turn {turn}.")
    _force_fold(api, agent_id)
    (request,) = _summarizer_requests(fake_llm)
    assert "Be brief." not in request.system_text
    assert _user_texts_in_window(api, agent_id)[-2:] == ["Turn 1.", "Turn 2."]
