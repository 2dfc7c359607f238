"""Letta's memory tools by Letta's names and argument names: memory_replace and
memory_insert (with the earlier argument names still accepted), memory_rethink,
memory_finish_edits, the multi-command memory tool and memory_apply_patch."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import AgentFactory, core_memory
from tests.fakes import FakeLLM, reply
from tests.fakes.replies import Reply
from tests.helpers import send

NEW_TOOLS = ["memory", "memory_rethink", "memory_finish_edits", "memory_apply_patch"]


def make_memory_agent(make_agent: AgentFactory, **fields: Any) -> dict[str, Any]:
    blocks = fields.pop(
        "memory_blocks",
        [
            {"label": "human", "value": "Name: Ada\nLikes tea.\nLives in London."},
            {"label": "rules", "value": "Be kind.", "read_only": True},
        ],
    )
    return make_agent(memory_blocks=blocks, tools=fields.pop("tools", NEW_TOOLS), **fields)


def run_calls(
    api: httpx.Client, fake_llm: FakeLLM, agent_id: str, *calls: Reply
) -> list[dict[str, Any]]:
    """The model makes ``calls`` one step each, then answers; the tool returns, in order."""
    fake_llm.script(*calls, reply.text("Done."))
    body = send(api, agent_id, "Please update your memory.")
    return [m for m in body["messages"] if m["message_type"] == "tool_return_message"]


def block_of(api: httpx.Client, agent_id: str, label: str) -> dict[str, Any]:
    response = api.get(f"/v1/agents/{agent_id}/core-memory/blocks/{label}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def block_history(api: httpx.Client, block_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/blocks/{block_id}/history", params={"order": "asc"})
    assert response.status_code == 200, response.text
    return list(response.json())


def tool_schema(api: httpx.Client, name: str) -> dict[str, Any]:
    response = api.get("/v1/tools/", params={"name": name})
    assert response.status_code == 200, response.text
    (tool,) = response.json()
    return dict(tool["json_schema"])


# --------------------------------------------------------------------------- memory_replace


def test_memory_replace_advertises_and_takes_letta_argument_names(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    schema = tool_schema(api, "memory_replace")["parameters"]
    assert schema["required"] == ["label", "old_string", "new_string"]
    agent = make_memory_agent(make_agent)
    human = block_of(api, agent["id"], "human")

    (result,) = run_calls(
        api,
        fake_llm,
        agent["id"],
        reply.tool_call(
            "memory_replace", {"label": "human", "old_string": "tea", "new_string": "coffee"}
        ),
    )

    assert result["status"] == "success", result["tool_return"]
    assert core_memory(api, agent["id"])["human"] == "Name: Ada\nLikes coffee.\nLives in London."
    (entry,) = block_history(api, human["id"])
    assert (entry["actor_type"], entry["new_value"]) == (
        "agent",
        block_of(api, agent["id"], "human")["value"],
    )
    offered = fake_llm.chat_requests[0].tools
    replace = next(t["function"] for t in offered if t["function"]["name"] == "memory_replace")
    assert set(replace["parameters"]["properties"]) >= {"label", "old_string", "new_string"}


def test_memory_replace_and_insert_still_take_the_old_argument_names(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_memory_agent(make_agent)

    results = run_calls(
        api,
        fake_llm,
        agent["id"],
        reply.tool_call("memory_replace", {"label": "human", "old_str": "Ada", "new_str": "Grace"}),
        reply.tool_call(
            "memory_insert", {"label": "human", "new_str": "Has a cat.", "insert_line": 1}
        ),
    )

    assert [r["status"] for r in results] == ["success", "success"]
    assert core_memory(api, agent["id"])["human"] == (
        "Name: Grace\nHas a cat.\nLikes tea.\nLives in London."
    )


def test_memory_replace_without_old_string_or_with_a_repeated_one_is_a_tool_error(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_memory_agent(
        make_agent, memory_blocks=[{"label": "human", "value": "tea and tea"}]
    )

    missing, repeated = run_calls(
        api,
        fake_llm,
        agent["id"],
        reply.tool_call("memory_replace", {"label": "human", "new_string": "x"}),
        reply.tool_call(
            "memory_replace", {"label": "human", "old_string": "tea", "new_string": "x"}
        ),
    )

    assert missing["status"] == "error" and "old_string" in missing["tool_return"]
    assert repeated["status"] == "error" and "appears 2 times" in repeated["tool_return"]
    assert core_memory(api, agent["id"])["human"] == "tea and tea"


# --------------------------------------------------------------------------- memory_insert


def test_memory_insert_puts_new_string_after_the_given_line(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    assert tool_schema(api, "memory_insert")["parameters"]["required"] == ["label", "new_string"]
    agent = make_memory_agent(make_agent)

    results = run_calls(
        api,
        fake_llm,
        agent["id"],
        reply.tool_call(
            "memory_insert", {"label": "human", "new_string": "Top.", "insert_line": 0}
        ),
        reply.tool_call(
            "memory_insert", {"label": "human", "new_string": "Second.", "insert_line": 1}
        ),
        reply.tool_call("memory_insert", {"label": "human", "new_string": "Last."}),
        reply.tool_call("memory_insert", {"label": "human", "new_string": "x", "insert_line": 99}),
    )

    assert [r["status"] for r in results] == ["success", "success", "success", "error"]
    assert "insert_line" in results[3]["tool_return"]
    assert core_memory(api, agent["id"])["human"] == (
        "Top.\nSecond.\nName: Ada\nLikes tea.\nLives in London.\nLast."
    )


# --------------------------------------------------------------------------- memory_rethink


def test_memory_rethink_rewrites_a_block_and_logs_it(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_memory_agent(make_agent)
    human = block_of(api, agent["id"], "human")
    new_memory = "Ada, a Londoner who drinks tea."

    (result,) = run_calls(
        api,
        fake_llm,
        agent["id"],
        reply.tool_call("memory_rethink", {"label": "human", "new_memory": new_memory}),
    )

    assert result["status"] == "success"
    assert "human" in result["tool_return"]
    assert core_memory(api, agent["id"])["human"] == new_memory
    (entry,) = block_history(api, human["id"])
    assert (entry["old_value"], entry["new_value"]) == (human["value"], new_memory)
    assert entry["actor_id"] == agent["id"]
    assert new_memory in fake_llm.chat_requests[1].system_text


def test_memory_rethink_refuses_read_only_unknown_and_oversized_blocks(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_memory_agent(
        make_agent,
        memory_blocks=[
            {"label": "human", "value": "Name: Ada", "limit": 50},
            {"label": "rules", "value": "Be kind.", "read_only": True},
        ],
    )

    results = run_calls(
        api,
        fake_llm,
        agent["id"],
        reply.tool_call("memory_rethink", {"label": "rules", "new_memory": "Be mean."}),
        reply.tool_call("memory_rethink", {"label": "nope", "new_memory": "x"}),
        reply.tool_call("memory_rethink", {"label": "human", "new_memory": "x" * 51}),
        reply.tool_call("memory_rethink", {"label": "human"}),
    )

    assert [r["status"] for r in results] == ["error"] * 4
    assert "read-only" in results[0]["tool_return"]
    assert "nope" in results[1]["tool_return"]
    assert "limit" in results[2]["tool_return"]
    assert "new_memory" in results[3]["tool_return"]
    assert core_memory(api, agent["id"]) == {"human": "Name: Ada", "rules": "Be kind."}


# --------------------------------------------------------------------------- memory_finish_edits


def test_memory_finish_edits_changes_nothing_and_refuses_arguments(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_memory_agent(make_agent)
    before = core_memory(api, agent["id"])

    done, wrong = run_calls(
        api,
        fake_llm,
        agent["id"],
        reply.tool_call("memory_finish_edits", {}),
        reply.tool_call("memory_finish_edits", {"label": "human"}),
    )

    assert done["status"] == "success"
    assert wrong["status"] == "error" and "label" in wrong["tool_return"]
    assert core_memory(api, agent["id"]) == before


# --------------------------------------------------------------------------- memory


def test_memory_tool_creates_edits_renames_and_deletes_blocks(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_memory_agent(make_agent)

    results = run_calls(
        api,
        fake_llm,
        agent["id"],
        reply.tool_call(
            "memory",
            {
                "command": "create",
                "path": "/memories/projects",
                "description": "What Ada works on.",
                "file_text": "Engines.",
            },
        ),
        reply.tool_call(
            "memory",
            {
                "command": "str_replace",
                "path": "/memories/projects",
                "old_string": "Engines.",
                "new_string": "Analytical engines.",
            },
        ),
        reply.tool_call(
            "memory",
            {
                "command": "insert",
                "path": "/memories/projects",
                "insert_text": "Notes.",
                "insert_line": 0,
            },
        ),
        reply.tool_call(
            "memory",
            {"command": "rename", "old_path": "/memories/projects", "new_path": "/memories/work"},
        ),
        reply.tool_call(
            "memory", {"command": "rename", "path": "/memories/work", "description": "Ada's work."}
        ),
        reply.tool_call("memory", {"command": "view", "path": "/memories/work"}),
        reply.tool_call("memory", {"command": "view"}),
        reply.tool_call("memory", {"command": "delete", "path": "/memories/human"}),
    )

    assert [r["status"] for r in results] == ["success"] * 8, [r["tool_return"] for r in results]
    memory = core_memory(api, agent["id"])
    assert memory == {"rules": "Be kind.", "work": "Notes.\nAnalytical engines."}
    work = block_of(api, agent["id"], "work")
    assert work["description"] == "Ada's work."
    assert "1→ Notes." in results[5]["tool_return"]
    assert "/memories/work" in results[6]["tool_return"]
    history = block_history(api, work["id"])
    assert [(h["old_value"], h["new_value"]) for h in history] == [
        ("", "Engines."),
        ("Engines.", "Analytical engines."),
        ("Analytical engines.", "Notes.\nAnalytical engines."),
    ]
    assert {h["actor_id"] for h in history} == {agent["id"]}
    # The new block showed in the prompt from the step after its creation.
    second_prompt = fake_llm.chat_requests[1].system_text
    assert "<projects>" in second_prompt and "What Ada works on." in second_prompt
    last_prompt = fake_llm.chat_requests[-1].system_text
    assert "<work>" in last_prompt and "<human>" not in last_prompt


def test_memory_tool_misuse_is_a_tool_error_and_changes_nothing(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_memory_agent(make_agent)
    before = core_memory(api, agent["id"])

    results = run_calls(
        api,
        fake_llm,
        agent["id"],
        reply.tool_call("memory", {"command": "undo", "path": "/memories/human"}),
        reply.tool_call(
            "memory", {"command": "create", "path": "/memories/human", "description": "x"}
        ),
        reply.tool_call("memory", {"command": "delete", "path": "/memories/rules"}),
        reply.tool_call(
            "memory",
            {
                "command": "str_replace",
                "path": "/memories/nope",
                "old_string": "a",
                "new_string": "b",
            },
        ),
        reply.tool_call("memory", {"command": "insert", "path": "/memories/human"}),
        reply.tool_call(
            "memory",
            {"command": "rename", "old_path": "/memories/human", "new_path": "/memories/rules"},
        ),
        reply.tool_call("memory", {"command": "create", "path": "/memories/", "description": "x"}),
    )

    assert [r["status"] for r in results] == ["error"] * 7
    returns = [r["tool_return"] for r in results]
    assert "undo" in returns[0] and "str_replace" in returns[0]
    assert "already exists" in returns[1]
    assert "read-only" in returns[2]
    assert "nope" in returns[3]
    assert "insert_text" in returns[4]
    assert "already exists" in returns[5]
    assert "does not name a block" in returns[6]
    assert core_memory(api, agent["id"]) == before


# --------------------------------------------------------------------------- memory_apply_patch


def test_memory_apply_patch_applies_hunks_to_one_block(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_memory_agent(make_agent)
    human = block_of(api, agent["id"], "human")
    patch = "@@\n Name: Ada\n-Likes tea.\n+Likes coffee.\n+Has a cat.\n"

    applied, missing = run_calls(
        api,
        fake_llm,
        agent["id"],
        reply.tool_call("memory_apply_patch", {"label": "human", "patch": patch}),
        reply.tool_call("memory_apply_patch", {"label": "human", "patch": "-Likes juice.\n+x"}),
    )

    assert applied["status"] == "success"
    assert missing["status"] == "error" and "not found" in missing["tool_return"]
    expected = "Name: Ada\nLikes coffee.\nHas a cat.\nLives in London."
    assert core_memory(api, agent["id"])["human"] == expected
    (entry,) = block_history(api, human["id"])
    assert entry["new_value"] == expected


def test_memory_apply_patch_changes_several_blocks_at_once(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_memory_agent(
        make_agent,
        memory_blocks=[
            {"label": "human", "value": "Name: Ada\nLikes tea."},
            {"label": "scratch", "value": "temp"},
        ],
    )
    patch = "\n".join(
        [
            "*** Add Block: projects",
            "Description: What Ada works on.",
            "+Engines.",
            "+Looms.",
            "*** Update Block: human",
            "@@",
            "-Likes tea.",
            "+Likes coffee.",
            "*** Move to: person",
            "*** Delete Block: scratch",
        ]
    )

    (result,) = run_calls(
        api,
        fake_llm,
        agent["id"],
        reply.tool_call("memory_apply_patch", {"label": "", "patch": patch}),
    )

    assert result["status"] == "success", result["tool_return"]
    assert core_memory(api, agent["id"]) == {
        "person": "Name: Ada\nLikes coffee.",
        "projects": "Engines.\nLooms.",
    }
    assert block_of(api, agent["id"], "projects")["description"] == "What Ada works on."


def test_a_failing_multi_block_patch_leaves_every_block_as_it_was(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_memory_agent(make_agent)
    before = core_memory(api, agent["id"])
    patch = "\n".join(
        [
            "*** Add Block: projects",
            "+Engines.",
            "*** Update Block: human",
            "-Likes tea.",
            "+Likes coffee.",
            "*** Update Block: rules",
            "-Be kind.",
            "+Be mean.",
        ]
    )

    failed, unreadable = run_calls(
        api,
        fake_llm,
        agent["id"],
        reply.tool_call("memory_apply_patch", {"label": "", "patch": patch}),
        reply.tool_call("memory_apply_patch", {"label": "", "patch": "*** Add Block:\n+x"}),
    )

    assert failed["status"] == "error" and "read-only" in failed["tool_return"]
    assert unreadable["status"] == "error" and "must name a block" in unreadable["tool_return"]
    assert core_memory(api, agent["id"]) == before
    assert "<projects>" not in fake_llm.chat_requests[-1].system_text


# --------------------------------------------------------------------------- attaching


def test_letta_memory_tools_are_listed_and_attach_by_id(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    listed = api.get("/v1/tools/", params={"limit": 1000}).json()
    by_name = {tool["name"]: tool for tool in listed}
    assert set(NEW_TOOLS) <= set(by_name)
    agent = make_memory_agent(make_agent, tools=[])
    assert not set(NEW_TOOLS) & {tool["name"] for tool in agent["tools"]}

    attached = api.patch(f"/v1/agents/{agent['id']}/tools/attach/{by_name['memory_rethink']['id']}")
    assert attached.status_code == 200, attached.text
    (result,) = run_calls(
        api,
        fake_llm,
        agent["id"],
        reply.tool_call("memory_rethink", {"label": "human", "new_memory": "Ada."}),
    )

    assert result["status"] == "success"
    assert core_memory(api, agent["id"])["human"] == "Ada."
    assert "memory_rethink" in fake_llm.chat_requests[0].tool_names
