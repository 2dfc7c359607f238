"""The memory of a MemFS agent (Letta's git-backed memory) as its prompt shows it: the
persona in <self>, the other system/ blocks nested by path, the rest as a file tree."""

from __future__ import annotations

from engram.memory.core import render_blocks
from engram.memory.memfs import render_memfs
from engram.store import tables as t


def block(label: str, value: str, description: str | None = None, **fields: object) -> t.Block:
    return t.Block(label=label, value=value, limit=1000, description=description, **fields)


def test_system_blocks_nest_by_path_and_the_others_are_a_file_tree() -> None:
    blocks = [
        block("system/persona", "I am Kit.\n"),
        block("system/human/family", "Two sisters.\nOne brother.", "Who the user's family is"),
        block("system/human", "Name: Bo"),
        block("system/project/tooling/bun", "Uses bun."),
        block("reference/notes", "not shown"),
        block("reference/deep/faq", "not shown"),
        block("archive", "not shown"),
        block("skills/baking", "not shown"),
    ]

    assert render_memfs(blocks) == "\n".join(
        [
            "Each <projection> below is the path of the file that holds that memory.",
            "",
            "<self>",
            "<projection>$MEMORY_DIR/system/persona.md</projection>",
            "I am Kit.",
            "</self>",
            "",
            "<memory>",
            "<human>",
            "  <projection>$MEMORY_DIR/system/human.md</projection>",
            "  Name: Bo",
            "  <family>",
            "    <projection>$MEMORY_DIR/system/human/family.md</projection>",
            "    <description>Who the user's family is</description>",
            "    Two sisters.",
            "One brother.",
            "  </family>",
            "</human>",
            "<project>",
            "  <tooling>",
            "    <bun>",
            "      <projection>$MEMORY_DIR/system/project/tooling/bun.md</projection>",
            "      Uses bun.",
            "    </bun>",
            "  </tooling>",
            "</project>",
            "<external_projection>",
            "${MEMORY_DIR}/",
            "├── reference/",
            "│   ├── deep/",
            "│   │   └── faq.md",
            "│   └── notes.md",
            "└── archive.md",
            "</external_projection>",
            "</memory>",
        ]
    )


def test_without_system_blocks_nothing_shows_and_hidden_blocks_never_do() -> None:
    assert render_memfs([block("reference/notes", "n"), block("human", "h")]) == ""
    shown = render_memfs([block("system/persona", "p"), block("system/secret", "s", hidden=True)])
    assert "secret" not in shown
    assert "<memory>" not in shown


def test_the_list_names_a_path_label_whole() -> None:
    """Agents without the tag keep the <memory_blocks> list: the label is the tag's name."""
    rendered = render_blocks([block("system/human/family", "Two sisters.")])
    assert "<system/human/family>\n" in rendered
    assert "</system/human/family>\n" in rendered
