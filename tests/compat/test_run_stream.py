"""Reattaching to a run's stream through letta-client (``client.runs.messages.stream``):
while the run goes on, from ``starting_after``, after it finished and after a restart."""

from __future__ import annotations

import time
from collections.abc import Iterable

import pytest
from letta_client import Letta, NotFoundError, UnprocessableEntityError
from letta_client.types import AgentState, ToolReturnMessage
from letta_client.types.agents import AssistantMessage, ReasoningMessage, ToolCallMessage
from letta_client.types.agents.letta_streaming_response import (
    LettaErrorMessage,
    LettaPing,
    LettaStopReason,
    LettaUsageStatistics,
)

from tests.compat.conftest import AgentFactory, letta_client_for
from tests.fakes import FakeLLM, reply
from tests.support.server import EngramServer

REMEMBER = "remember: my dog is Rex"
EVENT_TYPES = [
    ReasoningMessage,
    ToolCallMessage,
    ToolReturnMessage,
    AssistantMessage,
    LettaStopReason,
    LettaUsageStatistics,
]


def script_remember_rex(fake_llm: FakeLLM, *, answer_delay: float = 0.0) -> None:
    fake_llm.script(
        reply.tool_call(
            "archival_memory_insert", {"content": "my dog is Rex"}, reasoning="Worth keeping."
        ),
        reply.text("Saved: your dog is Rex.", delay=answer_delay),
    )


def without_pings(events: Iterable[object]) -> list[object]:
    return [event for event in events if not isinstance(event, LettaPing)]


def seq_ids(events: list[object]) -> list[int | None]:
    return [getattr(event, "seq_id", None) for event in events]


