"""Which sandbox custom tools run in, chosen in one place.

``ENGRAM_SANDBOX`` (``settings.sandbox``):

- ``auto`` (the default): bubblewrap if the ``bwrap`` binary works here, else the
  Landlock confinement (``confined``) if the kernel allows it, else none, and custom tool
  calls are refused with an error naming the fix;
- ``bwrap`` or ``landlock``: that one, or refused;
- ``unconfined``: plain subprocesses with resource limits only, which can read what the
  server can. An explicit opt-in, logged loudly at start and on each tool's first call.

Probing starts real children, once per process; ``sandbox_in_force`` is cheap after that.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from engram.config import Settings
from engram.errors import SandboxUnavailable
from engram.tools import confined

log = logging.getLogger(__name__)

SandboxName = Literal["bubblewrap", "landlock", "unconfined", "none"]
INSTALL_HINT = (
    "install bubblewrap (apt-get install bubblewrap), run on a kernel with Landlock and "
    "namespaces, or set ENGRAM_SANDBOX=unconfined to accept running tools unconfined"
)


@dataclass(frozen=True)
class Probe:
    """Whether one sandbox works here, and a one-line why (or why not)."""

    available: bool
    reason: str


@dataclass(frozen=True)
class SandboxInForce:
    """The sandbox custom tools run in, with one line saying what it is or why it is
    missing; ``name`` ``none`` means calls are refused."""

    name: SandboxName
    description: str
    bwrap: str | None = None
    """The bubblewrap binary, when ``name`` is ``bubblewrap``."""

    @property
    def refused(self) -> bool:
        return self.name == "none"

    def refusal(self) -> SandboxUnavailable:
        return SandboxUnavailable(f"custom tools cannot run: {self.description}")


UNCONFINED = SandboxInForce(
    "unconfined",
    "plain subprocesses with resource limits only (ENGRAM_SANDBOX=unconfined): a tool can "
    "read whatever the server's user can and use the network",
)


def sandbox_in_force(settings: Settings) -> SandboxInForce:
    """The sandbox the settings choose on this machine (probed once per process)."""
    return choose(settings.sandbox, lambda: _probe_bwrap(settings.bwrap_path), _probe_landlock)


def automatic() -> SandboxInForce:
    """What ``auto`` picks with the default settings (for callers without settings)."""
    return choose("auto", lambda: _probe_bwrap("bwrap"), _probe_landlock)


def choose(
    requested: str, bwrap: Callable[[], Probe], landlock: Callable[[], Probe]
) -> SandboxInForce:
    """The decision alone, from what was asked for and what works; a sandbox is probed
    only when the decision needs it."""
    if requested == "unconfined":
        return UNCONFINED
    missing = []
    if requested in ("auto", "bwrap"):
        found = bwrap()
        if found.available:
            return SandboxInForce("bubblewrap", f"bubblewrap at {found.reason}", bwrap=found.reason)
        missing.append(f"bubblewrap: {found.reason}")
    if requested in ("auto", "landlock"):
        found = landlock()
        if found.available:
            return SandboxInForce("landlock", f"{found.reason}; no system package needed")
        missing.append(f"Landlock: {found.reason}")
    fix = INSTALL_HINT if requested == "auto" else f"set ENGRAM_SANDBOX=auto, {INSTALL_HINT}"
    return SandboxInForce(
        "none", f"no sandbox works (ENGRAM_SANDBOX={requested}; {'; '.join(missing)}): {fix}"
    )


def all_probes(settings: Settings) -> dict[str, Probe]:
    """Every sandbox and whether it works here, for ``engram doctor``."""
    return {"bubblewrap": _probe_bwrap(settings.bwrap_path), "landlock": _probe_landlock()}


@cache
def _probe_bwrap(binary: str) -> Probe:
    path = shutil.which(binary)
    if path is None:
        where = f"at {binary}" if os.sep in binary else f"named '{binary}' on PATH"
        return Probe(False, f"no executable {where}")
    command = [path, "--ro-bind", "/", "/", "--unshare-net", "--unshare-ipc"]
    command += ["--unshare-user"] if os.getuid() != 0 else []
    try:
        done = subprocess.run([*command, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return Probe(False, f"{path} does not run: {exc}")
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
        return Probe(False, f"{path} cannot make a sandbox here: {lines[-1]}")
    return Probe(True, path)


@cache
def _probe_landlock() -> Probe:
    support = confined.probe()
    return Probe(support.available, support.reason)


_announced: set[str] = set()


def announce(settings: Settings) -> SandboxInForce:
    """Log the sandbox in force at start: a warning if tools run unconfined or not at all."""
    sandbox = sandbox_in_force(settings)
    if sandbox.name == "unconfined":
        log.warning("!!! custom tools run UNCONFINED: %s !!!", sandbox.description)
    elif sandbox.refused:
        log.warning("custom tool calls will be refused: %s", sandbox.description)
    else:
        log.info("custom tools run in a sandbox: %s", sandbox.description)
    return sandbox


def warn_unconfined_use(tool_name: str) -> None:
    """Each tool's first unconfined call is logged, so the risk shows where it is taken."""
    if tool_name not in _announced:
        _announced.add(tool_name)
        log.warning(
            "!!! tool '%s' runs UNCONFINED (ENGRAM_SANDBOX=unconfined): it can read the "
            "server's files and use its network !!!",
            tool_name,
        )
