"""Tests of per-model token counting (engram.llm.tokens).

The exact counters must work with the network unreachable, because tiktoken's own
loader would fetch its rank files from a blob store; so several tests block sockets
and tiktoken's loader while loading. Known counts come from tiktoken's README, the
OpenAI cookbook's chat-counting example and published API-verified chat counts.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import random
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as openai_public

from engram.llm import tokens
from engram.llm.tokens import (
    EstimatingCounter,
    TiktokenCounter,
    TokenCounter,
    count_chat_tokens,
    counter_for_model,
    encoding_name_for_model,
    load_encoding,
)

ENCODINGS = ["o200k_base", "cl100k_base"]
REPO_ROOT = Path(__file__).resolve().parents[2]


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise OSError("network access is blocked in this test")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any connection attempt, and tiktoken's downloader, fail loudly."""
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)
    monkeypatch.setattr(tiktoken.load, "read_file", _refuse)
    monkeypatch.setattr(tiktoken.load, "read_file_cached", _refuse)
    monkeypatch.setattr(tiktoken.load, "load_tiktoken_bpe", _refuse)
    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", _refuse)


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Forget loaded encodings, and point tiktoken's cache at an empty dir, for one test."""
    monkeypatch.setattr(tokens, "_LOADED", {})
    cache = tmp_path / "tiktoken-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(cache))
    yield cache


# --------------------------------------------------------------------------- loading


@pytest.mark.parametrize("name", ENCODINGS)
def test_loads_offline_with_network_blocked(name: str, no_network: None, fresh_cache: Path) -> None:
    enc = load_encoding(name)
    assert enc.name == name
    assert len(enc.encode_ordinary("hello world")) == 2
    assert load_encoding(name) is enc  # built once, then reused
    assert not fresh_cache.exists()  # tiktoken's cache was never touched
    with pytest.raises(OSError):  # the guard is real: tiktoken's own loader is cut off
        tiktoken.get_encoding("p50k_base")


@pytest.mark.parametrize("name", ENCODINGS)
def test_spec_matches_tiktoken_definition(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Our pattern, special tokens and pinned hash equal what tiktoken itself defines.

    tiktoken's constructor for the encoding is called with its loader replaced, so
    we read its definition without downloading anything.
    """
    seen: dict[str, str] = {}

    def fake_load(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        seen["url"], seen["hash"] = url, expected_hash or ""
        return tokens._read_ranks(tokens._SPECS[name])

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", fake_load)
    definition = getattr(openai_public, name)()
    spec = tokens._SPECS[name]
    assert spec.pat_str == definition["pat_str"]
    assert dict(spec.special_tokens) == definition["special_tokens"]
    assert spec.sha256 == seen["hash"]
    assert seen["url"].endswith(f"/{name}.tiktoken")
    enc = load_encoding(name)
    assert enc.n_vocab == tiktoken.Encoding(**definition).n_vocab


@pytest.mark.parametrize("name", ENCODINGS)
def test_shipped_file_is_the_published_one(name: str) -> None:
    spec = tokens._SPECS[name]
    path = Path(tokens.__file__).parent / "encodings" / spec.filename
    import gzip

    raw = gzip.decompress(path.read_bytes())
    assert hashlib.sha256(raw).hexdigest() == spec.sha256
    ranks = tokens._read_ranks(spec)
    assert sorted(ranks.values()) == list(range(len(ranks)))  # dense, no gaps or repeats


def test_import_is_lazy() -> None:
    """Importing the module or picking a counter must not load an encoding (or tiktoken)."""
    code = textwrap.dedent(
        """
        import sys
        from engram.llm import tokens
        counter = tokens.counter_for_model("gpt-4o")
        assert not tokens._LOADED, tokens._LOADED
        assert "tiktoken" not in sys.modules
        assert counter.count("hello world") == 2
        assert list(tokens._LOADED) == ["o200k_base"]
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT, timeout=60)


def test_concurrent_first_use_builds_once(fresh_cache: Path) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        encodings = list(pool.map(lambda _: load_encoding("cl100k_base"), range(8)))
    assert all(enc is encodings[0] for enc in encodings)


