"""Packages a custom tool asks for (``pip_requirements``), installed once per set.

Each distinct set of requirements gets its own directory under the data dir, filled by
``pip install --target`` the first time a tool needing it runs and reused afterwards; the
sandboxed child sees it read-only on its import path. Requirement strings are checked to
be plain ``name`` / ``name==version`` specs, so nothing a client writes can become a pip
option (an index URL, a local path).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engram.errors import InvalidInput

NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._,-]+\])?$"
VERSION_PATTERN = r"^(==|>=|<=|~=|!=|<|>)?\s*[A-Za-z0-9.*+!_-]+$"
_NAME = re.compile(NAME_PATTERN)
_VERSION = re.compile(VERSION_PATTERN)

_locks: dict[str, asyncio.Lock] = {}


class PackagesError(Exception):
    """The requirements could not be installed; the message says pip's last words."""


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


async def ensure(root: Path, specs: list[str], *, timeout: float) -> Path | None:
    """The directory holding ``specs`` installed, installing them the first time."""
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
        staging = root / f".{key}.installing"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-input"]
        command += ["--disable-pip-version-check", "--target", str(staging), *specs]
        child = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            _, stderr = await asyncio.wait_for(child.communicate(), timeout)
        except TimeoutError:
            child.kill()
            await child.wait()
            wanted = ", ".join(specs)
            raise PackagesError(f"installing {wanted} took over {timeout:.0f} s") from None
        if child.returncode != 0:
            last = stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise PackagesError(f"pip could not install {', '.join(specs)}: {' '.join(last)}")
        _readable(staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        (target / ".ready").touch()
    return target


def _readable(tree: Path) -> None:
    """World-readable: the child may run as an unprivileged user."""
    for folder, _, files in os.walk(tree):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
