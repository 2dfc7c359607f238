"""Agent settings Letta users send on create and update, through letta-client: the agent's
clock (``timezone``), a window emptied after each turn (``message_buffer_autoclear``), the
messages an agent starts with (``initial_message_sequence``, put back by
``reset-messages``), the window set by ``message_ids``, and the last run's fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from letta_client import Letta, UnprocessableEntityError
from letta_client.types import AgentState, ToolReturnMessage

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply

GREETING = [
    {"role": "user", "content": "My name is Ada and I keep bees."},
    {"role": "assistant", "content": "Hello Ada! Bees are wonderful."},
]


def _system(fake_llm: FakeLLM, index: int = -1) -> str:
    return str(fake_llm.chat_requests[index].json["messages"][0]["content"])


def _sent_texts(fake_llm: FakeLLM, index: int = -1) -> list[str]:
    """The contents of the messages after the system prompt in one model request."""
    return [str(m.get("content")) for m in fake_llm.chat_requests[index].json["messages"][1:]]


def _context(client: Letta, agent_id: str) -> dict[str, Any]:
    return client.get(f"/v1/agents/{agent_id}/context", cast_to=dict[str, Any])


# --------------------------------------------------------------------------- timezone


def test_the_agents_clock_shows_in_its_prompt_and_memory_tools(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        timezone="Asia/Tokyo", memory_blocks=[{"label": "human", "value": "Name: Ada"}]
    )
    client.agents.passages.create(agent.id, text="Ada keeps bees on the roof.")
    fake_llm.script(
        reply.tool_call("archival_memory_search", {"query": "bees"}), reply.text("Found it.")
    )

    answer = client.agents.messages.create(agent.id, input="What about bees?")

    assert agent.timezone == "Asia/Tokyo"
    assert client.agents.retrieve(agent.id).timezone == "Asia/Tokyo"
    assert "+09:00" in _system(fake_llm, 0)  # core memory's last edit, on the agent's clock
    (result,) = [m for m in answer.messages if isinstance(m, ToolReturnMessage)]
    hits = json.loads(str(result.tool_return))
    assert hits and all(hit["timestamp"].endswith("+09:00") for hit in hits)


def _zone_on_another_day() -> str:
    """A zone whose date differs from UTC's right now (one of the two always does)."""
    today = datetime.now(UTC).date()
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        if datetime.now(ZoneInfo(zone)).date() != today:
            return zone
    raise AssertionError("UTC-11 and UTC+14 share UTC's date: impossible")


def test_recall_assist_dates_its_hits_on_the_agents_clock(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    zone = _zone_on_another_day()
    # recall_assist is Engram's addition: letta-client sends it through extra_body.
    agent = make_agent(timezone=zone, extra_body={"recall_assist": {"enabled": True}})
    client.agents.passages.create(agent.id, text="Ada's dog Biscuit loves the beach.")
    fake_llm.script(reply.text("Biscuit!"))

    client.agents.messages.create(agent.id, input="What is my dog called?")

    system = _system(fake_llm, 0)
    local_day = datetime.now(ZoneInfo(zone)).date().isoformat()
    assert f"archival, {local_day}]" in system
    assert f"archival, {datetime.now(UTC).date().isoformat()}]" not in system


def test_an_agent_without_a_timezone_reads_utc(make_agent: AgentFactory) -> None:
    assert make_agent().timezone == "UTC"


def test_the_timezone_changes_on_update(client: Letta, make_agent: AgentFactory) -> None:
    agent = make_agent(timezone="Europe/Paris")

    changed = client.agents.update(agent.id, timezone="America/New_York")
    kept = client.agents.update(agent.id, description="unrelated change")

    assert changed.timezone == "America/New_York"
    assert kept.timezone == "America/New_York"


def test_a_timezone_that_is_no_iana_name_is_refused(
    client: Letta, make_agent: AgentFactory
) -> None:
    agent = make_agent(timezone="Europe/Paris")

    with pytest.raises(UnprocessableEntityError) as on_create:
        client.agents.create(model=agent.model, timezone="Mars/Olympus_Mons")
    with pytest.raises(UnprocessableEntityError) as on_update:
        client.agents.update(agent.id, timezone="GMT+25")

    assert "timezone" in str(on_create.value) and "timezone" in str(on_update.value)
    assert client.agents.retrieve(agent.id).timezone == "Europe/Paris"


# --------------------------------------------------------------- message_buffer_autoclear


def test_autoclear_keeps_no_messages_between_turns(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(message_buffer_autoclear=True)
    fake_llm.script(reply.text("Noted."), reply.text("Hello again."))

    client.agents.messages.create(agent.id, input="Remember the number 41.")
    between = client.agents.retrieve(agent.id)
    client.agents.messages.create(agent.id, input="Hi there.")

    assert agent.message_buffer_autoclear is True
    assert between.message_ids == []
    assert _sent_texts(fake_llm) == ["Hi there."]
    history = [m.message_type for m in client.agents.messages.list(agent.id).items]
    assert history.count("user_message") == 2  # the history keeps every message


def test_autoclear_can_be_switched_on_and_off(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("one"), reply.text("two"), reply.text("three"))
    client.agents.messages.create(agent.id, input="First.")

    on = client.agents.update(agent.id, message_buffer_autoclear=True)
    client.agents.messages.create(agent.id, input="Second.")
    cleared = client.agents.retrieve(agent.id)
    off = client.agents.update(agent.id, message_buffer_autoclear=False)
    client.agents.messages.create(agent.id, input="Third.")

    assert on.message_buffer_autoclear is True and off.message_buffer_autoclear is False
    assert cleared.message_ids == []
    assert len(client.agents.retrieve(agent.id).message_ids or []) == 2


# -------------------------------------------------------------- initial_message_sequence


def test_initial_messages_start_the_window_and_the_history(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(initial_message_sequence=GREETING)
    fake_llm.script(reply.text("You keep bees."))

    client.agents.messages.create(agent.id, input="What do I keep?")

    assert len(agent.message_ids or []) == 2
    listed = client.agents.messages.list(agent.id, order="asc").items
    assert [m.message_type for m in listed[:2]] == ["user_message", "assistant_message"]
    assert _sent_texts(fake_llm)[:3] == [
        "My name is Ada and I keep bees.",
        "Hello Ada! Bees are wonderful.",
        "What do I keep?",
    ]


def test_reset_can_put_the_initial_messages_back(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(initial_message_sequence=GREETING)
    fake_llm.script(reply.text("Hi."))
    client.agents.messages.create(agent.id, input="Hello.")

    emptied = client.agents.messages.reset(agent.id)
    restarted = client.agents.messages.reset(agent.id, add_default_initial_messages=True)

    assert emptied.message_ids == []
    assert len(restarted.message_ids or []) == 2
    assert set(restarted.message_ids or []).isdisjoint(agent.message_ids or [])
    window = [m["content"] for m in _context(client, agent.id)["messages"]]
    assert window == ["My name is Ada and I keep bees.", "Hello Ada! Bees are wonderful."]


def test_reset_of_an_agent_made_without_initial_messages_empties_it(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("Hi."))
    client.agents.messages.create(agent.id, input="Hello.")

    reset = client.agents.messages.reset(agent.id, add_default_initial_messages=True)

    assert reset.message_ids == []


@pytest.mark.parametrize(
    ("sequence", "field"),
    [
        ([{"role": "user", "content": "word " * 20_000}], "initial_message_sequence"),
        ([{"role": "tool", "content": "x"}], "role"),
        (
            [
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "url", "url": "https://example.com/a.png"},
                        }
                    ],
                }
            ],
            "initial_message_sequence.0.content",
        ),
    ],
)
def test_bad_initial_messages_are_refused_and_nothing_is_made(
    client: Letta, sequence: list[dict[str, Any]], field: str
) -> None:
    name = f"refused-{field}-{len(str(sequence))}"

    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.create(
            model="openai/gpt-4o-mini",
            name=name,
            context_window_limit=8000,
            initial_message_sequence=sequence,  # type: ignore[arg-type]
        )

    assert field in str(caught.value)
    assert client.agents.list(name=name).items == []


