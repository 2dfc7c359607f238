"""A bug in a handler answers a JSON 500 and leaves the server answering."""

from __future__ import annotations

import errno
from pathlib import Path

import httpx
import pytest

from engram.api.app import create_app
from engram.config import Settings


async def test_unhandled_exception_becomes_a_json_500(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))

    @app.get("/v1/_boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://engram") as client:
        response = await client.get("/v1/_boom")
        assert response.status_code == 500
        assert response.json() == {"detail": "internal error (RuntimeError); see the server log"}
        assert (await client.get("/v1/health/")).status_code == 200


@pytest.mark.slow
async def test_a_full_disk_answers_507_with_retry_after(tmp_path: Path) -> None:
    """ENOSPC from the filesystem (a file written beside the database, say) is not a bug:
    the same request succeeds once space is freed."""
    app = create_app(Settings(data_dir=tmp_path))

    @app.get("/v1/_full")
    async def full() -> None:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("while saving") from exc

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://engram") as client:
        response = await client.get("/v1/_full")
        assert response.status_code == 507
        assert "disk holding the database is full" in response.json()["detail"]
        assert int(response.headers["Retry-After"]) > 0
