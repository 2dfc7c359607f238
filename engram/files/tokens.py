"""Token boundaries and input limits of the embedding models, for the chunker.

A chunk is measured in the tokens of the model that embeds it, so that "300 tokens" means
the same to the model as to the chunker and no chunk is cut short by the model's input
limit. The local model (all-MiniLM-L6-v2) counts with its own WordPiece tokenizer, read
from the ``tokenizer.json`` shipped with its weights; provider models count with
tiktoken's ``cl100k_base`` (OpenAI's embedding models use it), built from the encoding
file Engram ships. Neither touches the network.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engram.memory.local_embedding import LocalEmbeddingModel, locate_model_dir

if TYPE_CHECKING:
    from tokenizers import Tokenizer

TokenSpans = Callable[[str], list[tuple[int, int]]]
"""The character (start, end) of each token of a text, in order."""

LOCAL_MAX_INPUT_TOKENS = 256 - 2
"""all-MiniLM-L6-v2 reads 256 tokens, [CLS] and [SEP] included."""

OPENAI_MAX_INPUT_TOKENS = 8191
"""OpenAI's text-embedding-* models refuse inputs longer than this."""

DEFAULT_MAX_INPUT_TOKENS = 384
"""A provider model we know nothing about. Many embedding models read 512 tokens of their
own tokenizer, which often splits text finer than cl100k_base (code, non-English text);
384 cl100k tokens leaves them that headroom."""

BLOCK_CHARS = 32_768
"""Text is tokenized a block at a time, each block ending at a line break where there is
one: offsets of a whole large file at once would take hundreds of megabytes."""


def is_local(embedding_config: dict[str, Any]) -> bool:
    """Whether the config names the bundled local model."""
    handle = str(embedding_config.get("handle") or "")
    model = str(embedding_config.get("embedding_model") or "")
    return handle.startswith("local/") or model.lower() == LocalEmbeddingModel.name.lower()


def max_input_tokens_for(embedding_config: dict[str, Any]) -> int:
    """The most tokens (as ``token_spans_for`` counts them) one input of the model may hold."""
    if is_local(embedding_config):
        return LOCAL_MAX_INPUT_TOKENS
    model = str(embedding_config.get("embedding_model") or "").rsplit("/", 1)[-1]
    if model.startswith("text-embedding-"):
        return OPENAI_MAX_INPUT_TOKENS
    return DEFAULT_MAX_INPUT_TOKENS


def token_spans_for(
    embedding_config: dict[str, Any], *, local_model_dir: Path | None = None
) -> TokenSpans:
    """How the model named by the config splits a text into tokens.

    ``local_model_dir`` is the server's ``ENGRAM_EMBEDDING_MODEL_DIR`` when it has one.
    Raises ``LocalEmbeddingUnavailable`` when the local model's files are not installed.
    """
    if is_local(embedding_config):
        tokenizer = _local_tokenizer(locate_model_dir(local_model_dir))
        return functools.partial(_blockwise, functools.partial(_wordpiece_spans, tokenizer))
    return functools.partial(_blockwise, _cl100k_spans)


@functools.lru_cache(maxsize=4)
def _local_tokenizer(model_dir: Path) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    # The file ships with truncation at 128 and fixed padding: both would hide tokens.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _wordpiece_spans(tokenizer: Tokenizer, text: str) -> list[tuple[int, int]]:
    encoding = tokenizer.encode(text, add_special_tokens=False)
    return [(int(start), int(end)) for start, end in encoding.offsets]


def _cl100k_spans(text: str) -> list[tuple[int, int]]:
    from engram.llm.tokens import load_encoding

    encoding = load_encoding("cl100k_base")
    tokens = encoding.encode_ordinary(text)
    if not tokens:
        return []
    # Offsets of the decoded text, which is the text itself; a token that starts inside
    # a multi-byte character gets that character's offset (an empty span before it).
    _, starts = encoding.decode_with_offsets(tokens)
    ends = [*starts[1:], len(text)]
    return [(start, max(start, end)) for start, end in zip(starts, ends, strict=True)]


def _blockwise(spans: TokenSpans, text: str) -> list[tuple[int, int]]:
    """``spans`` of ``text`` computed one block at a time, offsets made absolute."""
    if len(text) <= BLOCK_CHARS:
        return spans(text)
    found: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = _block_end(text, start)
        found.extend((start + a, start + b) for a, b in spans(text[start:end]))
        start = end
    return found


def _block_end(text: str, start: int) -> int:
    limit = start + BLOCK_CHARS
    if limit >= len(text):
        return len(text)
    for mark in ("\n", " "):
        cut = text.rfind(mark, start + BLOCK_CHARS // 2, limit)
        if cut > 0:
            return cut + 1
    return limit
