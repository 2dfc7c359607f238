"""How much memory does one large input cost the server?

Why: a request that is too large must be refused cheaply, and one that is accepted (under
a raised limit) must not multiply in memory on its way to the database. This bench starts
real ``engram serve`` subprocesses against the fake OpenAI server and reads the server's
peak resident set (``VmHWM`` in ``/proc/<pid>/status``, reset through ``clear_refs`` before
each measurement) around:

1. a 10 MB archival passage under the default limits (refused with 413 or 422);
2. the same passage with the limits raised so it is stored;
3. a 50 MB agent file, imported under a raised agent-file limit.

Each row prints the peak above the RSS just before the request; targets are printed
beside the numbers and nothing is asserted. Every row first loads the embedding model, so
it measures a server in use; ``--fresh`` leaves it unloaded instead, which measures a
server that has just started (its heap has no room freed by earlier work, so the same
input shows a higher peak). ``--postgres`` runs the servers on a throwaway PostgreSQL
(``pgserver``, installed with the test extras) instead of SQLite. Run it from the
repository root:

    .venv/bin/python bench/input_limits.py [--passage-mb 10] [--file-mb 50] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `tests.support` lives in the checkout
    sys.path.insert(0, str(ROOT))

from bench.fake_llm_process import FakeLLM  # noqa: E402
from tests.support.postgres import PostgresCluster  # noqa: E402
from tests.support.server import EngramServer  # noqa: E402

MODEL = "openai/gpt-4o-mini"
MB = 1_000_000
MIB = 1024 * 1024
TARGET_PASSAGE_MB = 100
TARGET_FILE_FACTOR = 4.0
RAISED = {
    "ENGRAM_MAX_REQUEST_BYTES": str(512 * MIB),
    "ENGRAM_MAX_AGENT_FILE_BYTES": str(512 * MIB),
    "ENGRAM_MAX_PASSAGE_CHARS": str(100 * MB),
    "ENGRAM_MAX_MESSAGE_CHARS": str(100 * MB),
    "ENGRAM_WARM_EMBEDDINGS": "false",
}


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def reset_peak(pid: int) -> None:
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def measure(pid: int, call: Any) -> tuple[float, float, Any]:
    """(RSS before in MB, peak above it in MB, the call's result)."""
    time.sleep(0.5)
    reset_peak(pid)
    before = status_kb(pid, "VmRSS")
    result = call()
    peak = status_kb(pid, "VmHWM")
    return before / 1024, (peak - before) / 1024, result


def passage_text(size: int) -> str:
    words = ("memory", "agent", "server", "limit", "archive", "passage", "window", "token")
    out: list[str] = []
    total = 0
    i = 0
    while total < size:
        word = words[i % len(words)] + str(i % 997)
        out.append(word)
        total += len(word) + 1
        i += 1
    return " ".join(out)[:size]


def agent_file(size: int, message_bytes: int, passages: int = 0) -> bytes:
    """An agent file of about ``size`` bytes: one agent with messages of ``message_bytes``
    or, when ``passages`` is set, that many archival passages sharing the size."""
    chunk = passage_text(message_bytes)
    count = 0 if passages else max(1, size // (message_bytes + 60))
    messages = [
        {"id": f"message-{i}", "role": "user" if i % 2 else "assistant", "content": chunk}
        for i in range(count)
    ]
    long_text = passage_text(size // passages) if passages else ""
    extras = {"passages": [{"text": long_text} for _ in range(passages)]}
    document = {
        "agents": [
            {
                "id": "agent-0",
                "name": "bench",
                "llm_config": {
                    "model": "gpt-4o-mini",
                    "model_endpoint_type": "openai",
                    "context_window": 32000,
                    "handle": MODEL,
                },
                "messages": messages,
                "in_context_message_ids": [],
                "engram": extras,
            }
        ],
        "blocks": [],
        "tools": [],
    }
    return json.dumps(document).encode()


def new_agent(client: httpx.Client) -> str:
    response = client.post("/v1/agents/", json={"model": MODEL, "include_base_tools": False})
    response.raise_for_status()
    return str(response.json()["id"])


def passage_row(client: httpx.Client, pid: int, text: str, label: str) -> tuple[str, ...]:
    warm_embeddings(client)  # a fresh server would load the model inside the measurement
    agent_id = new_agent(client)
    before, peak, response = measure(
        pid, lambda: client.post(f"/v1/agents/{agent_id}/archival-memory", json={"text": text})
    )
    return (
        f"{len(text) / MB:.0f} MB passage, {label}",
        str(response.status_code),
        f"{before:.0f} MB before, +{peak:.0f} MB peak",
        f"<= +{TARGET_PASSAGE_MB} MB",
    )


def warm_embeddings(client: httpx.Client) -> None:
    """Load the embedding model, so a row measures its input and not the model's weights."""
    agent_id = new_agent(client)
    client.post(
        f"/v1/agents/{agent_id}/archival-memory", json={"text": "warm up"}
    ).raise_for_status()
    client.delete(f"/v1/agents/{agent_id}").raise_for_status()


def agent_file_row(
    client: httpx.Client, pid: int, body: bytes, label: str, fresh: bool
) -> tuple[str, ...]:
    size_mb = len(body) / MB
    if not fresh:
        warm_embeddings(client)
    before, peak, response = measure(
        pid,
        lambda: client.post(
            "/v1/agents/import", files={"file": ("bench.af", body, "application/json")}
        ),
    )
    return (
        f"{size_mb:.0f} MB agent file, {label}{', fresh server' if fresh else ''}",
        str(response.status_code),
        f"{before:.0f} MB before, +{peak:.0f} MB peak ({peak / size_mb:.1f}x the file)",
        f"<= {TARGET_FILE_FACTOR:.0f}x",
    )


def run(args: argparse.Namespace) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    cluster = PostgresCluster() if args.postgres else None
    fake = FakeLLM()
    text = passage_text(args.passage_mb * MB)
    body = agent_file(args.file_mb * MB, args.message_bytes, args.file_passages)
    default = {"ENGRAM_WARM_EMBEDDINGS": "false"}
    cases = (
        ("passage", "default limits", default),
        ("passage", "limits raised", RAISED),
        ("file", "default limits", default),
        ("file", "limits raised", RAISED),
    )
    try:
        for kind, label, env in cases:
            if args.only and kind != args.only:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                url = cluster.new_database() if cluster else None
                server = EngramServer(Path(tmp) / "data", fake.base_url, env, database_url=url)
                server.start()
                try:
                    assert server.process is not None
                    pid = server.process.pid
                    with httpx.Client(base_url=server.base_url, timeout=600) as client:
                        if kind == "passage":
                            rows.append(passage_row(client, pid, text, label))
                        else:
                            rows.append(agent_file_row(client, pid, body, label, args.fresh))
                finally:
                    server.stop()
    finally:
        fake.stop()
        if cluster:
            cluster.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passage-mb", type=int, default=10)
    parser.add_argument("--file-mb", type=int, default=50)
    parser.add_argument("--message-bytes", type=int, default=2000, help="per message in the file")
    parser.add_argument(
        "--file-passages", type=int, default=0, help="a file of this many long passages instead"
    )
    parser.add_argument("--only", choices=["passage", "file"], help="run one kind of row")
    parser.add_argument(
        "--fresh", action="store_true", help="agent files: do not load the embedding model first"
    )
    parser.add_argument("--postgres", action="store_true", help="run the servers on PostgreSQL")
    args = parser.parse_args()
    rows = run(args)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header = ("input", "status", "server RSS", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