def test_broken_data_falls_back_to_estimate(
    monkeypatch: pytest.MonkeyPatch, fresh_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def corrupt(spec: Any) -> dict[bytes, int]:
        raise ValueError("corrupt")

    monkeypatch.setattr(tokens, "_read_ranks", corrupt)
    counter = TiktokenCounter("o200k_base")
    text = "The quick brown fox jumps over the lazy dog."
    with caplog.at_level(logging.ERROR, logger="engram.llm.tokens"):
        assert counter.count(text) == EstimatingCounter().count(text)
        assert counter.count(text) == EstimatingCounter().count(text)
    assert not counter.exact
    assert len([r for r in caplog.records if "o200k_base" in r.getMessage()]) == 1


# --------------------------------------------------------------------------- known counts

# (text, o200k tokens, cl100k tokens). Justification per row:
# "hello world" is two whole-word tokens in both vocabularies; "tiktoken is great!"
# is the tiktoken README example (t|ik|token| is| great|!); digits split into groups
# of at most three; special-token text is counted as ordinary text, never as a
# single special token.
KNOWN_COUNTS: list[tuple[str, int, int]] = [
    ("", 0, 0),
    ("hello world", 2, 2),
    ("Hello, world!", 4, 4),
    ("tiktoken is great!", 6, 6),
    ("1234567", 3, 3),
    ("<|endoftext|>", 7, 7),
]


@pytest.mark.parametrize(("text", "o200k", "cl100k"), KNOWN_COUNTS)
def test_known_counts(text: str, o200k: int, cl100k: int) -> None:
    assert counter_for_model("gpt-4o").count(text) == o200k
    assert counter_for_model("gpt-4").count(text) == cl100k


def test_tiktoken_readme_tokens() -> None:
    enc = load_encoding("cl100k_base")
    pieces = [enc.decode_single_token_bytes(t) for t in enc.encode("tiktoken is great!")]
    assert pieces == [b"t", b"ik", b"token", b" is", b" great", b"!"]


def test_encodings_differ_where_they_should() -> None:
    """o200k's larger vocabulary packs non-English text tighter than cl100k."""
    text = "服务器会持久保存每个智能体的状态"
    assert counter_for_model("gpt-4o").count(text) < counter_for_model("gpt-4").count(text)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("o1", "o200k_base"),
        ("o1-mini", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"),
        ("GPT-4O", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
        ("claude-3-5-sonnet-20241022", None),
        ("anthropic/claude-sonnet-4", None),
        ("llama-3.1-8b-instruct", None),
        ("qwen2.5:7b", None),
        ("o10-experimental", None),
        ("", None),
    ],
)
def test_model_to_encoding(model: str, expected: str | None) -> None:
    assert encoding_name_for_model(model) == expected
    counter = counter_for_model(model)
    assert isinstance(counter, TokenCounter)
    if expected is None:
        assert isinstance(counter, EstimatingCounter)
    else:
        assert isinstance(counter, TiktokenCounter)
        assert counter.encoding_name == expected


def test_counters_are_cached_and_shared() -> None:
    assert counter_for_model("gpt-4o") is counter_for_model("gpt-4o")
    assert counter_for_model("gpt-4o") is counter_for_model("gpt-4o-mini")
    assert counter_for_model("claude-3-haiku") is counter_for_model("mystery-model")


# --------------------------------------------------------------------------- chat


SYSTEM = {
    "role": "system",
    "content": "You are a helpful, pattern-following assistant that translates corporate "
    "jargon into plain English.",
}
COOKBOOK_EXAMPLE: list[dict[str, Any]] = [
    SYSTEM,
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on "
        "opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the "
        "client deliverable.",
    },
]


@pytest.mark.parametrize(
    ("messages", "gpt4", "gpt4o"),
    [
        ([SYSTEM], 25, 24),
        ([{"role": "system", "content": "You are a bot."}], 12, 12),
        ([{"role": "user", "content": "Hello, how are you?"}], 13, 13),
        ([{"role": "user", "content": "á"}], 8, 8),
        (COOKBOOK_EXAMPLE[1:2], 20, 20),
        (COOKBOOK_EXAMPLE, 129, 124),
    ],
)
def test_chat_counts_match_openai(messages: list[dict[str, Any]], gpt4: int, gpt4o: int) -> None:
    """Prompt-token counts the OpenAI API reported for these requests (no tools)."""
    assert count_chat_tokens("gpt-4", messages) == gpt4
    assert count_chat_tokens("gpt-4o", messages) == gpt4o


def test_chat_content_parts_equal_plain_string() -> None:
    plain = [{"role": "user", "content": "Describe this picture please."}]
    text_part = {"type": "text", "text": "Describe this picture please."}
    parts = [{"role": "user", "content": [text_part]}]
    assert count_chat_tokens("gpt-4o", parts) == count_chat_tokens("gpt-4o", plain)
    with_image = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe this picture please."},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        }
    ]
    assert count_chat_tokens("gpt-4o", with_image) > count_chat_tokens("gpt-4o", plain)


WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "archival_memory_search",
        "description": "Search the agent's archival memory for passages about a topic.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "page": {"type": "integer"}},
            "required": ["query"],
        },
    },
}
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are Engram, a helpful agent with long-term memory."},
    {"role": "user", "content": "What's the weather like in Paris today?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_abc123",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {
        "role": "tool",
        "tool_call_id": "call_abc123",
        "content": '{"temperature": 18, "unit": "celsius", "sky": "cloudy"}',
    },
    {"role": "assistant", "content": "It is 18 °C and cloudy in Paris right now."},
]


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4", "claude-3-5-sonnet-20241022"])
def test_chat_counting_is_monotonic(model: str) -> None:
    """Each added message, tool call or tool schema adds at least its own text."""
    previous = count_chat_tokens(model, [])
    assert previous == 3  # reply priming only
    for i in range(1, len(CONVERSATION) + 1):
        current = count_chat_tokens(model, CONVERSATION[:i])
        assert current > previous + 3, (i, previous, current)
        previous = current
    with_tools = count_chat_tokens(model, CONVERSATION, tools=[WEATHER_TOOL])
    with_two = count_chat_tokens(model, CONVERSATION, tools=[WEATHER_TOOL, SEARCH_TOOL])
    # A schema is shown to the model compactly, not as its JSON: it costs at least its
    # name, description and parameter names, and less than the JSON it is sent as.
    count = counter_for_model(model).count
    function = WEATHER_TOOL["function"]
    own_text = count(function["name"]) + count(function.get("description", ""))
    own_text += sum(count(name) for name in function["parameters"]["properties"])
    assert previous + own_text <= with_tools < previous + count(json.dumps(function)) + 20
    assert with_two > with_tools
    assert count_chat_tokens(model, CONVERSATION, tools=[]) == previous


def test_chat_counts_tool_calls_and_ids() -> None:
    call = CONVERSATION[2]
    no_calls = {"role": "assistant", "content": None}
    enc = counter_for_model("gpt-4o")
    diff = count_chat_tokens("gpt-4o", [call]) - count_chat_tokens("gpt-4o", [no_calls])
    assert diff >= enc.count("get_weather") + enc.count('{"city": "Paris"}')
    result = CONVERSATION[3]
    without_id = {k: v for k, v in result.items() if k != "tool_call_id"}
    assert count_chat_tokens("gpt-4o", [result]) - count_chat_tokens("gpt-4o", [without_id]) == (
        enc.count("call_abc123")
    )
    # Arguments given as a dict (non-standard, but seen) are priced as their JSON.
    dict_args = {
        "role": "assistant",
        "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
    }
    assert count_chat_tokens("gpt-4o", [dict_args]) > count_chat_tokens("gpt-4o", [no_calls])


def test_legacy_function_shapes() -> None:
    bare = dict(WEATHER_TOOL["function"])
    assert count_chat_tokens("gpt-4o", [], tools=[bare]) == count_chat_tokens(
        "gpt-4o", [], tools=[WEATHER_TOOL]
    )
    legacy_call = {
        "role": "assistant",
        "content": None,
        "function_call": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    assert count_chat_tokens("gpt-4o", [legacy_call]) == count_chat_tokens(
        "gpt-4o", [CONVERSATION[2]]
    )


# --------------------------------------------------------------------------- estimate


def _chunks(text: str, size: int = 3000) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size) if len(text[i : i + size]) > 300]


