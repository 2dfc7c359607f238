"""The long-conversation evaluation: an agent file and a question file, searched by type.

Used by ``memory_eval.py --long`` (the generated set of ``memory_eval_long_data``) and
``memory_eval.py --agent-file my.af --questions my.jsonl`` (a user's own export). The
agent file is imported into a server (``POST /v1/agents/import``), the bench waits for the
message embeddings, then asks every question of both stores in every search mode and
scores where the evidence came back.

A question file holds one JSON object a line: ``question`` (the query), ``evidence`` (a
list of texts; a result counts as evidence when its text contains one of them) and
optionally ``type`` (a label the report groups by). Scores, per type and overall:
R@k is the share of a question's evidence found in the first k results (a question with
two evidence turns scores 0.5 at rank 1 at best), MRR@10 the reciprocal rank of the first
evidence found in the first ten.

``bm25`` is plain Okapi BM25 (k1 1.2, b 0.75) computed here over the same texts (lower-case
words, the server's stop words, no stemming), as a reference the server's search should
beat.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.memory_eval_load import say, wait_for_embeddings
from engram.store.messages import STOP_WORDS

MODES = ("hybrid", "fts", "vector", "bm25")
STORES = ("archival", "recall")
DEPTH = 10
KS = (1, 5, 10)


@dataclass(frozen=True)
class Question:
    text: str
    kind: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Scored:
    store: str
    mode: str
    kind: str
    recall: dict[int, float]
    rr: float
    ms: float


def read_questions(path: Path) -> list[Question]:
    """The question file; a line without ``question`` or ``evidence`` is an error."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        if not item.get("question") or not item.get("evidence"):
            raise ValueError(f"{path}:{number}: needs 'question' and a non-empty 'evidence'")
        found.append(Question(item["question"], item.get("type", "all"), tuple(item["evidence"])))
    return found


def import_agent(client: httpx.Client, document: dict[str, Any]) -> str:
    response = client.post(
        "/v1/agents/import",
        files={"file": ("eval.af", json.dumps(document), "application/json")},
        timeout=3600,
    )
    response.raise_for_status()
    return str(response.json()["agent_ids"][0])


# --------------------------------------------------------------------------- searching


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def search_texts(
    client: httpx.Client, store: str, agent_id: str, query: str, mode: str
) -> list[str]:
    if store == "recall":
        body = {"query": query, "agent_id": agent_id, "search_mode": mode, "limit": DEPTH}
        found = client.post("/v1/messages/search", json=body).raise_for_status().json()
        return [_text(hit["content"]) for hit in found]
    params = {"query": query, "top_k": DEPTH, "search_mode": mode}
    path = f"/v1/agents/{agent_id}/archival-memory/search"
    found = client.get(path, params=params).raise_for_status().json()
    return [hit["content"] for hit in found["results"]]


def all_texts(client: httpx.Client, store: str, agent_id: str) -> list[str]:
    """Every stored text of a store, for the local BM25."""
    texts: list[str] = []
    after: str | None = None
    path = f"/v1/agents/{agent_id}/" + ("messages" if store == "recall" else "archival-memory")
    while True:
        params: dict[str, Any] = {"limit": 1000, "order": "asc", "ascending": True}
        if after:
            params["after"] = after
        page = client.get(path, params=params).raise_for_status().json()
        for row in page:
            if store == "recall" and row.get("message_type") in (
                "user_message",
                "assistant_message",
            ):
                texts.append(_text(row.get("content")))
            elif store == "archival":
                texts.append(row["text"])
        if len(page) < 1000:
            return texts
        after = page[-1]["id"]


