"""Near-duplicate archival passages: found deterministically, merged with provenance.

Archival memory written over weeks collects the same fact several times. Two of an
agent's own passages count as duplicates when their embeddings are close (cosine at least
``similarity``) *and* their words overlap (Jaccard of their word sets at least
``overlap``): the vector test alone joins paraphrases that differ in a detail (a date, a
name), the word test alone joins texts that share boilerplate. Duplicates group
transitively. In each group the passage with the longest text is kept (the oldest among
equals), so no text is lost and nothing needs embedding again; the others are deleted
(``mode="merge"``) and listed in the kept one's ``metadata.merged_from`` with their text,
time and when they were merged, or only marked ``metadata.duplicate_of`` (``mode="mark"``).

Passages of shared archives are left alone: other agents read them too.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.store import tables as t

_WORD = re.compile(r"\w+")
CHECKED = "checked_through_seq"
"""Kept beside the settings: the newest passage the last upkeep compared."""
MODES = ("merge", "mark")


@dataclass(frozen=True)
class UpkeepSettings:
    """How archival upkeep runs for one sleep-time pairing (``groups.archival_upkeep``)."""

    enabled: bool = True
    similarity: float = 0.9
    overlap: float = 0.5
    mode: str = "merge"

    @classmethod
    def of(cls, raw: dict[str, Any] | None) -> UpkeepSettings:
        """The settings of a group's stored JSON (which also keeps ``CHECKED``)."""
        known = {item.name for item in fields(cls)}
        return cls(**{k: v for k, v in (raw or {}).items() if k in known})

    def changed(self, sent: dict[str, Any]) -> UpkeepSettings:
        """These settings with ``sent`` applied; InvalidInput names a bad field."""
        known = set(asdict(self))
        for name in sent:
            if name not in known:
                raise InvalidInput(f"archival_upkeep.{name}", f"not one of {sorted(known)}")
        merged = {**asdict(self), **{k: v for k, v in sent.items() if v is not None}}
        for name in ("similarity", "overlap"):
            value = merged[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(f"archival_upkeep.{name}", "must be a number")
            if not 0.5 <= float(value) <= 1.0:
                raise InvalidInput(f"archival_upkeep.{name}", f"must be in [0.5, 1], got {value}")
        if merged["mode"] not in MODES:
            raise InvalidInput("archival_upkeep.mode", f"must be one of {list(MODES)}")
        if not isinstance(merged["enabled"], bool):
            raise InvalidInput("archival_upkeep.enabled", "must be true or false")
        return UpkeepSettings(**merged)


def upkeep_settings(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The settings as the API shows them, defaults filled in."""
    return asdict(UpkeepSettings.of(raw))


@dataclass
class DuplicateGroup:
    """Passages found to say the same thing; ``keep`` stays, ``duplicates`` go."""

    keep: str
    duplicates: list[str]
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Per duplicate: (cosine, word overlap) against the passage it was joined by."""

    def view(self, texts: dict[str, str]) -> dict[str, Any]:
        return {
            "keep": {"id": self.keep, "text": texts[self.keep]},
            "duplicates": [
                {
                    "id": pid,
                    "text": texts[pid],
                    "similarity": round(self.scores[pid][0], 4),
                    "overlap": round(self.scores[pid][1], 4),
                }
                for pid in self.duplicates
            ],
        }


@dataclass
class _Row:
    id: str
    seq: int
    text: str
    created_at: datetime
    words: frozenset[str]


def find_duplicates(
    session: Session, agent_id: str, settings: UpkeepSettings, since_seq: int = 0
) -> tuple[list[DuplicateGroup], dict[str, str]]:
    """The agent's own passages grouped by near-duplication, in passage order; also the
    texts by id, to show the groups. Only pairs with a passage newer than ``since_seq``
    are compared (0: every pair), a block of rows at a time, so memory stays bounded by
    ``CHUNK`` rows times the passage count."""
    rows, matrix = _load(session, agent_id)
    texts = {row.id: row.text for row in rows}
    if len(rows) < 2:
        return [], texts
    links = _Links(len(rows))
    fresh = [i for i, row in enumerate(rows) if row.seq > since_seq]
    for start in range(0, len(fresh), CHUNK):
        chunk = fresh[start : start + CHUNK]
        cosines = matrix[chunk] @ matrix.T
        for offset, i in enumerate(chunk):
            for j in np.nonzero(cosines[offset] >= settings.similarity)[0]:
                if int(j) == i:
                    continue
                overlap = _jaccard(rows[i].words, rows[int(j)].words)
                if overlap >= settings.overlap:
                    links.join(i, int(j), (float(cosines[offset, j]), overlap))
    groups = [_group_of(rows, links, indexes) for indexes in links.groups()]
    groups.sort(key=lambda g: min(r.seq for r in rows if r.id in {g.keep, *g.duplicates}))
    return groups, texts


CHUNK = 256
"""Rows compared at once: the similarities of 256 passages with all the others."""


class _Links:
    """Union-find over row indexes, remembering how each row was first joined."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))
        self.joined_by: dict[int, tuple[float, float]] = {}

    def root(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int, scores: tuple[float, float]) -> None:
        self.joined_by.setdefault(i, scores)
        self.joined_by.setdefault(j, scores)
        self.parent[self.root(j)] = self.root(i)

    def groups(self) -> list[list[int]]:
        members: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            members.setdefault(self.root(i), []).append(i)
        return [indexes for indexes in members.values() if len(indexes) > 1]


def _group_of(rows: list[_Row], links: _Links, indexes: list[int]) -> DuplicateGroup:
    keep = max(indexes, key=lambda i: (len(rows[i].text), -rows[i].seq))
    rest = [i for i in indexes if i != keep]
    return DuplicateGroup(
        keep=rows[keep].id,
        duplicates=[rows[i].id for i in rest],
        scores={rows[i].id: links.joined_by[i] for i in rest},
    )


def newest_seq(session: Session, agent_id: str) -> int:
    """The agent's newest own passage: where the next upkeep's comparisons start."""
    found = session.scalar(select(func.max(t.Passage.seq)).where(t.Passage.agent_id == agent_id))
    return int(found or 0)


def apply(
    session: Session, groups: list[DuplicateGroup], mode: str, now: datetime | None = None
) -> int:
    """Merge (or mark) each group in the caller's transaction; returns how many passages
    were merged away (or marked)."""
    when = (now or datetime.now(UTC)).isoformat()
    done = 0
    for group in groups:
        keep = session.scalars(select(t.Passage).where(t.Passage.id == group.keep)).first()
        others = list(
            session.scalars(
                select(t.Passage).where(t.Passage.id.in_(group.duplicates)).order_by(t.Passage.seq)
            )
        )
        if keep is None or not others:
            continue  # changed since it was found: the next run looks again
        if mode == "mark":
            for other in others:
                other.metadata_ = {**(other.metadata_ or {}), "duplicate_of": keep.id}
        else:
            merged = [_provenance(other, when) for other in others]
            earlier = list((keep.metadata_ or {}).get("merged_from", []))
            tags = sorted({*(keep.tags or []), *(tag for o in others for tag in (o.tags or []))})
            keep.metadata_ = {**(keep.metadata_ or {}), "merged_from": earlier + merged}
            keep.tags = tags
            session.execute(delete(t.Passage).where(t.Passage.id.in_([o.id for o in others])))
        done += len(others)
    return done


def _provenance(passage: t.Passage, when: str) -> dict[str, Any]:
    return {
        "id": passage.id,
        "text": passage.text,
        "created_at": passage.created_at.isoformat(),
        "message_id": passage.message_id,
        "merged_at": when,
    }


def _load(session: Session, agent_id: str) -> tuple[list[_Row], np.ndarray[Any, Any]]:
    """The agent's own passages of its current embedding size, with unit vectors."""
    result = session.execute(
        select(
            t.Passage.id, t.Passage.seq, t.Passage.text, t.Passage.created_at, t.Passage.embedding
        )
        .where(t.Passage.agent_id == agent_id)
        .order_by(t.Passage.seq)
    ).all()
    if not result:
        return [], np.zeros((0, 0), dtype=np.float32)
    dim = max(len(r.embedding) for r in result)
    kept = [r for r in result if len(r.embedding) == dim]
    rows = [
        _Row(r.id, r.seq, r.text, r.created_at, frozenset(_WORD.findall(r.text.lower())))
        for r in kept
    ]
    matrix = np.frombuffer(b"".join(r.embedding for r in kept), dtype=np.float32)
    return rows, matrix.reshape(len(kept), dim // 4)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
