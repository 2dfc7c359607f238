"""Cutting a parsed document into chunks measured in the embedding model's tokens.

Each chunk is embedded as one input, so none may hold more tokens than the model reads
(``max_tokens``): the target size is clamped to it. A chunk never crosses a section (a PDF
page), so it can cite its page, and it records the lines of the document it spans. Cuts
fall where a reader would put them, as near the target size as possible: a paragraph
break first, then a line break, a sentence end, a space; inside a word only when a word
is longer than a chunk. Consecutive chunks share ``overlap_tokens`` tokens so a sentence
cut at a boundary is still whole in one of them.

Each section is tokenized once and cut by walking its token offsets, so the work grows
linearly with the document.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from engram.files.document import ParsedDocument, Section
from engram.files.tokens import TokenSpans

DEFAULT_CHUNK_TOKENS = 300
DEFAULT_OVERLAP_TOKENS = 50

MAX_CHARS_PER_TOKEN = 16
"""A chunk holds at most this many characters per token of its budget: the local model
reads a word of over 100 characters (a hash, a base64 blob) as one unknown token, and a
chunk of such "tokens" would be enormous."""

LONG_TOKEN_CHARS = 1000
"""A single token longer than this is cut into even pieces of 500-1000 characters, each
still over the 100 characters that make a word one unknown token."""

_RECHECK_SLACK = 8
"""A chunk within this many tokens of the model's limit is tokenized again alone."""

_SENTENCE_END = re.compile(r"[.!?;:。！？][\"')\]]*$")


@dataclass(frozen=True)
class Chunk:
    """One input to the embedding model and where it came from."""

    text: str
    page: int | None
    first_line: int
    last_line: int
    """1-based, inclusive lines of ``ParsedDocument.text``."""


def chunk_document(
    doc: ParsedDocument,
    spans: TokenSpans,
    *,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
    max_tokens: int,
) -> list[Chunk]:
    """The document's chunks in reading order.

    ``chunk_tokens`` above ``max_tokens`` is lowered to it, and the overlap with it in
    proportion. Raises ValueError when a size is below 1, the overlap is negative, or the
    overlap is not smaller than the chunk size.
    """
    budget, overlap = chunk_sizes(chunk_tokens, overlap_tokens, max_tokens)
    chunks: list[Chunk] = []
    for section in doc.sections:
        if section.text.strip():
            chunks.extend(_chunk_section(section, spans, budget, overlap, max_tokens))
    return chunks


