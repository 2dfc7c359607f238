"""A run's memory ledger: what its memory tools did, and when the model went in circles.

The ledger lives for one run. Each step works on a copy (``MemoryLedger.copy``) that the
step's transaction writes to ``runs.memory_metrics``; the run keeps the copy only once that
transaction commits, so a step that fails leaves no trace in the counts.

Definitions (also in docs/memory.md):

- a *hit* is one passage or message returned by ``archival_memory_search`` or
  ``conversation_search``; ``hits_returned`` counts distinct hits per run.
- a hit is *used* when a later model output of the same run (assistant text, or the
  arguments of a later tool call) contains the hit's id, or a run of ``USED_RUN_WORDS``
  consecutive words of its content (all of its words if it has fewer), compared
  case-insensitively. A hit counts as used at most once.
- a *repeated search* is a search whose tool and arguments (defaults filled in, strings
  lower-cased with whitespace collapsed) equal an earlier search of the run.
- a *reverted edit* is a core-memory edit that puts a block back to the value it had
  before the run's previous edit of that block.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

SEARCH_TOOLS = {
    "archival_memory_search": "archival_searches",
    "conversation_search": "conversation_searches",
}
EDIT_TOOLS = frozenset(
    {
        "core_memory_append",
        "core_memory_replace",
        "memory_replace",
        "memory_insert",
        "memory_rethink",
        "memory_apply_patch",
        # The multi-command tool: its commands that change a block (not ``view``).
        "memory",
    }
)
INSERT_TOOLS = frozenset({"archival_memory_insert"})
MEMORY_TOOLS = frozenset(SEARCH_TOOLS) | EDIT_TOOLS | INSERT_TOOLS

USED_RUN_WORDS = 4
"""Four words in a row rarely match by chance, yet survive a model paraphrasing around them."""

_WORD = re.compile(r"\w+")


@dataclass
class MemoryMetrics:
    """The counts one run's record carries in ``memory_metrics``."""

    archival_inserts: int = 0
    archival_searches: int = 0
    conversation_searches: int = 0
    core_edits: int = 0
    hits_returned: int = 0
    hits_used: int = 0
    failed_calls: int = 0
    repeated_searches: int = 0
    reverted_edits: int = 0
    assist_hits: int = 0
    assist_hits_used: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class RememberedItem:
    """A passage or message put in front of the model, by a search or by recall assist."""

    id: str
    text: str


@dataclass(frozen=True)
class _Pending:
    """A hit not used yet, reduced to what recognising its use needs."""

    id: str
    size: int
    """``USED_RUN_WORDS``, or the hit's word count when it has fewer words."""
    runs: frozenset[tuple[str, ...]]
    """Every run of ``size`` consecutive words of the hit."""
    from_assist: bool


@dataclass(frozen=True)
class _Edit:
    before: str
    step: int