def wait_until_finished(client: Letta, run_id: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.runs.retrieve(run_id).status
        if status not in ("created", "running"):
            return str(status)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still going after {timeout} s")


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent()


def test_reattach_mid_run_replays_then_follows_until_the_end(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    script_remember_rex(fake_llm, answer_delay=1.5)
    run = client.agents.messages.create_async(agent.id, input=REMEMBER)

    with client.runs.messages.stream(run.id) as stream:
        status_when_attached = client.runs.retrieve(run.id).status
        events = without_pings(stream)

    assert status_when_attached in ("created", "running")
    assert [type(event) for event in events] == EVENT_TYPES
    assert seq_ids(events) == [1, 2, 3, 4, None, None]
    answer, stop, usage = events[3], events[4], events[5]
    assert isinstance(answer, AssistantMessage) and answer.content == "Saved: your dog is Rex."
    assert isinstance(stop, LettaStopReason) and stop.stop_reason == "end_turn"
    assert isinstance(usage, LettaUsageStatistics) and usage.step_count == 2
    assert {getattr(event, "run_id", run.id) for event in events} == {run.id}


def test_reattach_after_the_run_finished_replays_what_the_run_wrote(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    script_remember_rex(fake_llm)
    run = client.agents.messages.create_async(agent.id, input=REMEMBER)
    assert wait_until_finished(client, run.id) == "completed"

    with client.runs.messages.stream(run.id, include_pings=False) as stream:
        events = list(stream)
    # One message a read: a step is still read whole, and the events are the same.
    with client.runs.messages.stream(run.id, include_pings=False, batch_size=1) as stream:
        one_by_one = list(stream)

    assert [type(event) for event in events] == EVENT_TYPES
    assert [e.model_dump(exclude={"date"}) for e in one_by_one] == [
        e.model_dump(exclude={"date"}) for e in events
    ]
    written = [m for m in client.runs.messages.list(run.id) if m.message_type != "user_message"]
    assert [(e.id, e.message_type) for e in events[:4]] == [  # type: ignore[attr-defined]
        (m.id, m.message_type) for m in written
    ]


def test_starting_after_resumes_right_after_the_event_seen_last(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    script_remember_rex(fake_llm, answer_delay=1.0)
    run = client.agents.messages.create_async(agent.id, input=REMEMBER)

    # A client that saw the first two events and lost its connection picks up at the third.
    with client.runs.messages.stream(run.id, starting_after=2) as stream:
        resumed = without_pings(stream)
    with client.runs.messages.stream(run.id, starting_after=4) as stream:
        after_the_end = list(stream)

    assert [type(event) for event in resumed] == EVENT_TYPES[2:]
    assert seq_ids(resumed) == [3, 4, None, None]
    assert [type(event) for event in without_pings(after_the_end)] == EVENT_TYPES[4:]


def test_a_streamed_turn_can_be_followed_from_another_connection(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    script_remember_rex(fake_llm, answer_delay=1.0)
    # The first connection's turn goes on however it is read; a second one follows it.
    with client.agents.messages.create(
        agent.id, input=REMEMBER, streaming=True, include_pings=True
    ) as first:
        ping = next(iter(first))
        assert isinstance(ping, LettaPing) and ping.run_id is not None
        with client.runs.messages.stream(ping.run_id) as second:
            followed = without_pings(second)
        original = without_pings(first)

    assert [type(event) for event in followed] == EVENT_TYPES
    assert [type(event) for event in original] == EVENT_TYPES
    assert [getattr(e, "id", None) for e in followed[:4]] == [
        getattr(e, "id", None) for e in original[:4]
    ]
    # The live stream numbers its events as the reattached one does.
    assert seq_ids(original) == seq_ids(followed) == [1, 2, 3, 4, None, None]


def test_a_client_that_lost_its_stream_resumes_after_the_last_seq_id_it_saw(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    script_remember_rex(fake_llm, answer_delay=1.0)
    seen: list[object] = []
    with client.agents.messages.create(
        agent.id, input=REMEMBER, streaming=True, background=True
    ) as live:
        for event in live:
            seen.append(event)
            if isinstance(event, ToolReturnMessage):
                break  # the connection drops here, before the slow answer
    run_id = seen[0].run_id  # type: ignore[attr-defined]
    last_seq_id = seq_ids(seen)[-1]
    assert isinstance(last_seq_id, int)

    with client.runs.messages.stream(run_id, starting_after=last_seq_id) as stream:
        rest = without_pings(stream)

    assert [type(event) for event in without_pings(seen) + rest] == EVENT_TYPES
    assert seq_ids(without_pings(seen) + rest) == [1, 2, 3, 4, None, None]


def test_token_chunks_resume_with_their_message_whole(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    script_remember_rex(fake_llm)
    with client.agents.messages.create(
        agent.id, input=REMEMBER, streaming=True, stream_tokens=True, include_pings=False
    ) as live:
        chunks = list(live)
    answer_chunks = [e for e in chunks if isinstance(e, AssistantMessage)]
    assert len(answer_chunks) > 1
    # A chunk carries the number of the last whole event before it (the tool's result).
    assert {chunk.seq_id for chunk in answer_chunks} == {3}

    with client.runs.messages.stream(
        chunks[0].run_id,  # type: ignore[union-attr]
        starting_after=3,
        include_pings=False,
    ) as stream:
        resumed = list(stream)

    assert [type(event) for event in resumed] == EVENT_TYPES[3:]
    answer = resumed[0]
    assert isinstance(answer, AssistantMessage) and answer.content == "Saved: your dog is Rex."
    assert answer.id == answer_chunks[0].id
    assert seq_ids(resumed) == [4, None, None]


def test_messages_given_as_input_are_not_replayed(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.script(reply.text("Rex, yes."))
    given = [
        {"role": "assistant", "content": "Earlier I said your dog is Rex."},
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "what is my dog called?"},
    ]
    with client.agents.messages.create(
        agent.id, messages=given, streaming=True, include_pings=False
    ) as live:
        original = list(live)
    run_id = original[0].run_id  # type: ignore[union-attr]

    with client.runs.messages.stream(run_id, include_pings=False) as stream:
        replayed = list(stream)

    kinds = [event.message_type for event in replayed]
    assert kinds == ["assistant_message", "stop_reason", "usage_statistics"]
    assert kinds == [event.message_type for event in original]
    assert replayed[0].content == "Rex, yes."  # type: ignore[union-attr]


def test_a_failed_run_replays_its_error_as_the_live_stream_sent_it(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.script(reply.error(400, "bad request from the fake"))
    with client.agents.messages.create(
        agent.id, input="hi", streaming=True, include_pings=False
    ) as live:
        original = list(live)
    run_id = original[0].run_id  # type: ignore[union-attr]

    with client.runs.messages.stream(run_id, include_pings=False) as stream:
        replayed = list(stream)

    assert [type(event) for event in replayed] == [
        LettaErrorMessage,
        LettaStopReason,
        LettaUsageStatistics,
    ]
    assert [type(event) for event in original] == [type(event) for event in replayed]
    error, stop = replayed[0], replayed[1]
    assert isinstance(error, LettaErrorMessage) and error.error_type == "llm_api_error"
    assert "bad request from the fake" in error.message
    assert isinstance(stop, LettaStopReason) and stop.stop_reason == "llm_api_error"
    assert seq_ids(replayed) == seq_ids(original) == [1, None, None]


def test_unknown_runs_and_bad_options_are_refused_before_the_stream(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.script(reply.text("Hi."))
    run = client.agents.messages.create_async(agent.id, input="hi")
    wait_until_finished(client, run.id)

    with pytest.raises(NotFoundError):
        client.runs.messages.stream("run-00000000-0000-4000-8000-000000000000")
    bad = [
        ({"starting_after": -1}, "starting_after"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"batch_size": 0}, "batch_size"),
        ({"agent_id": "agent-someone-else"}, "agent_id"),
        ({"body_run_id": "run-another"}, "run_id"),
        ({"otid": "an-otid"}, "otid"),
    ]
    for options, field in bad:
        with pytest.raises(UnprocessableEntityError) as refused:
            client.runs.messages.stream(run.id, **options)  # type: ignore[arg-type]
        assert field in str(refused.value.body), options


def test_a_finished_run_replays_the_same_after_a_restart(
    fresh_server: EngramServer, fake_llm: FakeLLM
) -> None:
    fresh_server.start()
    script_remember_rex(fake_llm)
    with letta_client_for(fresh_server) as client:
        agent = client.agents.create(model="openai/gpt-4o-mini")
        run = client.agents.messages.create_async(agent.id, input=REMEMBER)
        assert wait_until_finished(client, run.id) == "completed"
        with client.runs.messages.stream(run.id, include_pings=False) as stream:
            before = [event.model_dump(exclude={"date"}) for event in stream]

    fresh_server.stop()
    fresh_server.start()
    with (
        letta_client_for(fresh_server) as client,
        client.runs.messages.stream(run.id, include_pings=False) as stream,
    ):
        after = [event.model_dump(exclude={"date"}) for event in stream]

    assert [event["message_type"] for event in after] == [
        "reasoning_message",
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
        "stop_reason",
        "usage_statistics",
    ]
    assert after == before


def test_a_run_cut_short_by_a_restart_replays_its_steps_and_how_it_ended(
    fresh_server: EngramServer, fake_llm: FakeLLM
) -> None:
    fresh_server.start()
    script_remember_rex(fake_llm, answer_delay=30.0)
    with letta_client_for(fresh_server) as client:
        agent = client.agents.create(model="openai/gpt-4o-mini")
        run = client.agents.messages.create_async(agent.id, input=REMEMBER)
        deadline = time.monotonic() + 30
        while not any(
            m.message_type == "tool_return_message" for m in client.runs.messages.list(run.id)
        ):
            assert time.monotonic() < deadline, "the first step never committed"
            time.sleep(0.05)

    fresh_server.stop()  # the second step is still waiting on the model
    fresh_server.start()
    with (
        letta_client_for(fresh_server) as client,
        client.runs.messages.stream(run.id, include_pings=False) as stream,
    ):
        events = list(stream)
        ended = client.runs.retrieve(run.id)

    assert [type(event) for event in events[:3]] == EVENT_TYPES[:3]
    assert seq_ids(events[:3]) == [1, 2, 3]
    stop = events[-2]
    assert isinstance(stop, LettaStopReason) and stop.stop_reason == ended.stop_reason
    assert ended.status in ("cancelled", "failed")
    assert isinstance(events[-1], LettaUsageStatistics)


def test_runs_that_ask_for_and_answer_an_approval_replay_as_they_streamed(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        tool_rules=[{"type": "requires_approval", "tool_name": "archival_memory_insert"}]
    )
    fake_llm.script(reply.tool_call("archival_memory_insert", {"content": "Likes tea."}))
    with client.agents.messages.create(
        agent.id, input="Remember that I like tea.", streaming=True, include_pings=False
    ) as live:
        asked = list(live)
    request_id = asked[0].id  # type: ignore[union-attr]
    fake_llm.script(reply.text("Saved."))
    with client.agents.messages.create(
        agent.id,
        messages=[{"type": "approval", "approve": True, "approval_request_id": request_id}],
        streaming=True,
        include_pings=False,
    ) as live:
        answered = list(live)

    for original in (asked, answered):
        run_id = original[0].run_id  # type: ignore[union-attr]
        with client.runs.messages.stream(run_id, include_pings=False) as stream:
            replayed = list(stream)
        assert [(getattr(e, "id", None), e.message_type, seq_ids([e])) for e in replayed] == [
            (getattr(e, "id", None), e.message_type, seq_ids([e])) for e in original
        ]
    assert [e.message_type for e in asked][:1] == ["approval_request_message"]
    assert [e.message_type for e in answered][:3] == [
        "approval_response_message",
        "tool_return_message",
        "assistant_message",
    ]


def test_an_otid_of_the_runs_message_finds_it_and_one_of_another_run_is_refused(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.script(reply.text("First."), reply.text("Second."))
    first = client.agents.messages.create_async(
        agent.id, messages=[{"role": "user", "content": "one", "otid": "otid-first"}]
    )
    wait_until_finished(client, first.id)
    second = client.agents.messages.create_async(
        agent.id, messages=[{"role": "user", "content": "two", "otid": "otid-second"}]
    )
    wait_until_finished(client, second.id)

    with client.runs.messages.stream(first.id, otid="otid-first", include_pings=False) as stream:
        events = list(stream)
    with pytest.raises(UnprocessableEntityError) as other_run:
        client.runs.messages.stream(first.id, otid="otid-second")

    assert [e.content for e in events if isinstance(e, AssistantMessage)] == ["First."]
    assert "otid" in str(other_run.value.body) and second.id in str(other_run.value.body)
