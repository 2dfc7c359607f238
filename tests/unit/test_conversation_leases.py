"""A conversation's turn holds its conversation's lease, not its agent's: a run of a
conversation is orphaned when that lease ends, and a dead holder's conversation lease is
ended at start like an agent lease."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from engram.store import conversation_leases, leases
from engram.store import tables as t
from engram.store.tables import utcnow
from tests.support.store import session_with_agent

HOST = "box"
ME = "box:1:new"
GRACE = timedelta(seconds=60)
TTL = timedelta(seconds=30)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with session_with_agent(tmp_path / "leases.db") as session:
        session.add(
            t.Conversation(
                id="conv-1",
                agent_id="agent-1",
                window_start_seq=0,
                fold_summary="",
                fold_summary_tokens=0,
            )
        )
        session.flush()
        session.add(
            t.Run(id="run-1", agent_id="agent-1", status="running", conversation_id="conv-1")
        )
        session.flush()
        yield session


def test_a_running_conversations_run_is_not_orphaned_while_its_lease_holds(
    session: Session,
) -> None:
    assert conversation_leases.try_take(session, "conv-1", "box:7:live", TTL)
    assert not conversation_leases.try_take(session, "conv-1", "box:8:other", TTL)
    assert conversation_leases.holder_of(session, "conv-1") == "box:7:live"

    # No agent lease exists at all: the conversation's lease alone keeps the run alive.
    assert leases.fail_orphaned_runs(session, GRACE) == 0


def test_a_dead_holders_conversation_lease_ends_and_its_run_fails(session: Session) -> None:
    now = utcnow()
    session.add(
        t.ConversationLease(
            conversation_id="conv-1", holder="box:4242:old", acquired_at=now, expires_at=now + TTL
        )
    )
    session.flush()

    ended = leases.expire_dead_holders(session, HOST, ME, alive=lambda pid: False)
    failed = leases.fail_orphaned_runs(session, GRACE)

    assert (ended, failed) == (1, 1)
    run = session.get(t.Run, "run-1")
    assert run is not None and run.status == "failed"
    assert conversation_leases.holder_of(session, "conv-1") is None


def test_giving_back_frees_the_lease_for_the_next_holder(session: Session) -> None:
    assert conversation_leases.try_take(session, "conv-1", "box:7:a", TTL)
    assert conversation_leases.renew(session, "conv-1", "box:7:a", TTL)
    conversation_leases.give_back(session, "conv-1", "box:7:a")
    assert conversation_leases.try_take(session, "conv-1", "box:8:b", TTL)
    assert not conversation_leases.renew(session, "conv-1", "box:7:a", TTL)