class Bm25:
    """Okapi BM25 over ``texts``, for the reference column."""

    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.texts = list(texts)
        self.docs = [Counter(_words(text)) for text in self.texts]
        self.lengths = [sum(doc.values()) for doc in self.docs]
        self.avgdl = statistics.fmean(self.lengths) if self.lengths else 1.0
        df: Counter[str] = Counter()
        for doc in self.docs:
            df.update(doc.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.k1, self.b = k1, b

    def top(self, query: str, k: int) -> list[str]:
        terms = set(_words(query))
        scores = []
        for i, doc in enumerate(self.docs):
            score = 0.0
            norm = self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avgdl)
            for term in terms & doc.keys():
                tf = doc[term]
                score += self.idf[term] * tf * (self.k1 + 1) / (tf + norm)
            if score > 0:
                scores.append((score, i))
        scores.sort(key=lambda pair: (-pair[0], pair[1]))
        return [self.texts[i] for _, i in scores[:k]]


def _words(text: str) -> list[str]:
    words = re.findall(r"\w+", text.lower())
    return [w for w in words if w not in STOP_WORDS] or words


def score(texts: Sequence[str], evidence: Sequence[str]) -> tuple[dict[int, float], float]:
    places = [next((i for i, t in enumerate(texts) if e in t), None) for e in evidence]
    recall = {k: sum(1 for p in places if p is not None and p < k) / len(evidence) for k in KS}
    first = min((p for p in places if p is not None and p < DEPTH), default=None)
    return recall, (1.0 / (first + 1) if first is not None else 0.0)


def evaluate(
    client: httpx.Client, agent_id: str, questions: Sequence[Question], stores: Sequence[str]
) -> list[Scored]:
    results: list[Scored] = []
    for store in stores:
        reference = Bm25(all_texts(client, store, agent_id))
        for mode in MODES:
            for question in questions:
                started = time.perf_counter()
                if mode == "bm25":
                    texts = reference.top(question.text, DEPTH)
                else:
                    texts = search_texts(client, store, agent_id, question.text, mode)
                ms = (time.perf_counter() - started) * 1000
                recall, rr = score(texts, question.evidence)
                results.append(Scored(store, mode, question.kind, recall, rr, ms))
        say(f"  searched {store}")
    return results


# --------------------------------------------------------------------------- report


def summarize(results: Sequence[Scored]) -> list[dict[str, Any]]:
    rows = []
    kinds = sorted({r.kind for r in results})
    for store in STORES:
        for kind in ["all", *kinds]:
            for mode in MODES:
                mine = [
                    r
                    for r in results
                    if r.store == store and r.mode == mode and kind in ("all", r.kind)
                ]
                if not mine:
                    continue
                row: dict[str, Any] = {"store": store, "type": kind, "mode": mode, "n": len(mine)}
                for k in KS:
                    row[f"R@{k}"] = statistics.fmean(r.recall[k] for r in mine)
                row["MRR@10"] = statistics.fmean(r.rr for r in mine)
                row["p50 ms"] = statistics.median(r.ms for r in mine)
                rows.append(row)
    return rows


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The table as Markdown, ready for a design note."""
    lines = [
        "| store | type | n | mode | R@1 | R@5 | R@10 | MRR@10 | p50 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['store']} | {row['type']} | {row['n']} | {row['mode']} | "
            + " | ".join(f"{row[c]:.3f}" for c in ("R@1", "R@5", "R@10", "MRR@10"))
            + f" | {row['p50 ms']:.1f} |"
        )
    return "\n".join(lines)


def run_long(
    client: httpx.Client,
    document: dict[str, Any],
    questions: Sequence[Question],
    *,
    index_timeout: float,
) -> dict[str, Any]:
    """Import, wait for the embeddings, search, score."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    say("importing the agent file (its passages are embedded on import) ...")
    agent_id = import_agent(client, document)
    timings["import"] = time.perf_counter() - started
    timings["embed wait"] = wait_for_embeddings(client, [agent_id], index_timeout)
    say(f"searching {len(questions)} questions ...")
    started = time.perf_counter()
    results = evaluate(client, agent_id, questions, STORES)
    timings["search"] = time.perf_counter() - started
    rows = summarize(results)
    return {"agent_id": agent_id, "questions": len(questions), "rows": rows, "timings": timings}
