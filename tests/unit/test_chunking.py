"""Chunking parsed documents by the embedding model's tokens: no chunk is ever longer
than the model reads, chunks keep their page and lines, cut at paragraph, line and
sentence ends, overlap, cover the whole text, and cost work linear in its length."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from tokenizers import Tokenizer

from engram.files.chunking import Chunk, chunk_document
from engram.files.document import ParsedDocument
from engram.files.tokens import (
    DEFAULT_MAX_INPUT_TOKENS,
    LOCAL_MAX_INPUT_TOKENS,
    OPENAI_MAX_INPUT_TOKENS,
    TokenSpans,
    max_input_tokens_for,
    token_spans_for,
)
from engram.llm.tokens import load_encoding
from engram.memory.local_embedding import find_model_dir

LOCAL = {"handle": "local/all-MiniLM-L6-v2", "embedding_model": "all-MiniLM-L6-v2"}
OPENAI = {"handle": "openai/text-embedding-3-small", "embedding_model": "text-embedding-3-small"}

SENTENCES = [
    "The pump must be primed before the valve is opened.",
    "Check the seals every month and replace them when they crack.",
    "A gauge that reads zero at rest is working as intended.",
    "Never run the motor dry, even for a few seconds.",
]


def model_tokens_local() -> Callable[[str], int]:
    """How many tokens the local model itself reads for a text, [CLS] and [SEP] included."""
    tokenizer = Tokenizer.from_file(str(find_model_dir() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=True).ids)


def model_tokens_openai(text: str) -> int:
    return len(load_encoding("cl100k_base").encode_ordinary(text))


def prose(paragraphs: int, sentences_each: int = 6) -> str:
    out = []
    for p in range(paragraphs):
        body = " ".join(SENTENCES[(p + s) % len(SENTENCES)] for s in range(sentences_each))
        out.append(f"Paragraph {p}. {body}")
    return "\n\n".join(out)


HARD_TEXTS = {
    "one long line": " ".join(f"word{i}" for i in range(3000)),
    "one huge word": "x" * 50_000,
    "words just over the unknown-token length": " ".join(["y" * 101] * 200),
    "CJK without spaces": "水泵在打开阀门之前必须灌水。每个月检查密封件。" * 400,
    "emoji and accents": "café 🚀 naïve 👩‍👩‍👧 " * 1500,
    "digits and punctuation": "3.14159,2.71828;1.41421:" * 800,
    "a base64 blob in prose": "see " + "QUJDRA==" * 3000 + " above",
}


@pytest.mark.parametrize("name", sorted(HARD_TEXTS))
def test_no_local_chunk_is_longer_than_the_local_model_reads(name: str) -> None:
    count = model_tokens_local()
    doc = ParsedDocument.single(HARD_TEXTS[name], "text/plain")
    spans = token_spans_for(LOCAL)
    for chunk_tokens, overlap in ((300, 50), (254, 0), (1000, 500), (20, 5)):
        chunks = chunk_document(
            doc, spans, chunk_tokens=chunk_tokens, overlap_tokens=overlap, max_tokens=254
        )
        assert chunks
        assert max(count(chunk.text) for chunk in chunks) <= 256


@pytest.mark.parametrize("name", sorted(HARD_TEXTS))
def test_no_provider_chunk_is_longer_than_the_limit(name: str) -> None:
    doc = ParsedDocument.single(HARD_TEXTS[name], "text/plain")
    chunks = chunk_document(doc, token_spans_for(OPENAI), chunk_tokens=300, max_tokens=64)
    assert chunks
    assert max(model_tokens_openai(chunk.text) for chunk in chunks) <= 64


@pytest.mark.parametrize("config", [LOCAL, OPENAI], ids=["local", "openai"])
def test_every_word_of_the_text_is_in_some_chunk(config: dict[str, str]) -> None:
    text = " ".join(f"w{i}" for i in range(3000)) + "\n" + prose(20)
    doc = ParsedDocument.single(text, "text/plain")
    chunks = chunk_document(doc, token_spans_for(config), max_tokens=max_input_tokens_for(config))
    found = set()
    for chunk in chunks:
        found.update(chunk.text.split())
    assert set(text.split()) <= found


def test_whitespace_only_sections_give_no_chunks() -> None:
    doc = ParsedDocument.of_sections([("   \n\n\t ", 1), ("real text", 2)], "application/pdf", 2)
    chunks = chunk_document(doc, token_spans_for(LOCAL), max_tokens=254)
    assert [(c.text, c.page) for c in chunks] == [("real text", 2)]


def test_chunks_never_cross_a_page_and_cite_their_lines() -> None:
    pages = [(prose(4) + f"\nEnd of page {n}.", n) for n in range(1, 6)]
    doc = ParsedDocument.of_sections(pages, "application/pdf", 5)
    chunks = chunk_document(doc, token_spans_for(LOCAL), max_tokens=254)
    lines = doc.text.split("\n")
    for chunk in chunks:
        assert chunk.page is not None
        section = doc.sections[chunk.page - 1]
        assert chunk.text in section.text
        cited = "\n".join(lines[chunk.first_line - 1 : chunk.last_line])
        assert lines[chunk.first_line - 1].endswith(chunk.text.split("\n")[0])
        assert lines[chunk.last_line - 1].startswith(chunk.text.split("\n")[-1])
        assert chunk.text in cited
    assert {c.page for c in chunks} == {1, 2, 3, 4, 5}
    assert any("End of page 3." in c.text and c.page == 3 for c in chunks)


def test_chunks_end_at_paragraph_and_sentence_ends() -> None:
    doc = ParsedDocument.single(prose(30, sentences_each=3), "text/markdown")
    for config in (LOCAL, OPENAI):
        chunks = chunk_document(doc, token_spans_for(config), chunk_tokens=200, max_tokens=254)
        assert len(chunks) > 5
        for chunk in chunks[:-1]:
            assert chunk.text.endswith("."), chunk.text[-40:]
        # The overlap starts at a sentence: one is always within 50 tokens here.
        assert all(re.match(r"[A-Z]", c.text) for c in chunks[1:])


def test_consecutive_chunks_overlap_by_about_the_overlap() -> None:
    text = " ".join(f"w{i}" for i in range(2000))
    doc = ParsedDocument.single(text, "text/plain")
    chunks = chunk_document(
        doc, token_spans_for(OPENAI), chunk_tokens=100, overlap_tokens=20, max_tokens=8191
    )
    for before, after in zip(chunks, chunks[1:], strict=False):
        shared = set(before.text.split()) & set(after.text.split())
        assert 5 <= len(shared) <= 20


def test_chunk_size_is_clamped_to_the_model_input() -> None:
    doc = ParsedDocument.single(prose(40), "text/plain")
    count = model_tokens_local()
    chunks = chunk_document(doc, token_spans_for(LOCAL), chunk_tokens=2000, max_tokens=254)
    assert max(count(c.text) for c in chunks) <= 256
    assert max(count(c.text) for c in chunks) > 200


@pytest.mark.parametrize(
    ("chunk_tokens", "overlap", "message"),
    [
        (300, 300, "must be smaller"),
        (100, 150, "must be smaller"),
        (0, 0, "at least 1"),
        (300, -1, "must not be negative"),
    ],
)
def test_nonsense_sizes_are_a_value_error(chunk_tokens: int, overlap: int, message: str) -> None:
    doc = ParsedDocument.single("some text", "text/plain")
    with pytest.raises(ValueError, match=message):
        chunk_document(
            doc,
            token_spans_for(LOCAL),
            chunk_tokens=chunk_tokens,
            overlap_tokens=overlap,
            max_tokens=254,
        )


def test_chunking_tokenizes_each_section_about_once() -> None:
    """A 300-page document: the characters tokenized stay within a small multiple of the
    document's, however many chunks it makes (linear work, no re-tokenizing per cut)."""
    pages = [(prose(8) + f"\nPage {n} ends.", n) for n in range(1, 301)]
    doc = ParsedDocument.of_sections(pages, "application/pdf", 300)
    spans = token_spans_for(LOCAL)
    tokenized = 0

    def counting(text: str) -> list[tuple[int, int]]:
        nonlocal tokenized
        tokenized += len(text)
        return spans(text)

    chunks: list[Chunk] = chunk_document(doc, counting, max_tokens=LOCAL_MAX_INPUT_TOKENS)
    assert len(chunks) >= 600
    assert tokenized <= 3 * len(doc.text)


def test_the_input_limits_of_the_models() -> None:
    assert max_input_tokens_for(LOCAL) == LOCAL_MAX_INPUT_TOKENS == 254
    assert max_input_tokens_for(OPENAI) == OPENAI_MAX_INPUT_TOKENS == 8191
    other = {"handle": "ollama/nomic-embed-text", "embedding_model": "nomic-embed-text"}
    assert max_input_tokens_for(other) == DEFAULT_MAX_INPUT_TOKENS


def test_token_spans_are_offsets_into_the_text() -> None:
    text = "Prime the pump. 水泵 café"
    for config in (LOCAL, OPENAI):
        spans: TokenSpans = token_spans_for(config)
        found = spans(text)
        assert found and all(0 <= a <= b <= len(text) for a, b in found)
        assert [a for a, _ in found] == sorted(a for a, _ in found)
        assert "".join(text[a:b] for a, b in found).replace(" ", "") == text.replace(" ", "")