@dataclass
class MemoryLedger:
    """Per-run memory bookkeeping; see the module docstring for what each count means."""

    metrics: MemoryMetrics = field(default_factory=MemoryMetrics)
    _searches: dict[str, int] = field(default_factory=dict)
    """Normalised search -> the step (1-based, within the run) it first ran in."""
    _last_edits: dict[str, _Edit] = field(default_factory=dict)
    """Block label -> its value before the run's latest edit of it."""
    _seen: set[str] = field(default_factory=set)
    _pending: dict[str, _Pending] = field(default_factory=dict)

    def copy(self) -> MemoryLedger:
        return copy.deepcopy(self)

    # ------------------------------------------------------------------ what the model wrote

    def observe_output(self, texts: Iterable[str | None]) -> None:
        """Mark the pending hits that this model output (text, tool arguments) uses."""
        lowered = "\n".join(text for text in texts if text).lower()
        if not lowered or not self._pending:
            return
        words = _WORD.findall(lowered)
        sizes = {pending.size for pending in self._pending.values()}
        runs = {size: set(_word_runs(words, size)) for size in sizes if size}
        for pending in list(self._pending.values()):
            if pending.id.lower() in lowered or not pending.runs.isdisjoint(
                runs.get(pending.size, ())
            ):
                self._mark_used(pending)

    def _mark_used(self, pending: _Pending) -> None:
        del self._pending[pending.id]
        if pending.from_assist:
            self.metrics.assist_hits_used += 1
        else:
            self.metrics.hits_used += 1

    # ------------------------------------------------------------------ what the tools did

    def record_failure(self) -> None:
        self.metrics.failed_calls += 1

    def record_insert(self) -> None:
        self.metrics.archival_inserts += 1

    def record_search(
        self, tool: str, arguments: Mapping[str, Any], hits: list[RememberedItem], step: int
    ) -> str | None:
        """Count a search and its hits; a note for the model when it repeats one."""
        setattr(self.metrics, SEARCH_TOOLS[tool], getattr(self.metrics, SEARCH_TOOLS[tool]) + 1)
        for hit in hits:
            self._remember(hit)
        key = f"{tool}:{json.dumps(_normalised(arguments), sort_keys=True)}"
        first = self._searches.get(key)
        if first is None:
            self._searches[key] = step
            return None
        self.metrics.repeated_searches += 1
        when = "earlier in this step" if first == step else f"in {_step_name(first)}"
        return (
            f"Note: you already ran this exact search {when}; its results are shown again "
            "above. Use them, or search again with different words."
        )

    def record_edit(self, label: str, before: str, after: str, step: int) -> str | None:
        """Count a core-memory edit; a note for the model when it undoes its previous one."""
        self.metrics.core_edits += 1
        previous = self._last_edits.get(label)
        self._last_edits[label] = _Edit(before, step)
        if previous is None or after != previous.before or before == after:
            return None
        self.metrics.reverted_edits += 1
        return (
            f"Note: this edit undid your previous edit of block '{label}' "
            f"({_step_name(previous.step)}): the block is back to the value it had before "
            "that edit. Settle on what the block should say instead of editing it back and "
            "forth."
        )

    def record_assist(self, hits: list[RememberedItem]) -> None:
        """Count the hits recall assist placed in the prompt; their use is tracked too."""
        self.metrics.assist_hits += len(hits)
        for hit in hits:
            if hit.id not in self._pending:
                self._pending[hit.id] = _pending(hit, from_assist=True)

    def _remember(self, hit: RememberedItem) -> None:
        if hit.id in self._seen:
            return
        self._seen.add(hit.id)
        self.metrics.hits_returned += 1
        # A hit recall assist showed first stays counted as the assist's.
        if hit.id not in self._pending:
            self._pending[hit.id] = _pending(hit, from_assist=False)


def _step_name(step: int) -> str:
    """A step as a note names it; step 0 holds the calls a person approved, which run
    before the run's first step."""
    if step == 0:
        return "the approved calls before this run's first step"
    return f"step {step} of this run"


def _pending(hit: RememberedItem, *, from_assist: bool) -> _Pending:
    words = _WORD.findall(hit.text.lower())
    size = min(USED_RUN_WORDS, len(words))
    runs = frozenset(_word_runs(words, size)) if size else frozenset()
    return _Pending(hit.id, size, runs, from_assist)


def _word_runs(words: list[str], size: int) -> Iterable[tuple[str, ...]]:
    return (tuple(words[i : i + size]) for i in range(len(words) - size + 1))


def _normalised(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.lower().split())
    if isinstance(value, Mapping):
        return {key: _normalised(item) for key, item in value.items() if key != "request_heartbeat"}
    if isinstance(value, list | tuple):
        return [_normalised(item) for item in value]
    return value


def hits_in_output(output: str) -> list[RememberedItem]:
    """The hits a search tool's JSON result lists; none when the result is a plain message
    (such as "No archival memories matched.")."""
    try:
        parsed = json.loads(output)
    except json.JSONDecodeError:
        return []
    if not isinstance(parsed, list):
        return []
    return [
        RememberedItem(str(item["id"]), str(item.get("content") or ""))
        for item in parsed
        if isinstance(item, dict) and item.get("id")
    ]
