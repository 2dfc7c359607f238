"""Agent files (.af): export an agent with its memory and history, import it anew."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