# ---------------------------------------------------------------- message_ids, last run


def test_message_ids_set_the_window_to_the_newest_messages(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(initial_message_sequence=GREETING)
    fake_llm.script(reply.text("Hi."))
    client.agents.messages.create(agent.id, input="Hello.")
    window = client.agents.retrieve(agent.id).message_ids or []

    newest = client.agents.update(agent.id, message_ids=window[-2:])
    again = client.agents.update(agent.id, message_ids=window)

    assert len(window) == 4
    assert newest.message_ids == window[-2:]
    assert again.message_ids == window


def test_message_ids_that_are_not_the_newest_are_refused(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(initial_message_sequence=GREETING)
    window = agent.message_ids or []

    with pytest.raises(UnprocessableEntityError) as first_only:
        client.agents.update(agent.id, message_ids=window[:1])
    with pytest.raises(UnprocessableEntityError) as reordered:
        client.agents.update(agent.id, message_ids=list(reversed(window)))

    assert "message_ids" in str(first_only.value) and "message_ids" in str(reordered.value)
    assert client.agents.retrieve(agent.id).message_ids == window


def test_the_last_run_fields_can_be_set(client: Letta, make_agent: AgentFactory) -> None:
    agent: AgentState = make_agent()

    changed = client.agents.update(
        agent.id,
        last_stop_reason="max_steps",
        last_run_completion="2026-01-02T03:04:05Z",  # type: ignore[arg-type]
        last_run_duration_ms=1500,
    )

    assert changed.last_stop_reason == "max_steps"
    assert changed.last_run_duration_ms == 1500
    assert changed.last_run_completion is not None
    assert changed.last_run_completion.isoformat().startswith("2026-01-02T03:04:05")
    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.update(agent.id, last_stop_reason="tired")  # type: ignore[arg-type]
    assert "last_stop_reason" in str(caught.value)


# --------------------------------------------------------------------------- agent files


def test_an_agent_file_carries_the_clock_and_the_autoclear(
    client: Letta, make_agent: AgentFactory
) -> None:
    agent = make_agent(timezone="Asia/Kolkata", message_buffer_autoclear=True)

    document = client.agents.export_file(agent.id)
    imported = client.agents.import_file(file=("agent.af", document.encode(), "application/json"))
    (copy_id,) = imported.agent_ids
    copy = client.agents.retrieve(copy_id)
    client.agents.delete(copy_id)

    (written,) = json.loads(document)["agents"]
    assert written["timezone"] == "Asia/Kolkata" and written["message_buffer_autoclear"] is True
    assert copy.timezone == "Asia/Kolkata" and copy.message_buffer_autoclear is True


def test_an_agent_file_with_a_bad_timezone_is_refused(
    client: Letta, make_agent: AgentFactory
) -> None:
    document = json.loads(client.agents.export_file(make_agent().id))
    document["agents"][0]["timezone"] = "Nowhere/Land"
    before = len(client.agents.list(limit=1000).items)

    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.import_file(
            file=("agent.af", json.dumps(document).encode(), "application/json")
        )

    assert "timezone" in str(caught.value)
    assert len(client.agents.list(limit=1000).items) == before
