"""Packages a custom tool asks for (``pip_requirements``), installed once per set.

Each distinct set of requirements gets its own directory under the data dir, filled by
``pip install --target`` the first time a tool needing it runs and reused afterwards; the
sandboxed child sees it read-only on its import path. Requirement strings are checked to
be plain ``name`` / ``name==version`` specs, so nothing a client writes can become a pip
option (an index URL, a local path). The install itself is confined like a tool call, in
the same sandbox (``pip_install``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engram.errors import InvalidInput
from engram.tools.confinement import SandboxInForce
from engram.tools.pip_install import PackagesError, install

__all__ = ["PackagesError", "ensure", "specs_of"]

NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._,-]+\])?$"
VERSION_PATTERN = r"^(==|>=|<=|~=|!=|<|>)?\s*[A-Za-z0-9.*+!_-]+$"
_NAME = re.compile(NAME_PATTERN)
_VERSION = re.compile(VERSION_PATTERN)

_locks: dict[str, asyncio.Lock] = {}


def specs_of(requirements: Sequence[dict[str, Any]] | None, *, field: str) -> list[str]:
    """``[{"name", "version"}]`` as pip specs, refusing anything that is not one."""
    specs = []
    for index, requirement in enumerate(requirements or ()):
        name = str(requirement.get("name") or "")
        version = str(requirement.get("version") or "").strip()
        if not _NAME.match(name):
            raise InvalidInput(f"{field}[{index}].name", f"'{name}' is not a package name")
        if version and not _VERSION.match(version):
            raise InvalidInput(f"{field}[{index}].version", f"'{version}' is not a version")
        if version and version[0].isdigit():
            version = f"=={version}"
        specs.append(f"{name}{version}")
    return sorted(set(specs))


async def ensure(
    root: Path,
    specs: list[str],
    *,
    timeout: float,
    allow_source_builds: bool = False,
    sandbox: SandboxInForce | None = None,
    use_bwrap: bool | None = None,
) -> Path | None:
    """The directory holding ``specs`` installed, installing them the first time,
    confined by ``sandbox``, the one tool calls run in (see ``pip_install.install`` for
    ``use_bwrap``, used when it is not given)."""
    if not specs:
        return None
    key = hashlib.sha256("\n".join(specs).encode()).hexdigest()[:16]
    target = root / key
    if (target / ".ready").exists():
        return target
    lock = _locks.setdefault(key, asyncio.Lock())
    async with lock:
        if (target / ".ready").exists():
            return target
        root.mkdir(parents=True, exist_ok=True)
        staging = root / f".{key}.installed"
        shutil.rmtree(staging, ignore_errors=True)
        await install(
            specs,
            staging,
            timeout=timeout,
            allow_source_builds=allow_source_builds,
            sandbox=sandbox,
            use_bwrap=use_bwrap,
        )
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        (target / ".ready").touch()
    return target
