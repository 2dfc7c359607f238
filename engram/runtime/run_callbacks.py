"""A background run's ``callback_url``: once the run has ended, its outcome is posted there.

The request is made by the server, so it is bounded like ``fetch_webpage``'s: http and
https only, each attempt within a deadline, redirects never followed, and the address is
checked and pinned by ``engram.tools.web.pinned_request`` (loopback and private networks
refused unless ``ENGRAM_CALLBACK_PRIVATE_ADDRESSES`` allows them). A failed attempt (no
connection, a timeout, a 5xx or 429 answer) is tried again, up to
``ENGRAM_CALLBACK_ATTEMPTS`` in all. What happened is kept with the run (``callback_sent_at``,
``callback_status_code``, ``callback_error`` on ``GET /v1/runs/{id}``); a callback that
fails never changes the run's own outcome.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from sqlalchemy.orm import Session

from engram.config import Settings
from engram.runtime.runs import RunsDeps
from engram.store import tables as t
from engram.store.tables import as_utc
from engram.tools.web import FetchLimits, Resolver, WebToolError, pinned_request
from engram.version import __version__

log = logging.getLogger(__name__)

CALLBACK = "callback"
"""Key of the callback's outcome in the run's kept input (``runs.turn_input``)."""
RETRY_PAUSE_SECONDS = 0.5
"""The pause before the second attempt; it doubles for each one after."""


class CallbackDeps(RunsDeps, Protocol):
    """What a callback uses: the run's row, and the settings that bound the request."""

    @property
    def settings(self) -> Settings: ...


def payload(run: t.Run) -> dict[str, Any]:
    """What is posted: the run's identity and outcome, as ``GET /v1/runs/{id}`` names them."""
    metadata = {**(run.metadata_ or {}), **({"error": run.error} if run.error else {})}
    return {
        "id": run.id,
        "run_id": run.id,
        "agent_id": run.agent_id,
        "status": run.status,
        "stop_reason": run.stop_reason,
        "created_at": _time(run.created_at),
        "completed_at": _time(run.completed_at),
        "metadata": metadata,
    }


def _time(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


async def post_run_end(
    deps: CallbackDeps, run_id: str, url: str, resolve: Resolver | None = None
) -> dict[str, Any]:
    """Post the ended run to ``url`` and keep the outcome with the run; returns it."""
    run = await deps.db.read(lambda session: session.get(t.Run, run_id))
    if run is None:  # deleted meanwhile (its agent was): nobody left to tell
        return {}
    outcome = await _deliver(deps.settings, url, payload(run), resolve)
    await deps.db.write(lambda session: _keep(session, run_id, outcome))
    if outcome["error"]:
        log.warning("run %s: callback to %s failed: %s", run_id, url, outcome["error"])
    return outcome


async def _deliver(
    settings: Settings, url: str, body: dict[str, Any], resolve: Resolver | None
) -> dict[str, Any]:
    limits = FetchLimits(
        timeout_seconds=settings.callback_timeout_seconds,
        max_bytes=0,
        private_addresses=settings.callback_private_addresses,
        sender="a run's callback",
        private_setting="ENGRAM_CALLBACK_PRIVATE_ADDRESSES",
    )
    status: int | None = None
    error: str | None = None
    for attempt in range(settings.callback_attempts):
        if attempt:
            await asyncio.sleep(RETRY_PAUSE_SECONDS * 2 ** (attempt - 1))
        status, error, again = await _attempt(url, body, limits, resolve)
        if not again:
            break
    return {
        "sent_at": datetime.now(UTC).isoformat(),
        "status_code": status,
        "error": error,
    }


async def _attempt(
    url: str, body: dict[str, Any], limits: FetchLimits, resolve: Resolver | None
) -> tuple[int | None, str | None, bool]:
    """One POST: its status, the error if it failed, and whether another attempt may help."""
    try:
        target = await pinned_request(url, limits, resolve)
    except WebToolError as exc:
        return None, str(exc), False
    headers = {**target.headers, "User-Agent": f"Engram/{__version__} (run callback)"}
    timeout = httpx.Timeout(limits.timeout_seconds)
    try:
        async with (
            asyncio.timeout(limits.timeout_seconds),
            httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False) as client,
        ):
            response = await client.post(
                target.url, json=body, headers=headers, extensions=target.extensions
            )
    except (TimeoutError, httpx.TimeoutException):
        return None, f"no answer within {limits.timeout_seconds:g} seconds", True
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}", True
    code = response.status_code
    if response.is_redirect:
        return code, "the callback answered with a redirect, which is not followed", False
    if code >= 400:
        return code, f"the callback answered {code}", code >= 500 or code == 429
    return code, None, False


def _keep(session: Session, run_id: str, outcome: dict[str, Any]) -> None:
    run = session.get(t.Run, run_id)
    if run is not None:
        run.turn_input = {**(run.turn_input or {}), CALLBACK: outcome}


def callback_view(turn_input: dict[str, Any] | None) -> dict[str, Any]:
    """A run's callback fields as Letta's ``Run`` shows them."""
    kept = turn_input or {}
    outcome = kept.get(CALLBACK) or {}
    url = (kept.get("options") or {}).get("callback_url")
    return {
        "callback_url": url,
        "callback_sent_at": outcome.get("sent_at"),
        "callback_status_code": outcome.get("status_code"),
        "callback_error": outcome.get("error"),
    }
