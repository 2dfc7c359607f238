"""``pip_requirements`` installs run confined: no server secrets, nobody, wheels only.

The server's environment holds ``OPENAI_API_KEY`` and ``ENGRAM_API_KEY`` here, as a real
deployment's does. A source distribution built in the test records, from inside its own
build, which user built it and which variables it saw, into the module it installs.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from engram.config import Settings
from engram.tools import packages
from engram.tools.pip_install import SOURCE_BUILDS_SETTING
from tests.sandbox import distributions
from tests.sandbox.conftest import SECRETS, install, local_index, needs_bwrap

# Without bubblewrap a root server installs as nobody, who must reach the Python install.
INSTALL_MODES = [pytest.param(True, marks=needs_bwrap, id="bwrap"), pytest.param(False, id="plain")]


def _plain_install_refused(bwrap: bool) -> bool:
    if bwrap or os.getuid() != 0:
        return False
    return any(
        not part.stat().st_mode & stat.S_IXOTH
        for path in (Path(os.path.realpath(sys.executable)), Path(sys.prefix).resolve())
        for part in path.parents
    )


@pytest.mark.usefixtures("server_env")
@pytest.mark.parametrize("bwrap", INSTALL_MODES)
def test_a_source_build_sees_no_secret_and_runs_as_nobody_when_opted_in(
    bwrap: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_PROGRESS_BAR", "off")  # a PIP_* variable: passed on
    monkeypatch.setenv("HTTPS_PROXY", "")  # a proxy variable: passed on (empty: no proxy)
    with distributions.wheelhouse() as folder:
        distributions.sdist(folder, "buildprobe", "1.0", list(SECRETS.values()))
        local_index(monkeypatch, folder)
        if _plain_install_refused(bwrap):
            with pytest.raises(packages.PackagesError, match="apt-get install bubblewrap"):
                install(tmp_path, ["buildprobe==1.0"], allow_source_builds=True, use_bwrap=bwrap)
            return
        installed = install(
            tmp_path, ["buildprobe==1.0"], allow_source_builds=True, use_bwrap=bwrap
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
def test_an_sdist_is_refused_by_default_with_the_setting_to_allow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings().tool_allow_source_builds is False
    with distributions.wheelhouse() as folder:
        distributions.sdist(folder, "buildprobe", "1.0", list(SECRETS.values()))
        local_index(monkeypatch, folder)
        with pytest.raises(packages.PackagesError) as refused:
            install(tmp_path, ["buildprobe==1.0"])
    assert f"{SOURCE_BUILDS_SETTING}=true" in str(refused.value)
    assert "buildprobe" in str(refused.value)
    assert not [path for path in tmp_path.iterdir() if not path.name.startswith(".")]


@needs_bwrap
@pytest.mark.usefixtures("server_env")
def test_an_install_writes_only_into_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build that tries to write beside its package set, into the data dir's other
    folders, into its wheel folder or into /usr, is refused everywhere but its own tree."""
    victims = [tmp_path / "elsewhere.txt", tmp_path.parent / "outside.txt"]
    with distributions.wheelhouse() as folder:
        victims.append(folder / "planted.txt")
        distributions.sdist(
            folder,
            "writeprobe",
            "1.0",
            list(SECRETS.values()),
            extra=_try_writes([*map(str, victims), "/usr/planted.txt"]),
        )
        local_index(monkeypatch, folder)
        installed = install(tmp_path / "pk", ["writeprobe==1.0"], allow_source_builds=True)
    seen = _buildinfo(installed)
    assert all(error for error in seen["writes"].values()), seen["writes"]
    assert not [victim for victim in victims if victim.exists()]
    assert not Path("/usr/planted.txt").exists()


def _try_writes(paths: list[str]) -> str:
    return (
        "writes = {}\n"
        f"for path in {paths!r}:\n"
        "    try:\n"
        "        open(path, 'w').close()\n"
        "        writes[path] = ''\n"
        "    except OSError as exc:\n"
        "        writes[path] = type(exc).__name__\n"
        "seen['writes'] = writes\n"
    )


@pytest.mark.parametrize("bwrap", INSTALL_MODES)
def test_a_build_over_the_timeout_is_stopped_and_reported(
    bwrap: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if _plain_install_refused(bwrap):
        pytest.skip("without bubblewrap, installs are refused here (see above)")
    with distributions.wheelhouse() as folder:
        distributions.sdist(folder, "slowprobe", "1.0", [], extra="import time\ntime.sleep(60)\n")
        local_index(monkeypatch, folder)
        with pytest.raises(packages.PackagesError, match="took over 3 s"):
            install(
                tmp_path, ["slowprobe==1.0"], timeout=3, allow_source_builds=True, use_bwrap=bwrap
            )
    assert not [path for path in tmp_path.iterdir() if not path.name.startswith(".")]


def _buildinfo(installed: Path) -> dict[str, object]:
    text = (installed / "buildinfo.py").read_text()
    return json.loads(text.split("=", 1)[1].strip().strip("'"))
