"""Wheels and source distributions built by a test, in a folder pip can find them in.

No build tool is needed: a wheel is a zip with a ``.dist-info`` folder, and the source
distribution carries its own tiny PEP 517 backend (``requires = []``), so pip can build it
with ``PIP_NO_INDEX`` set and nothing else installed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import tarfile
import tempfile
import textwrap
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def wheelhouse() -> Iterator[Path]:
    """A folder everybody can read, outside pytest's private temporary tree: the install
    runs as ``nobody`` and must reach it."""
    folder = Path(tempfile.mkdtemp(prefix="engram-wheelhouse-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A pure-Python wheel holding ``files`` (paths relative to the install folder)."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    path.write_bytes(wheel_bytes(name, version, files))
    path.chmod(0o644)
    return path


def wheel_bytes(name: str, version: str, files: dict[str, str]) -> bytes:
    info = f"{name}-{version}.dist-info"
    contents = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: engram-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    record = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, text in contents.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{member},sha256={digest.decode()},{len(data)}")
            archive.writestr(member, data)
        archive.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return buffer.getvalue()


_BACKEND = '''
"""A build backend that records what the build could see into the wheel it builds."""
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from wheelmaker import wheel_bytes

SECRETS = {secrets!r}


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    seen = {{
        "uid": os.getuid(),
        "env": sorted(os.environ),
        "secrets_seen": [s for s in SECRETS if any(s in v for v in os.environ.values())],
    }}
{extra}
    files = {{"buildinfo.py": "SEEN = " + repr(json.dumps(seen)) + "\\n"}}
    name = "{name}-{version}-py3-none-any.whl"
    with open(os.path.join(wheel_directory, name), "wb") as f:
        f.write(wheel_bytes("{name}", "{version}", files))
    return name
'''


def sdist(folder: Path, name: str, version: str, secrets: list[str], *, extra: str = "") -> Path:
    """A source distribution whose build writes a ``buildinfo`` module saying which user
    built it, which environment variables it saw, and which of ``secrets`` they held.
    ``extra`` is more build code (unindented), run before the wheel is written; what it
    puts in the dict ``seen`` is recorded too."""
    root = f"{name}-{version}"
    files = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        "pyproject.toml": (
            '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        ),
        "backend.py": _BACKEND.format(
            secrets=secrets, name=name, version=version, extra=textwrap.indent(extra, "    ")
        ),
        "wheelmaker.py": _wheelmaker_source(),
    }
    path = folder / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, text in files.items():
            data = text.encode()
            entry = tarfile.TarInfo(f"{root}/{member}")
            entry.size = len(data)
            entry.mode = 0o644
            archive.addfile(entry, io.BytesIO(data))
    path.chmod(0o644)
    return path


def _wheelmaker_source() -> str:
    """This module's ``wheel_bytes`` and its imports, for the backend to build with."""
    source = Path(__file__).read_text()
    start = source.index("def wheel_bytes")
    end = source.index("\n\n\n", start)
    imports = "import base64, hashlib, io, zipfile\n\n\n"
    return imports + source[start:end] + "\n"
