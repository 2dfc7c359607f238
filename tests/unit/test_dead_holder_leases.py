"""A restarted server ends the agent leases its dead predecessor held on this host, at once,
so the runs that process left "running" are failed at start, not a grace period later,
also when a lease had already run out on its own a moment before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from engram.store import leases
from engram.store import tables as t
from engram.store.tables import utcnow
from tests.support.store import session_with_agent

HOST = "box"
ME = "box:1:new"
GRACE = timedelta(seconds=60)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with session_with_agent(tmp_path / "leases.db") as session:
        session.add(t.Run(id="run-1", agent_id="agent-1", status="running"))
        session.flush()
        yield session


def lease(session: Session, holder: str, expires_in: timedelta) -> None:
    now = utcnow()
    session.add(
        t.AgentLease(
            agent_id="agent-1", holder=holder, acquired_at=now, expires_at=now + expires_in
        )
    )
    session.flush()


@pytest.mark.parametrize(
    "expires_in",
    [timedelta(seconds=20), timedelta(seconds=-5)],
    ids=["still-valid", "ran-out-a-moment-ago"],
)
def test_a_dead_holders_lease_ends_and_its_run_fails(
    session: Session, expires_in: timedelta
) -> None:
    lease(session, "box:4242:old", expires_in)

    ended = leases.expire_dead_holders(session, HOST, ME, alive=lambda pid: False)
    failed = leases.fail_orphaned_runs(session, GRACE)

    assert (ended, failed) == (1, 1)
    run = session.get(t.Run, "run-1")
    assert run is not None and run.status == "failed"


def test_a_live_holders_lease_is_left_alone(session: Session) -> None:
    lease(session, "box:4242:other-replica", timedelta(seconds=-5))

    ended = leases.expire_dead_holders(session, HOST, ME, alive=lambda pid: True)
    failed = leases.fail_orphaned_runs(session, GRACE)

    assert (ended, failed) == (0, 0)
