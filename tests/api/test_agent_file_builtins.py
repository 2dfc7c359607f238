"""An agent file naming every Letta built-in tool Engram runs (``builtin_tools.af``) imports
through letta-client, and each of those tools, called by the model with Letta's argument
names, does its work in a turn of the imported agent.

The server here reads web pages on loopback (the fake web of ``tests/fakes/web.py``) and
searches through its SearXNG stand-in; every agent shares the one scripted fake LLM."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from letta_client import Letta, NotFoundError

from tests.api.conftest import MODEL
from tests.compat.conftest import letta_client_for
from tests.fakes.fake_llm import FakeLLM
from tests.fakes.replies import reply
from tests.fakes.web import FakeWeb
from tests.support.backends import Backend
from tests.support.server import RunningServer, serving

FIXTURE = Path(__file__).parent.parent / "fixtures" / "agent_files" / "builtin_tools.af"
HUMAN = "Name: Ada. Grows tomatoes on a north-facing balcony."


@pytest.fixture(scope="module")
def server(
    fake_llm_server: FakeLLM,
    tmp_path_factory: pytest.TempPathFactory,
    backend: Backend,
    web: FakeWeb,
) -> Iterator[RunningServer]:
    env = {
        "ENGRAM_WEB_FETCH_PRIVATE_ADDRESSES": "true",
        "ENGRAM_WEB_SEARCH": "searxng",
        "ENGRAM_SEARXNG_URL": f"{web.base_url}/searxng",
    }
    with serving(
        tmp_path_factory.mktemp("file-builtins"),
        fake_llm_server.base_url,
        env,
        database_url=backend.database_url(),
        in_process=True,
    ) as engram:
        yield engram


@dataclass
class Imported:
    """The agent imported from the fixture, and the agents a test made around it."""

    sdk: Letta
    web: FakeWeb
    agent_id: str
    others: list[str] = field(default_factory=list)

    def other_agent(self, **fields: Any) -> str:
        made = self.sdk.agents.create(model=MODEL, **fields)
        self.others.append(made.id)
        return made.id

    def block(self, label: str) -> str:
        return self.sdk.agents.blocks.retrieve(label, agent_id=self.agent_id).value


@pytest.fixture
def imported(server: RunningServer, fake_llm: FakeLLM, web: FakeWeb) -> Iterator[Imported]:
    with letta_client_for(server) as sdk:
        answer = sdk.agents.import_file(
            file=(FIXTURE.name, FIXTURE.read_bytes(), "application/json")
        )
        (agent_id,) = answer.agent_ids
        # Engram reads the web for an agent only when asked to (docs/tools.md).
        sdk.agents.update(agent_id, metadata={"tool_network": True})
        made = Imported(sdk, web, agent_id)
        yield made
        for other in [agent_id, *made.others]:
            with contextlib.suppress(NotFoundError):
                sdk.agents.delete(other)


Case = tuple[str, Callable[[Imported], dict[str, Any]], Callable[[Imported, str], None]]


def _changed(label: str, expected: str) -> Callable[[Imported, str], None]:
    def check(agent: Imported, returned: str) -> None:
        assert agent.block(label) == expected

    return check


def _says(*parts: str) -> Callable[[Imported, str], None]:
    def check(agent: Imported, returned: str) -> None:
        for part in parts:
            assert part in returned, (part, returned)

    return check


def _archived(agent: Imported, returned: str) -> None:
    found = agent.sdk.agents.passages.list(agent.agent_id)
    assert [passage.text for passage in found] == ["Ada's tomatoes ripen in August."]


def _runs_of(agent: Imported, other: str) -> list[str]:
    return [run.status or "" for run in agent.sdk.runs.list(agent_ids=[other])]


def _called_the_other(agent: Imported, returned: str) -> None:
    (other,) = agent.others
    deadline = time.monotonic() + 30
    while _runs_of(agent, other) != ["completed"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _runs_of(agent, other) == ["completed"]


def _ran_code(agent: Imported, returned: str) -> None:
    assert json.loads(returned) == {"results": [], "logs": {"stdout": ["42\n"], "stderr": []}}


def _archive_then_search(agent: Imported) -> dict[str, Any]:
    agent.sdk.agents.passages.create(agent.agent_id, text="The balcony gets sun after 3 pm.")
    return {"query": "when does the balcony get sun"}


def _roll_call(agent: Imported) -> dict[str, Any]:
    agent.other_agent(tags=["garden", "team"])
    return {"message": "Roll call.", "match_all": ["garden"], "match_some": ["team"]}


def _patch(agent: Imported) -> dict[str, Any]:
    return {"label": "human", "patch": "@@\n-" + HUMAN + "\n+Name: Ada. Grows basil.\n"}


CASES: list[Case] = [
    (
        "core_memory_append",
        lambda a: {"label": "human", "content": "Has a cat."},
        _changed("human", HUMAN + "\nHas a cat."),
    ),
    (
        "core_memory_replace",
        lambda a: {"label": "human", "old_content": "tomatoes", "new_content": "peppers"},
        _changed("human", HUMAN.replace("tomatoes", "peppers")),
    ),
    (
        "memory_replace",
        lambda a: {"label": "human", "old_string": "north", "new_string": "south"},
        _changed("human", HUMAN.replace("north", "south")),
    ),
    (
        "memory_insert",
        lambda a: {"label": "human", "new_string": "Has a cat.", "insert_line": 0},
        _changed("human", "Has a cat.\n" + HUMAN),
    ),
    (
        "memory",
        lambda a: {"command": "create", "path": "/memories/garden", "file_text": "Bed 1: kale"},
        _changed("garden", "Bed 1: kale"),
    ),
    (
        "memory_rethink",
        lambda a: {"label": "human", "new_memory": "Name: Ada."},
        _changed("human", "Name: Ada."),
    ),
    ("memory_finish_edits", lambda a: {}, _changed("human", HUMAN)),
    ("memory_apply_patch", _patch, _changed("human", "Name: Ada. Grows basil.")),
    (
        "archival_memory_insert",
        lambda a: {"content": "Ada's tomatoes ripen in August."},
        _archived,
    ),
    ("archival_memory_search", _archive_then_search, _says("sun after 3 pm")),
    ("conversation_search", lambda a: {"query": "tomatoes"}, _says("tomatoes")),
    (
        "run_code",
        lambda a: {"code": "print(6 * 7)", "language": "python"},
        _ran_code,
    ),
    (
        "fetch_webpage",
        lambda a: {"url": f"{a.web.base_url}/page.html"},
        _says("# Sea otters", "hold [hands]"),
    ),
    ("web_search", lambda a: {"query": "otters"}, _says("Otters at rest")),
    (
        "send_message_to_agent_and_wait_for_reply",
        lambda a: {"message": "Any news?", "other_agent_id": a.other_agent()},
        _says("The other agent answers."),
    ),
    (
        "send_message_to_agent_async",
        lambda a: {"message": "For your records.", "other_agent_id": a.other_agent()},
        _called_the_other,
    ),
    (
        "send_message_to_agents_matching_tags",
        _roll_call,
        _says("The other agent answers."),
    ),
]


def test_the_file_names_every_builtin_the_cases_cover() -> None:
    named = {tool["name"] for tool in json.loads(FIXTURE.read_text())["tools"]}
    assert named == {name for name, _, _ in CASES}


def test_the_imported_agent_has_every_tool_and_the_files_blocks(imported: Imported) -> None:
    agent = imported.sdk.agents.retrieve(imported.agent_id)
    named = {tool["name"] for tool in json.loads(FIXTURE.read_text())["tools"]}
    assert {tool.name for tool in agent.tools} == named
    assert {block.label: block.value for block in agent.blocks} == {
        "persona": "I am Toolbox. I use every tool I have.",
        "human": HUMAN,
    }


@pytest.mark.parametrize(("name", "arguments", "check"), CASES, ids=[case[0] for case in CASES])
def test_each_builtin_runs_in_a_turn_of_the_imported_agent(
    imported: Imported,
    fake_llm: FakeLLM,
    name: str,
    arguments: Callable[[Imported], dict[str, Any]],
    check: Callable[[Imported, str], None],
) -> None:
    given = arguments(imported)
    # Replies are taken in request order; an agent called in between gets the middle one.
    fake_llm.script(
        reply.tool_call(name, given),
        reply.text("The other agent answers." if imported.others else "Done."),
        reply.text("Done."),
    )

    response = imported.sdk.agents.messages.create(imported.agent_id, input=f"Use {name}.")

    (returned,) = [m for m in response.messages if m.message_type == "tool_return_message"]
    assert returned.status == "success", returned.tool_return
    check(imported, str(returned.tool_return))
