"""Archives: named passage stores that agents can share."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
