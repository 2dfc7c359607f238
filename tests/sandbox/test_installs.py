"""``pip_requirements`` installs run confined: no server secrets, nobody, wheels only.

The server's environment holds ``OPENAI_API_KEY`` and ``ENGRAM_API_KEY`` here, as a real
deployment's does. A source distribution built in the test records, from inside its own
build, which user built it and which variables it saw, into the module it installs.
Each test runs in the sandbox modes it applies to: bubblewrap, Landlock (what a machine
without bubblewrap gets), and the plain ``unconfined`` opt-in.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engram.config import Settings
from engram.tools import packages
from engram.tools.pip_install import SOURCE_BUILDS_SETTING
from tests.sandbox import distributions
from tests.sandbox.conftest import (
    SECRETS,
    install,
    local_index,
    needs_bwrap,
    needs_landlock,
    sandbox_named,
)

CONFINED = [
    pytest.param("bwrap", marks=needs_bwrap, id="bwrap"),
    pytest.param("landlock", marks=needs_landlock, id="landlock"),
]
# Unconfined, a root server installs as nobody, who must reach the Python install.
INSTALL_MODES = [*CONFINED, pytest.param("plain", id="plain")]


def _plain_install_refused(mode: str) -> bool:
    if mode != "plain" or os.getuid() != 0:
        return False
    return any(
        not part.stat().st_mode & stat.S_IXOTH
        for path in (Path(os.path.realpath(sys.executable)), Path(sys.prefix).resolve())
        for part in path.parents
    )


@pytest.mark.usefixtures("server_env")
@pytest.mark.parametrize("mode", INSTALL_MODES)
def test_a_source_build_sees_no_secret_and_runs_as_nobody_when_opted_in(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_PROGRESS_BAR", "off")  # a PIP_* variable: passed on
    monkeypatch.setenv("HTTPS_PROXY", "")  # a proxy variable: passed on (empty: no proxy)
    with distributions.wheelhouse() as folder:
        distributions.sdist(folder, "buildprobe", "1.0", list(SECRETS.values()))
        local_index(monkeypatch, folder)
        sandbox = sandbox_named(mode)
        if _plain_install_refused(mode):
            with pytest.raises(packages.PackagesError, match="apt-get install bubblewrap"):
                install(tmp_path, ["buildprobe==1.0"], allow_source_builds=True, sandbox=sandbox)
            return
        installed = install(
            tmp_path, ["buildprobe==1.0"], allow_source_builds=True, sandbox=sandbox
        )

    seen = _buildinfo(installed)
    assert seen["secrets_seen"] == []
    assert not set(SECRETS) & set(seen["env"])
    assert not [key for key in seen["env"] if key.startswith("ENGRAM_")]
    allowed = {"PATH", "HOME", "TMPDIR", "LANG", "HTTPS_PROXY", "PWD"}
    # What pip itself sets for the build's subprocess.
    allowed |= {"PYTHONNOUSERSITE", "PYTHONPATH", "PYTHONHASHSEED"}
    extra = {
        key
        for key in seen["env"]
        if not key.startswith(("PIP_", "PEP517_", "_PYPROJECT_HOOKS_")) and key not in allowed
    }
    assert extra == set(), seen["env"]
    assert "PIP_PROGRESS_BAR" in seen["env"] and "PIP_NO_INDEX" in seen["env"]
    if os.getuid() == 0:
        assert seen["uid"] == 65534
    # What the tool will import belongs to the server and is read-only to everybody else.
    for path in [installed, *installed.rglob("*")]:
        info = path.lstat()
        assert info.st_mode & 0o022 == 0, path
        assert info.st_uid == os.getuid(), path


@pytest.mark.usefixtures("server_env")
@pytest.mark.parametrize("mode", CONFINED)
def test_an_sdist_is_refused_by_default_with_the_setting_to_allow_it(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings().tool_allow_source_builds is False
    with distributions.wheelhouse() as folder:
        distributions.sdist(folder, "buildprobe", "1.0", list(SECRETS.values()))
        local_index(monkeypatch, folder)
        with pytest.raises(packages.PackagesError) as refused:
            install(tmp_path, ["buildprobe==1.0"], sandbox=sandbox_named(mode))
    assert f"{SOURCE_BUILDS_SETTING}=true" in str(refused.value)
    assert "buildprobe" in str(refused.value)
    assert not [path for path in tmp_path.iterdir() if not path.name.startswith(".")]


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory outside /tmp that everyone may write, as a careless data dir: only
    the sandbox, not file permissions, keeps ``nobody`` out of it."""
    path = Path(tempfile.mkdtemp(prefix="engram-install-open-", dir="/var/tmp"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.usefixtures("server_env")
@pytest.mark.parametrize("mode", CONFINED)
def test_an_install_writes_only_into_its_own_folder(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_dir: Path
) -> None:
    """A build that tries to write beside its package set, into the data dir's other
    folders, into a folder everyone may write, into its wheel folder (lent read-only, a
    world-writable folder in it too) or into /usr, is refused everywhere but its own
    tree; its own folder and /tmp it may write."""
    root = open_dir / "tool-packages"
    root.mkdir(mode=0o777)
    root.chmod(0o1777)
    victims = [
        open_dir / "planted.txt",
        root / "beside.txt",
        tmp_path / "elsewhere.txt",
        tmp_path.parent / "outside.txt",
    ]
    with distributions.wheelhouse() as folder:
        (folder / "open").mkdir()
        (folder / "open").chmod(0o777)
        victims += [folder / "planted.txt", folder / "open" / "planted.txt"]
        extra = _try_writes([*map(str, victims), "/usr/planted.txt"])
        extra += _try_writes(["/install/target/mine.txt", "/tmp/mine.txt"], key="own_writes")
        distributions.sdist(folder, "writeprobe", "1.0", list(SECRETS.values()), extra=extra)
        local_index(monkeypatch, folder)
        installed = install(
            root, ["writeprobe==1.0"], allow_source_builds=True, sandbox=sandbox_named(mode)
        )
    seen = _buildinfo(installed)
    assert all(error for error in seen["writes"].values()), seen["writes"]
    assert not [victim for victim in victims if victim.exists()]
    assert not Path("/usr/planted.txt").exists()
    # The sandbox, not a broken build, refused them: its own places were writable...
    assert seen["own_writes"] == {"/install/target/mine.txt": "", "/tmp/mine.txt": ""}
    # ... and so is the open folder to the same user outside the sandbox.
    user = 65534 if os.getuid() == 0 else None
    subprocess.run(["touch", str(open_dir / "control.txt")], user=user, check=True)


@pytest.mark.parametrize("mode", CONFINED)
def test_an_install_has_the_network(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unlike a tool call, an install may connect: here to a wheel folder served over
    HTTP on the host's loopback, the only place pip is told to look."""
    with distributions.wheelhouse() as folder:
        distributions.wheel(folder, "netprobe", "1.0", {"netprobe.py": "FETCHED = True\n"})
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            monkeypatch.setenv("PIP_NO_INDEX", "1")
            monkeypatch.setenv("PIP_FIND_LINKS", f"http://127.0.0.1:{server.server_port}/")
            installed = install(tmp_path, ["netprobe==1.0"], sandbox=sandbox_named(mode))
        finally:
            server.shutdown()
            server.server_close()
    assert (installed / "netprobe.py").read_text() == "FETCHED = True\n"


@needs_landlock
def test_a_pip_setting_naming_a_folder_the_sandbox_is_built_from_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under Landlock a local path pip's settings name is lent at its own path; one that
    would cover the sandbox's own /tmp is refused, naming it, and nothing is installed."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "/tmp")
    with pytest.raises(packages.PackagesError, match="/tmp cannot be shown inside the sandbox"):
        install(tmp_path, ["anything==1.0"], sandbox=sandbox_named("landlock"))
    assert list(tmp_path.iterdir()) == []


def _try_writes(paths: list[str], *, key: str = "writes") -> str:
    """Build code trying to create each of ``paths``; ``seen[key]`` maps each to the
    error's name, or to "" when the file was made."""
    return (
        "writes = {}\n"
        f"for path in {paths!r}:\n"
        "    try:\n"
        "        open(path, 'w').close()\n"
        "        writes[path] = ''\n"
        "    except OSError as exc:\n"
        "        writes[path] = type(exc).__name__\n"
        f"seen[{key!r}] = writes\n"
    )


@pytest.mark.parametrize("mode", INSTALL_MODES)
def test_a_build_over_the_timeout_is_stopped_and_reported(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if _plain_install_refused(mode):
        pytest.skip("without bubblewrap, installs are refused here (see above)")
    with distributions.wheelhouse() as folder:
        distributions.sdist(folder, "slowprobe", "1.0", [], extra="import time\ntime.sleep(60)\n")
        local_index(monkeypatch, folder)
        with pytest.raises(packages.PackagesError, match="took over 3 s"):
            install(
                tmp_path,
                ["slowprobe==1.0"],
                timeout=3,
                allow_source_builds=True,
                sandbox=sandbox_named(mode),
            )
    assert not [path for path in tmp_path.iterdir() if not path.name.startswith(".")]


def _buildinfo(installed: Path) -> dict[str, object]:
    text = (installed / "buildinfo.py").read_text()
    return json.loads(text.split("=", 1)[1].strip().strip("'"))
