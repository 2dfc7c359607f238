"""Shared pieces of the sandbox probes: the modes, calling a tool, installing packages."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from engram.config import Settings
from engram.tools import confined, packages
from engram.tools.confinement import UNCONFINED, SandboxInForce, sandbox_in_force
from engram.tools.sandbox import SandboxLimits, ToolRun, bwrap_path, drops_to_nobody, run_tool

needs_bwrap = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")
LANDLOCK_SUPPORT = confined.probe()
needs_landlock = pytest.mark.skipif(
    not LANDLOCK_SUPPORT.available,
    reason=f"no Landlock sandbox on this kernel: {LANDLOCK_SUPPORT.reason}",
)
# As root without bubblewrap, the child drops to nobody only if it can still reach Python;
# where it cannot it runs as root, and privileged probes would act on the host itself.
PLAIN_CHILD_IS_ROOT = os.getuid() == 0 and not drops_to_nobody(under_bwrap=False)
plain_child_unprivileged = pytest.mark.skipif(
    PLAIN_CHILD_IS_ROOT, reason="without bubblewrap the child stays root here"
)
SANDBOXES = [
    pytest.param("bwrap", marks=needs_bwrap, id="bwrap"),
    pytest.param("landlock", marks=needs_landlock, id="landlock"),
    pytest.param("plain", marks=plain_child_unprivileged, id="plain"),
]
"""The three modes by name (see ``sandbox_named``), each skipped where it cannot hold."""
FAST = SandboxLimits(timeout_seconds=20, cpu_seconds=5, memory_mb=256, output_bytes=100_000)
SECRETS = {"OPENAI_API_KEY": "sk-test-openai-secret", "ENGRAM_API_KEY": "engram-test-secret"}


def sandbox_named(mode: str) -> SandboxInForce:
    """The sandbox ``ENGRAM_SANDBOX`` would put in force for ``mode``: ``bwrap``,
    ``landlock``, or ``plain`` (the ``unconfined`` opt-in)."""
    if mode == "plain":
        return UNCONFINED
    chosen = sandbox_in_force(Settings(sandbox=mode))
    assert not chosen.refused, chosen.description
    return chosen


def call(source: str, name: str, args: dict[str, Any] | None = None, **kwargs: Any) -> ToolRun:
    kwargs.setdefault("limits", FAST)
    return asyncio.run(run_tool(source, name, args or {}, **kwargs))


def install(root: Path, specs: list[str], timeout: float = 120, **kwargs: Any) -> Path:
    installed = asyncio.run(packages.ensure(root, specs, timeout=timeout, **kwargs))
    assert installed is not None
    return installed


@pytest.fixture
def server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's own secrets in its environment, as a real deployment has them."""
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)


def local_index(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Point the server's pip at ``folder`` only, as an operator would with PIP_*."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
