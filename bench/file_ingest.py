"""How fast does a server ingest a large document, and what does it cost the other agents?

Why: folders exist so that an agent can read documents far larger than its window; a
300-page manual must ingest in reasonable time on a small machine, in bounded memory, and
without making every other agent's turn slow while it does. This bench drives a real
``engram serve`` subprocess (fresh data dir, embedded SQLite, the local embedding model)
against the scripted fake OpenAI server in echo mode, and prints:

1. a generated PDF of ``--pages`` pages (about 40 lines of prose a page): upload to
   ``completed``, parsing and embedding phases (from polling the file's status),
   pages/s and chunks/s;
2. the server's peak RSS before the upload and at the end (``VmHWM``);
3. the step latency of another agent (``POST /v1/agents/{id}/messages``, fake LLM
   answering at once): median and p95 with the server idle, and while the file ingests.

Nothing is asserted. Run it from the repository root with the project venv (fpdf2, of
the test extra, writes the PDF):

    .venv/bin/python bench/file_ingest.py [--pages 300] [--json results.json]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `tests.support` and `engram` live in the checkout
    sys.path.insert(0, str(ROOT))

from bench.fake_llm_process import FakeLLM  # noqa: E402
from tests.support.server import EngramServer  # noqa: E402

MODEL = "openai/gpt-4o-mini"
SENTENCE = (
    "the pump housing must be inspected before each season and the seals replaced "
    "when the pressure gauge reads below the marked line on the dial face"
)
WORDS = SENTENCE.split()


def manual_pdf(pages: int) -> bytes:
    """A text PDF of ``pages`` pages of varied sentences."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for page in range(pages):
        pdf.add_page()
        lines = []
        for line in range(40):
            start = (page * 7 + line * 3) % len(WORDS)
            words = [WORDS[(start + i) % len(WORDS)] for i in range(14)]
            lines.append(f"{page + 1}.{line + 1} " + " ".join(words) + ".")
        pdf.multi_cell(0, 5, "\n".join(lines))
    return bytes(pdf.output())


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def server_pid(server: EngramServer) -> int:
    assert server.process is not None
    return server.process.pid


def step_latencies(client: httpx.Client, agent_id: str, stop: threading.Event) -> list[float]:
    """Send turns until ``stop`` is set; each turn's round trip in ms."""
    times: list[float] = []
    i = 0
    while not stop.is_set():
        started = time.perf_counter()
        response = client.post(
            f"/v1/agents/{agent_id}/messages",
            json={"messages": [{"role": "user", "content": f"ping {i}"}]},
        )
        response.raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
        i += 1
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] if ordered else 0.0
    return {
        "turns": len(times),
        "median_ms": statistics.median(times) if times else 0.0,
        "p95_ms": p95,
    }


def baseline(client: httpx.Client, agent_id: str, seconds: float) -> list[float]:
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    try:
        return step_latencies(client, agent_id, stop)
    finally:
        timer.cancel()


def ingest(
    client: httpx.Client, folder_id: str, data: bytes, other: tuple[httpx.Client, str]
) -> dict[str, Any]:
    """Upload, poll until the file ends, with the other agent's turns running meanwhile."""
    stop = threading.Event()
    during: list[float] = []
    worker = threading.Thread(
        target=lambda: during.extend(step_latencies(*other, stop)), daemon=True
    )
    phases: dict[str, float] = {}
    started = time.perf_counter()
    response = client.post(
        f"/v1/folders/{folder_id}/upload",
        files={"file": ("manual.pdf", io.BytesIO(data), "application/pdf")},
    )
    response.raise_for_status()
    file_id = response.json()["id"]
    worker.start()
    state: dict[str, Any] = {}
    while True:
        state = client.get(f"/v1/folders/{folder_id}/files/{file_id}").json()
        status = state["processing_status"]
        phases.setdefault(status, time.perf_counter() - started)
        if status in ("completed", "error"):
            break
        time.sleep(0.1)
    stop.set()
    worker.join(30)
    total = time.perf_counter() - started
    return {"state": state, "phases": phases, "seconds": total, "during": during}


def run(pages: int) -> dict[str, Any]:
    data = manual_pdf(pages)
    fake = FakeLLM()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            server = EngramServer(Path(tmp) / "data", fake.base_url)
            server.start()
            try:
                return measure(server, data, pages)
            finally:
                server.stop()
    finally:
        fake.stop()


def measure(server: EngramServer, data: bytes, pages: int) -> dict[str, Any]:
    pid = server_pid(server)
    with server.client() as client, server.client() as other:
        agent = client.post("/v1/agents/", json={"model": MODEL, "name": "bystander"}).json()
        # Load the local embedding model first, so the idle baseline is warm.
        client.post(f"/v1/agents/{agent['id']}/archival-memory", json={"text": "warm up"})
        idle = baseline(other, agent["id"], 5.0)
        folder = client.post("/v1/folders/", json={"name": "manuals"}).json()
        rss_before = status_kb(pid, "VmHWM") / 1024
        result = ingest(client, folder["id"], data, (other, agent["id"]))
        rss_after = status_kb(pid, "VmHWM") / 1024
    state, phases = result["state"], result["phases"]
    chunks = state.get("total_chunks") or 0
    embedding_from = phases.get("embedding", 0.0)
    embedding_seconds = max(result["seconds"] - embedding_from, 1e-9)
    return {
        "pages": pages,
        "pdf_bytes": len(data),
        "status": state["processing_status"],
        "error": state.get("error_message"),
        "chunks": chunks,
        "seconds": result["seconds"],
        "phases": phases,
        "pages_per_s": pages / result["seconds"],
        "chunks_per_s": chunks / embedding_seconds,
        "peak_rss_mib_before": rss_before,
        "peak_rss_mib_after": rss_after,
        "other_agent_idle": summary(idle),
        "other_agent_during": summary(result["during"]),
    }


def report(results: dict[str, Any]) -> str:
    idle, during = results["other_agent_idle"], results["other_agent_during"]
    phases = ", ".join(f"{name} at {at:.1f} s" for name, at in results["phases"].items())
    return "\n".join(
        [
            f"PDF: {results['pages']} pages, {results['pdf_bytes'] / 1e6:.1f} MB",
            f"ingestion: {results['status']} in {results['seconds']:.1f} s ({phases})",
            f"  {results['chunks']} chunks; {results['pages_per_s']:.1f} pages/s overall, "
            f"{results['chunks_per_s']:.1f} chunks/s while embedding",
            f"server peak RSS: {results['peak_rss_mib_before']:.0f} MiB before, "
            f"{results['peak_rss_mib_after']:.0f} MiB after",
            f"another agent's step: idle median {idle['median_ms']:.1f} ms, "
            f"p95 {idle['p95_ms']:.1f} ms ({idle['turns']} turns); during ingestion "
            f"median {during['median_ms']:.1f} ms, p95 {during['p95_ms']:.1f} ms "
            f"({during['turns']} turns)",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = run(args.pages)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if results["status"] == "completed" else 1


if __name__ == "__main__":
    raise SystemExit(main())
