"""Tools: custom tools from Python source, and which agents carry them."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
