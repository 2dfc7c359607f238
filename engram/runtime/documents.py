"""What the folder API and the ingestion job need of ``engram.files``: whether a file type
can be read (at upload), a file's text with its pages, and its chunks in tokens of the
folder's embedding model. One seam, so the upload and the job read files the same way,
and the parsers' errors become the ones the API answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engram.errors import EngramError, UnsupportedMediaType
from engram.files import (
    Chunk,
    ParsedDocument,
    ParseError,
    UnsupportedFileType,
    chunk_document,
    max_input_tokens_for,
    parse_file,
    parser_for,
    token_spans_for,
)
from engram.memory.local_embedding import LocalEmbeddingUnavailable

__all__ = ["Chunk", "ParsedDocument", "UnreadableFile", "check_type", "chunk", "read"]


class UnreadableFile(EngramError):
    """The file's bytes cannot be read as its type (corrupt, empty, without text); the
    message is for the user who uploaded it."""


def check_type(filename: str, content_type: str | None) -> None:
    """UnsupportedMediaType (415) naming ``file`` and the supported types when no parser
    reads files of this name and type."""
    try:
        parser_for(filename, content_type)
    except UnsupportedFileType as exc:
        raise UnsupportedMediaType("file", str(exc)) from None


def read(data: bytes, filename: str, content_type: str | None) -> ParsedDocument:
    """The file's text, its sections and pages; UnreadableFile when it cannot be read.
    CPU-bound: run it in a worker thread."""
    try:
        return parse_file(data, filename, content_type)
    except (ParseError, UnsupportedFileType) as exc:
        raise UnreadableFile(str(exc)) from None


def chunk(
    document: ParsedDocument,
    embedding_config: dict[str, Any],
    *,
    chunk_tokens: int,
    overlap_tokens: int,
    local_model_dir: Path | None,
) -> list[Chunk]:
    """The document's chunks in reading order, none longer than the model reads.
    CPU-bound: run it in a worker thread."""
    try:
        spans = token_spans_for(embedding_config, local_model_dir=local_model_dir)
    except LocalEmbeddingUnavailable as exc:
        raise UnreadableFile(f"the embedding model cannot run: {exc}") from None
    return chunk_document(
        document,
        spans,
        chunk_tokens=chunk_tokens,
        overlap_tokens=overlap_tokens,
        max_tokens=max_input_tokens_for(embedding_config),
    )
