"""The memory evaluation's printed report: sizes, recall tables and timings."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.memory_eval_facts import KINDS

STYLES = ("all", "keyword", "paraphrase")
STORE_LABELS = {"conversation_search": "conversation", "archival_memory_search": "archival"}
KS = (1, 5, 10)


def percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.0f}"


def recall_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="recall@k (%) by store and search mode", title_justify="left")
    table.add_column("store")
    table.add_column("mode")
    for style in STYLES:
        for k in KS:
            table.add_column(f"{style}\n@{k}", justify="right")
    table.add_column("median\nms", justify="right")
    previous = None
    for row in rows:
        cells = [percent(row[f"{style}@{k}"]) for style in STYLES for k in KS]
        store = STORE_LABELS[row["store"]] if row["store"] != previous else ""
        table.add_row(store, row["mode"], *cells, f"{row['median_ms']:.1f}")
        previous = row["store"]
    return table


def kind_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="recall@5 (%) by kind of fact", title_justify="left")
    table.add_column("store")
    table.add_column("mode")
    for kind in KINDS:
        table.add_column(kind, justify="right")
    table.add_column("update:\nolder first", justify="right")
    previous = None
    for row in rows:
        store = STORE_LABELS[row["store"]] if row["store"] != previous else ""
        cells = [percent(row[f"{kind}@5"]) for kind in KINDS]
        table.add_row(store, row["mode"], *cells, percent(row["stale_first"]))
        previous = row["store"]
    return table


def print_report(results: dict[str, Any]) -> None:
    """Everything goes to stdout (rich drops the colours when it is not a terminal)."""
    console = Console(width=max(Console().width, 140))
    out_of_window = results["messages"] - results["window"]
    console.print(
        f"memory eval: seed {results['seed']}, {results['users']} users x "
        f"{results['sessions']} sessions; {results['messages']:,} messages "
        f"({out_of_window:,} outside the context window), {results['passages']:,} passages, "
        f"{results['questions']} questions (half keyword, half paraphrase), each asked of "
        f"both stores in every mode; embedding local/all-MiniLM-L6-v2; {results['cpus']} CPUs"
    )
    for store, modes in results["served"].items():
        if len(modes) == 1:
            console.print(
                f"[bold]note:[/bold] this server has no search_mode for {store}; "
                f"only its {modes[0]} answer is scored"
            )
    for note in results["notes"]:
        console.print(f"[bold]note:[/bold] {note}")
    console.print(recall_table(results["rows"]))
    console.print(kind_table(results["rows"]))
    console.print(
        "recall@k: share of searches whose target statement (the newest one, for an update) "
        "is among the first k results. older first: share of update searches ranking the "
        "superseded statement above the newest."
    )
    timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in results["timings"].items())
    console.print(f"time: {timings}")
