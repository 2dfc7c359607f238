"""Which messages leave the window when it folds (``paging.choose_cut``), and what the
summarizer is asked: pure functions, tested without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from engram.llm.client import LLMClient
from engram.runtime.paging import SUMMARIZER_INSTRUCTIONS, Summarizer, choose_cut, transcript
from engram.store import tables as t

NO_CLIENT = cast(LLMClient, None)  # instructions are built without calling anything
ROLES = {"u": "user", "a": "assistant", "c": "assistant", "t": "tool", "r": "approval"}


def window(spec: str, tokens: int = 10) -> list[t.Message]:
    """A window from a short script: ``u`` user, ``a`` assistant, ``c`` assistant calling a
    tool, ``r`` the answer to an approval request, ``t`` tool result; ``u:500`` gives one
    message its own token count."""
    rows = []
    for seq, item in enumerate(spec.split(), start=1):
        kind, _, count = item.partition(":")
        rows.append(
            t.Message(
                seq=seq,
                role=ROLES[kind],
                text=f"message {seq}",
                tool_calls=[{"id": f"call{seq}", "name": "f", "arguments": "{}"}]
                if kind == "c"
                else None,
                tool_call_id=f"call{seq - 1}" if kind == "t" else None,
                token_count=int(count) if count else tokens,
                created_at=datetime(2025, 1, 1, tzinfo=UTC),
            )
        )
    return rows


def kept(rows: list[t.Message], cut: int) -> str:
    return " ".join(row.role[0] if not row.tool_calls else "c" for row in rows[cut:])


# --------------------------------------------------------------------------- without kept turns


def test_nothing_to_free_evicts_nothing() -> None:
    assert choose_cut(window("u a u a"), 0) == 0
    assert choose_cut(window("u"), 100) == 0


def test_a_user_message_is_the_preferred_boundary() -> None:
    rows = window("u a a u a")
    # 10 tokens would be freed by cutting before the first "a", but the next user message
    # is the boundary that still frees enough.
    assert choose_cut(rows, 10) == 3


def test_a_clean_boundary_is_used_when_no_user_message_follows() -> None:
    assert choose_cut(window("u a a a"), 15) == 2


def test_an_approval_answer_stays_with_the_results_it_let_through() -> None:
    # Cutting before the answer would free enough, but the window would then open with
    # the answer and the results, without the call they belong to.
    assert choose_cut(window("u c r t a"), 15) == 4


def test_the_newest_message_always_stays() -> None:
    rows = window("u a u a")
    assert choose_cut(rows, 10_000) == 3
    assert kept(rows, 3) == "a"


def test_a_tool_result_never_starts_the_window() -> None:
    rows = window("u c t t a u a")
    for to_free in (10, 20, 30):
        cut = choose_cut(rows, to_free)
        assert rows[cut].role != "tool"
        assert cut == 5  # the call and both results leave together, up to the next user


def test_a_window_ending_in_tool_results_keeps_their_call() -> None:
    rows = window("u a u c t t")
    assert choose_cut(rows, 10_000) == 3
    assert kept(rows, 3) == "c t t"


# --------------------------------------------------------------------------- kept user turns


def test_the_last_user_turns_are_never_evicted() -> None:
    rows = window("u a u a u a u a")
    cut = choose_cut(rows, 10_000, keep_last_user_turns=2)
    assert kept(rows, cut) == "u a u a"


def test_a_turn_includes_its_tool_calls_and_results() -> None:
    rows = window("u a u c t a c t a")
    cut = choose_cut(rows, 10_000, keep_last_user_turns=1)
    assert kept(rows, cut) == "u c t a c t a"


def test_the_target_is_met_early_when_it_can_be() -> None:
    rows = window("u a u a u a u a")
    assert choose_cut(rows, 15, keep_last_user_turns=2) == 2


def test_messages_before_the_first_user_message_can_go() -> None:
    rows = window("a a u a")
    cut = choose_cut(rows, 10_000, keep_last_user_turns=2)
    assert kept(rows, cut) == "u a"


def test_fewer_turns_than_kept_evicts_nothing_while_under_the_limit() -> None:
    assert choose_cut(window("u a c t a"), 10_000, keep_last_user_turns=2) == 0


def test_zero_kept_turns_is_the_plain_policy() -> None:
    for spec in ("u a u a u a", "u c t a u a", "a u c t t a", "u a a a"):
        rows = window(spec)
        for to_free in (1, 15, 35, 10_000):
            assert choose_cut(rows, to_free, keep_last_user_turns=0) == choose_cut(rows, to_free)


# --------------------------------------------------------------------------- relaxing when stuck


def test_one_huge_turn_gives_way_so_the_run_can_go_on() -> None:
    rows = window("u a u:900 c:900 t:900 a")
    cut = choose_cut(rows, 2_000, keep_last_user_turns=2, tokens_over_limit=1_500)
    # Keeping either turn whole cannot fit: only the newest clean boundary is left.
    assert kept(rows, cut) == "a"


def test_kept_turns_give_way_one_at_a_time() -> None:
    rows = window("u a u:900 a u:900 a")
    # Dropping the first turn frees 20 tokens; dropping the second too frees 930.
    cut = choose_cut(rows, 2_000, keep_last_user_turns=2, tokens_over_limit=500)
    assert kept(rows, cut) == "u a"


def test_kept_turns_stay_when_the_window_still_fits() -> None:
    rows = window("u:900 c:900 t:900 a")
    assert choose_cut(rows, 2_000, keep_last_user_turns=1, tokens_over_limit=0) == 0
    assert choose_cut(rows, 2_000, keep_last_user_turns=1, tokens_over_limit=-50) == 0


def test_a_forced_fold_takes_the_oldest_kept_turn_when_nothing_else_can_go() -> None:
    rows = window("u a u a")
    assert choose_cut(rows, 1, keep_last_user_turns=2) == 0
    # Forcing is asking to free at least one token whatever the kept turns say.
    assert choose_cut(rows, 1, keep_last_user_turns=2, tokens_over_limit=1) == 2
    assert choose_cut(window("u a"), 1, keep_last_user_turns=2, tokens_over_limit=1) == 1
    assert choose_cut(window("c t t"), 1, keep_last_user_turns=2, tokens_over_limit=1) == 0


def test_relaxing_never_splits_a_tool_call_from_its_result() -> None:
    rows = window("u:900 c:900 t:900 t:900")
    cut = choose_cut(rows, 5_000, keep_last_user_turns=1, tokens_over_limit=1_000)
    assert kept(rows, cut) == "c t t"


# --------------------------------------------------------------------------- the summarizer


def test_an_owner_prompt_replaces_the_instructions_but_keeps_the_budget() -> None:
    default = Summarizer(client=NO_CLIENT, model="m").instructions(120)
    custom = Summarizer(client=NO_CLIENT, model="m", prompt="Only list names.").instructions(120)
    assert default.startswith(SUMMARIZER_INSTRUCTIONS)
    assert custom.startswith("Only list names.")
    assert SUMMARIZER_INSTRUCTIONS not in custom
    assert "120 words" in default and "120 words" in custom


def test_clip_chars_bounds_what_the_summarizer_reads_of_each_message() -> None:
    rows = window("u a")
    rows[0].text = "x" * 1_000
    rows[1].text = "short"
    text = transcript(rows, clip_chars=100)
    assert "x" * 100 in text and "x" * 101 not in text
    assert "900 more characters" in text
    assert "assistant: short" in text
    assert "x" * 1_000 in transcript(rows)
