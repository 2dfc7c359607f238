"""Contract paths Engram does not serve yet: a 501 naming the path, never a 404."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
