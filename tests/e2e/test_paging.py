"""Past the window: old messages fold into a summary, stay searchable, and the numbers add up."""

from __future__ import annotations

import json

import httpx

from tests.fakes import FakeLLM, reply
from tests.fakes.replies import FakeRequest

WINDOW = 4000
FILLER = (
    "Here is some more background about my week, the weather, the trains that ran late, "
    "the meetings that ran long, and the groceries I still have to buy before the weekend. "
)


def _is_summarizer(request: FakeRequest) -> bool:
    return "running summary" in request.system_text


def _agent(api: httpx.Client) -> str:
    created = api.post(
        "/v1/agents/",
        json={
            "name": "pager",
            "model": "openai/gpt-4o-mini",
            "context_window_limit": WINDOW,
            "memory_blocks": [{"label": "human", "value": "Likes trains."}],
        },
    )
    assert created.status_code == 200, created.text
    return created.json()["id"]


def _chat(api: httpx.Client, agent_id: str, text: str) -> dict:
    response = api.post(
        f"/v1/agents/{agent_id}/messages", json={"messages": [{"role": "user", "content": text}]}
    )
    assert response.status_code == 200, response.text
    return response.json()


def _context(api: httpx.Client, agent_id: str) -> dict:
    return api.get(f"/v1/agents/{agent_id}/context").json()


def test_window_folds_into_summary_and_evicted_text_stays_searchable(
    api: httpx.Client, fake_llm: FakeLLM
) -> None:
    fake_llm.when(_is_summarizer, reply.text("SUMMARY: the user described a long week."))
    agent_id = _agent(api)
    sent = [f"Note {turn}: the code word is kestrel{turn}. {FILLER * 5}" for turn in range(24)]
    for text in sent:
        _chat(api, agent_id, text)

    summarizer_calls = [r for r in fake_llm.chat_requests if _is_summarizer(r)]
    assert summarizer_calls, "the window never folded"
    # The agent's own calls never exceeded the window.
    context = _context(api, agent_id)
    assert context["context_window_size_max"] == WINDOW
    assert context["context_window_size_current"] < WINDOW
    assert context["summary_memory"].startswith("SUMMARY")
    parts = (
        context["num_tokens_system"]
        + context["num_tokens_core_memory"]
        + context["num_tokens_summary_memory"]
        + context["num_tokens_functions_definitions"]
        + context["num_tokens_messages"]
    )
    assert parts == context["context_window_size_current"]
    assert context["num_recall_memory"] == 48
    assert context["num_messages"] < 48
    assert len(context["messages"]) == context["num_messages"]
    # By default the last two user turns never fold: they are in the window word for word.
    users = [m["content"] for m in context["messages"] if m["message_type"] == "user_message"]
    assert users[-2:] == sent[-2:]

    # The first note left the window but every message is still in the history...
    in_window = json.dumps(context["messages"])
    assert "kestrel0." not in in_window
    history = api.get(f"/v1/agents/{agent_id}/messages", params={"limit": 1000}).json()
    assert sum(1 for m in history if m["message_type"] == "user_message") == 24

    # ...and the agent finds it with conversation_search.
    fake_llm.script(
        reply.tool_call("conversation_search", {"query": "kestrel0"}),
        reply.text("Found it."),
    )
    answer = _chat(api, agent_id, "What was the first code word?")
    returned = [m for m in answer["messages"] if m["message_type"] == "tool_return_message"]
    assert returned[0]["status"] == "success"
    assert "kestrel0." in returned[0]["tool_return"]


def test_tool_call_and_result_are_never_split(api: httpx.Client, fake_llm: FakeLLM) -> None:
    fake_llm.when(_is_summarizer, reply.text("SUMMARY: tools were used."))
    agent_id = _agent(api)
    for turn in range(12):
        fake_llm.script(
            reply.tool_call("archival_memory_insert", {"content": f"fact {turn}: {FILLER * 3}"}),
            reply.text("Saved."),
        )
        _chat(api, agent_id, f"Remember fact {turn}. {FILLER * 3}")
    # The fake rejects (400) any request whose tool results lack their calls, so every turn
    # succeeding proves it; check the window explicitly too.
    window = _context(api, agent_id)["messages"]
    assert window[0]["message_type"] != "tool_return_message"
    assert any(r for r in fake_llm.chat_requests if _is_summarizer(r))


def test_failing_summarizer_falls_back_to_a_truncation_note(
    api: httpx.Client, fake_llm: FakeLLM
) -> None:
    fake_llm.when(_is_summarizer, reply.error(500, "summarizer down", should_retry=False))
    agent_id = _agent(api)
    for turn in range(24):
        result = _chat(api, agent_id, f"Turn {turn}. {FILLER * 5}")
        assert result["stop_reason"]["stop_reason"] == "end_turn"
    context = _context(api, agent_id)
    assert "conversation_search" in context["summary_memory"]
    assert context["context_window_size_current"] < WINDOW


def test_forced_summarize_endpoint_folds(api: httpx.Client, fake_llm: FakeLLM) -> None:
    fake_llm.when(_is_summarizer, reply.text("SUMMARY: forced."))
    agent_id = _agent(api)
    for turn in range(4):
        _chat(api, agent_id, f"Turn {turn}.")
    before = _context(api, agent_id)["num_messages"]
    folded = api.post(f"/v1/agents/{agent_id}/summarize")
    assert folded.status_code == 200, folded.text
    body = folded.json()
    assert body["num_messages_before"] == before
    assert body["num_messages_after"] < before
    assert body["summary"] == "SUMMARY: forced."
