"""Streaming messages as server-sent events, background runs and cancellation."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
