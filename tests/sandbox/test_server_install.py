"""End to end: a real server, holding its secrets in its environment, installs a tool's
source-distribution requirement and runs the tool; the build never saw the secrets. Under
bubblewrap and under Landlock (``ENGRAM_SANDBOX``), the install in the tools' sandbox."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.api.conftest import MODEL, create_tool
from tests.fakes.fake_llm import FakeLLM
from tests.sandbox import distributions
from tests.sandbox.conftest import SECRETS, needs_bwrap, needs_landlock
from tests.support.server import serving

TOOL = '''
def build_seen() -> str:
    """What the build of this tool's package saw."""
    import buildinfo
    return buildinfo.SEEN
'''


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param("bwrap", marks=needs_bwrap, id="bwrap"),
        pytest.param("landlock", marks=needs_landlock, id="landlock"),
    ],
)
def test_the_server_installs_a_source_build_that_never_sees_its_secrets(
    mode: str, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    with distributions.wheelhouse() as folder:
        distributions.sdist(folder, "buildprobe", "1.0", list(SECRETS.values()))
        env = {
            **SECRETS,
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(folder),
            "ENGRAM_TOOL_ALLOW_SOURCE_BUILDS": "true",
            "ENGRAM_SANDBOX": mode,
        }
        with (
            serving(tmp_path / "data", fake_llm.base_url, env) as server,
            server.client(headers={"Authorization": f"Bearer {SECRETS['ENGRAM_API_KEY']}"}) as api,
        ):
            sandbox = api.get("/v1/health/").json()["sandbox"]
            tool = create_tool(
                api, TOOL, pip_requirements=[{"name": "buildprobe", "version": "1.0"}]
            )
            agent = api.post("/v1/agents/", json={"model": MODEL, "tool_ids": [tool["id"]]})
            assert agent.status_code == 200, agent.text
            ran = api.post(f"/v1/agents/{agent.json()['id']}/tools/build_seen/run", json={})

    assert sandbox == {"bwrap": "bubblewrap", "landlock": "landlock"}[mode]
    assert ran.status_code == 200, ran.text
    assert ran.json()["status"] == "success", ran.json()
    seen = json.loads(ran.json()["func_return"])
    assert seen["secrets_seen"] == []
    assert not set(SECRETS) & set(seen["env"])
    assert not [key for key in seen["env"] if key.startswith(("ENGRAM_", "OPENAI_"))]
    if os.getuid() == 0:
        assert seen["uid"] == 65534
