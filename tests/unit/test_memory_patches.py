"""Letta's memory patch format, read and applied to plain strings."""

from __future__ import annotations

import pytest

from engram.memory.patches import PatchError, apply_hunks, is_multi_block, parse_blocks


def test_hunks_apply_in_turn_against_the_edited_text() -> None:
    value = "a\nb\nc\nd"
    patch = "--- human\n+++ human\n@@ -1 +1 @@\n a\n-b\n+B\n@@\n c\n-d\n+D\n+e"

    assert apply_hunks(value, patch.splitlines()) == "a\nB\nc\nD\ne"


def test_added_lines_without_context_go_at_the_end_even_of_an_empty_block() -> None:
    assert apply_hunks("", ["+first", "+second"]) == "first\nsecond"
    assert apply_hunks("x", ["+y"]) == "x\ny"


def test_a_blank_patch_line_is_an_empty_context_line() -> None:
    assert apply_hunks("a\n\nb", [" a", "", "-b", "+c"]) == "a\n\nc"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (["-z"], "not found"),
        ([" a", "-b"], "2 places"),
        (["just words"], "no hunk"),
    ],
)
def test_a_hunk_that_does_not_apply_once_is_refused(patch: list[str], message: str) -> None:
    with pytest.raises(PatchError, match=message):
        apply_hunks("a\nb\na\nb", patch)


def test_multi_block_operations_come_out_in_order() -> None:
    patch = "\n".join(
        [
            "*** Begin Patch",
            "*** Add Block: notes",
            "Description: Loose notes.",
            "+one",
            "",
            "+two",
            "*** Move to: jottings",
            "*** Move to: scribbles",
            "*** Update Block: human",
            "-x",
            "+y",
            "*** Delete Block: scratch",
            "*** End Patch",
        ]
    )

    assert is_multi_block(patch)
    add, move, again, update, delete = parse_blocks(patch)
    assert (add.action, add.label, add.description) == ("add", "notes", "Loose notes.")
    assert add.lines == ["one", "", "two"]
    assert (move.label, move.new_label) == ("notes", "jottings")
    assert (again.label, again.new_label) == ("jottings", "scribbles")
    assert (update.action, update.label, update.lines) == ("update", "human", ["-x", "+y"])
    assert (delete.action, delete.label) == ("delete", "scratch")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("*** Update Block:   \n-x", "must name a block"),
        ("*** Move to: other", "must follow"),
        ("*** Delete Block: a\n*** Move to: b", "must follow"),
    ],
)
def test_unreadable_multi_block_patches_are_refused(patch: str, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        parse_blocks(patch)


def test_a_plain_diff_is_not_a_multi_block_patch() -> None:
    assert not is_multi_block("--- a\n+++ b\n@@\n-x\n+y")