def chunk_sizes(chunk_tokens: int, overlap_tokens: int, max_tokens: int) -> tuple[int, int]:
    """The (chunk, overlap) sizes used for a model reading ``max_tokens``; ValueError when
    the sizes asked for make no sense."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if chunk_tokens < 1:
        raise ValueError(f"chunk size must be at least 1 token, got {chunk_tokens}")
    if overlap_tokens < 0:
        raise ValueError(f"chunk overlap must not be negative, got {overlap_tokens}")
    if overlap_tokens >= chunk_tokens:
        raise ValueError(
            f"chunk overlap ({overlap_tokens} tokens) must be smaller than the chunk size "
            f"({chunk_tokens} tokens)"
        )
    if chunk_tokens <= max_tokens:
        return chunk_tokens, overlap_tokens
    return max_tokens, overlap_tokens * max_tokens // chunk_tokens


class _Cutter:
    """Chooses where the chunks of one section start and end, in token indexes."""

    def __init__(self, text: str, spans: list[tuple[int, int]], budget: int) -> None:
        self.text = text
        self.spans = spans
        self.budget = budget
        self.max_chars = budget * MAX_CHARS_PER_TOKEN

    def can_cut(self, j: int) -> bool:
        """Whether a chunk may end before token ``j`` (tokens that share a character, as
        a multi-byte character split over two tokens, stay together)."""
        if j <= 0 or j >= len(self.spans):
            return True
        return self.spans[j][0] >= self.spans[j - 1][1] and self.spans[j][0] > self.spans[j - 1][0]

    def score(self, j: int) -> int:
        """How good a place to cut before token ``j`` is: 4 paragraph, 3 line, 2 sentence,
        1 space, 0 inside a word. Whitespace is looked for both between the tokens (a
        WordPiece tokenizer drops it) and at their edges (a BPE token carries it)."""
        if j >= len(self.spans):
            return 5
        gap_start, cut = self.spans[j - 1][1], self.spans[j][0]
        around = self.text[max(0, gap_start - 1) : cut + 1]
        if "\n\n" in self.text[max(0, gap_start - 2) : cut + 2]:
            return 4
        if "\n" in around:
            return 3
        if not any(char.isspace() for char in around):
            return 0
        before = self.text[self.spans[j - 1][0] : gap_start].rstrip()
        return 2 if _SENTENCE_END.search(before) else 1

    def end_of(self, start: int) -> int:
        """Where the chunk starting at token ``start`` ends (exclusive): the best cut in
        the last quarter of its budget, the latest of equally good ones."""
        last = min(len(self.spans), start + self.budget)
        first_char = self.spans[start][0]
        while last > start + 1 and self.spans[last - 1][1] - first_char > self.max_chars:
            last -= 1
        if last == len(self.spans):
            return last
        best, best_score = start + 1, -1
        for j in range(last, max(start, last - max(1, self.budget // 4)), -1):
            if not self.can_cut(j):
                continue
            score = self.score(j)
            if score > best_score:
                best, best_score = j, score
        if best_score < 0:  # no clean cut in reach (one long run of shared characters)
            return last
        return best

    def next_start(self, start: int, end: int, overlap: int) -> int:
        """Where the chunk after [start, end) starts: at most ``overlap`` tokens back, at
        the earliest sentence or line start in that reach, else at the word nearest to
        ``overlap`` tokens back."""
        earliest = max(start + 1, end - overlap)
        if earliest >= end:
            return end
        word_start = None
        for j in range(earliest, end):
            if not self.can_cut(j):
                continue
            score = self.score(j)
            if score >= 2:
                return j
            if score == 1 and word_start is None:
                word_start = j
        return earliest if word_start is None else word_start


def _chunk_section(
    section: Section, spans: TokenSpans, budget: int, overlap: int, max_tokens: int
) -> list[Chunk]:
    text = section.text
    tokens = _split_long_tokens(spans(text))
    if not tokens:
        return []
    lines = _LineIndex(text, section.first_line)
    cutter = _Cutter(text, tokens, budget)
    chunks: list[Chunk] = []
    start = 0
    while True:
        end = cutter.end_of(start)
        begin, finish, end = _fitted(text, tokens, start, end, spans, max_tokens)
        chunks.append(
            Chunk(text[begin:finish], section.page, lines.line_of(begin), lines.line_of(finish - 1))
        )
        if end >= len(tokens):
            return chunks
        start = cutter.next_start(start, end, overlap)


def _fitted(
    text: str,
    tokens: list[tuple[int, int]],
    start: int,
    end: int,
    spans: TokenSpans,
    max_tokens: int,
) -> tuple[int, int, int]:
    """The characters of tokens [start, end) without edge whitespace, made to fit, and
    the end (exclusive) of the tokens kept.

    A chunk near the model's limit is tokenized again on its own: cut inside a word, or
    stripped of a space a BPE token carried, its text can come to a token or two more than
    it held in place. Such a chunk loses tokens at its end until it fits (rare); the next
    chunk starts from where it ends."""
    while True:
        begin, finish = _stripped(text, tokens[start][0], tokens[end - 1][1])
        if end - start <= max_tokens - _RECHECK_SLACK or end - start == 1:
            return begin, finish, end
        if len(spans(text[begin:finish])) <= max_tokens:
            return begin, finish, end
        end -= 1


def _stripped(text: str, begin: int, finish: int) -> tuple[int, int]:
    while begin < finish - 1 and text[begin].isspace():
        begin += 1
    while finish > begin + 1 and text[finish - 1].isspace():
        finish -= 1
    return begin, finish


def _split_long_tokens(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans with any over LONG_TOKEN_CHARS cut into even pieces (see that constant)."""
    if all(end - start <= LONG_TOKEN_CHARS for start, end in spans):
        return spans
    result: list[tuple[int, int]] = []
    for start, end in spans:
        length = end - start
        if length <= LONG_TOKEN_CHARS:
            result.append((start, end))
            continue
        pieces = -(-length // LONG_TOKEN_CHARS)
        bounds = [start + length * k // pieces for k in range(pieces + 1)]
        result.extend(zip(bounds, bounds[1:], strict=False))
    return result


class _LineIndex:
    """Maps a character offset of a section to its 1-based line in the document."""

    def __init__(self, text: str, first_line: int) -> None:
        self.first_line = first_line
        self.breaks = [m.start() for m in re.finditer("\n", text)]

    def line_of(self, offset: int) -> int:
        return self.first_line + bisect.bisect_left(self.breaks, offset)