def _calibration_corpus() -> dict[str, list[str]]:
    """English, code and JSON from the standard library, so every machine has it."""
    import argparse
    import collections
    import csv
    import dataclasses
    import email.message
    import enum
    import functools
    import http.client
    import json.decoder
    import logging as logging_module
    import pathlib
    import shutil
    import subprocess as subprocess_module
    import textwrap as textwrap_module
    import urllib.parse

    modules = [
        argparse, collections, csv, dataclasses, email.message, functools, http.client,
        json.decoder, logging_module, pathlib, shutil, subprocess_module, textwrap_module,
        enum, urllib.parse,
    ]  # fmt: skip
    docs: list[str] = []
    for module in modules:
        docs.append(inspect.getdoc(module) or "")
        for obj in list(vars(module).values()):
            is_own = getattr(obj, "__module__", None) == module.__name__
            if is_own and (inspect.isclass(obj) or inspect.isfunction(obj)):
                docs.append(inspect.getdoc(obj) or "")
    english = _chunks("\n\n".join(d for d in docs if len(d) > 80))
    code = [c for m in modules for c in _chunks(inspect.getsource(m))[:4]]

    rng = random.Random(20240501)
    words = ["agent", "memory", "block", "archival", "recall", "message", "tool", "summary"]
    records = [
        {
            "id": f"msg-{rng.getrandbits(48):012x}",
            "role": rng.choice(["user", "assistant", "tool"]),
            "created_at": f"2024-05-{rng.randint(10, 28)}T12:{rng.randint(10, 59)}:00Z",
            "content": " ".join(rng.choice(words) for _ in range(rng.randint(3, 30))),
            "token_count": rng.randint(1, 4000),
            "metadata": {"score": round(rng.random(), 4), "tags": rng.sample(words, 3)},
        }
        for _ in range(300)
    ]
    pretty = json.dumps(records, indent=2)
    compact = json.dumps(records, separators=(",", ":"))
    schema = json.dumps([WEATHER_TOOL, SEARCH_TOOL] * 20, indent=2)
    json_docs = _chunks(pretty)[:30] + _chunks(compact)[:30] + _chunks(schema)
    return {"english": english, "code": code, "json": json_docs}


def test_estimate_tracks_o200k_on_mixed_corpus() -> None:
    """The estimate stays close to o200k on English, code and JSON (per doc and in sum)."""
    exact, estimate = counter_for_model("gpt-4o"), EstimatingCounter()
    report = []
    all_errors: list[float] = []
    for kind, docs in _calibration_corpus().items():
        assert len(docs) >= 10, kind
        truth = [exact.count(d) for d in docs]
        guess = [estimate.count(d) for d in docs]
        errors = [abs(g - t) / t for g, t in zip(guess, truth, strict=True)]
        all_errors += errors
        aggregate = sum(guess) / sum(truth) - 1
        mean = sum(errors) / len(errors)
        report.append(
            f"{kind}: {len(docs)} docs, aggregate {aggregate:+.1%}, "
            f"mean |err| {mean:.1%}, max {max(errors):.1%}"
        )
        assert abs(aggregate) < 0.15, report[-1]
        assert mean < 0.10, report[-1]
    within = sum(e <= 0.15 for e in all_errors) / len(all_errors)
    print("\n" + "\n".join(report) + f"\nwithin 15%: {within:.1%} of docs")
    assert within >= 0.9


@pytest.mark.parametrize(
    "text",
    [
        "a" * 5000,
        " " * 5000,
        "\n" * 5000,
        "-" * 5000,
        "7" * 5000,
        "服务器会持久保存每个智能体的状态" * 50,
        "Сервер сохраняет состояние каждого агента. " * 50,
        "Great job 🎉🎉 — shipping today! 🚀 " * 50,
    ],
)
def test_estimate_is_sane_on_odd_text(text: str) -> None:
    """Odd inputs stay within a small factor of o200k (no 1-token blobs, no blow-ups)."""
    truth = counter_for_model("gpt-4o").count(text)
    guess = EstimatingCounter().count(text)
    assert truth / 5 <= guess <= truth * 5, (truth, guess)


def test_estimate_basics() -> None:
    counter = EstimatingCounter()
    assert counter.count("") == 0
    assert counter.count("x") == 1
    assert counter.count("hello") == 1
    assert counter.count("hello world") == 2  # two word pieces at ~1.05 each
    assert counter.count("hello world " * 10) < counter.count("hello world " * 20)


# --------------------------------------------------------------------------- speed


def test_speed_of_counting_100kb(fresh_cache: Path) -> None:
    """Counting 100 KB once loaded should take milliseconds; printed, loosely asserted."""
    text = (inspect.getsource(json.decoder) + inspect.getsource(json.encoder)) * 10
    text = text[:100_000]
    lines = []
    for model in ["gpt-4o", "gpt-4", "claude-3-5-sonnet-20241022"]:
        counter = counter_for_model(model)
        start = time.perf_counter()
        counter.count("warm up")
        load_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        n = counter.count(text)
        count_ms = (time.perf_counter() - start) * 1000
        lines.append(f"{model}: {n} tokens in {count_ms:.1f} ms (first use {load_ms:.0f} ms)")
        assert count_ms < 2000  # a generous bound: only catches pathological regressions
    print("\n" + "\n".join(lines))
