"""AgentChanges: an agent update holds exactly the fields the client sent."""

from __future__ import annotations

from dataclasses import fields

import pytest

from engram.api.agent_input import agent_changes
from engram.api.schemas import UpdateAgent
from engram.errors import InvalidInput
from engram.ops.agents import AgentChanges


def test_every_field_a_client_may_send_is_a_field_of_the_changes() -> None:
    updatable = {item.name for item in fields(AgentChanges)} - {"fields_set"}
    assert updatable == set(UpdateAgent.model_fields)


def test_the_changes_remember_which_fields_were_sent_even_as_null() -> None:
    changes = agent_changes(UpdateAgent.model_validate({"name": "a", "recall_assist": None}))
    assert changes.fields_set == {"name", "recall_assist"}
    assert changes.sent("recall_assist") and changes.recall_assist is None
    assert not changes.sent("compaction_settings")


def test_nested_settings_keep_only_what_was_sent() -> None:
    body = UpdateAgent.model_validate({"compaction_settings": {"sliding_window_percentage": 0.4}})
    assert agent_changes(body).compaction_settings == {"sliding_window_percentage": 0.4}


def test_a_name_that_is_no_updatable_field_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput) as refused:
        AgentChanges.of({"agent_type": "memgpt_agent"})
    assert refused.value.field == "agent_type"
