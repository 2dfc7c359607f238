"""Runs and steps: what each request did, with usage and timings."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
