"""What the folder API and the ingestion job need of document reading: whether a file
type can be read (at upload), a file's text with its pages, and its chunks in tokens of
the folder's embedding model. One seam, so the upload and the job see the readers the
same way.

Reads plain text (UTF-8) only, cut by lines; the parsers of ``engram.files`` replace it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engram.errors import EngramError, UnsupportedMediaType

TEXT_EXTENSIONS = (".txt", ".md", ".markdown", ".csv", ".json", ".py", ".log", ".rst")
CHARS_PER_TOKEN = 4


class UnreadableFile(EngramError):
    """The file's bytes cannot be read as its type (corrupt, empty, not text); the message
    is for the user who uploaded it."""


@dataclass(frozen=True)
class Document:
    text: str
    pages: int | None


@dataclass(frozen=True)
class Chunk:
    text: str
    page: int | None
    first_line: int
    last_line: int


def supported() -> list[str]:
    return [f"text/plain ({', '.join(TEXT_EXTENSIONS)})"]


def check_type(filename: str, content_type: str | None) -> None:
    """UnsupportedMediaType (415) naming the supported types when no reader takes it."""
    extension = posixpath.splitext(filename)[1].lower()
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if extension in TEXT_EXTENSIONS or (not extension and media.startswith("text/")):
        return
    raise UnsupportedMediaType(
        "file",
        f"cannot read '{filename}' ({content_type or 'no content type'}): unsupported file "
        f"type; supported: {'; '.join(supported())}",
    )


def read(data: bytes, filename: str, content_type: str | None) -> Document:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"'{filename}' is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise UnreadableFile(f"'{filename}' holds no text")
    return Document(text, None)


def chunk(
    document: Document,
    embedding_config: dict[str, Any],
    *,
    chunk_tokens: int,
    overlap_tokens: int,
    local_model_dir: Path | None,
) -> list[Chunk]:
    budget = chunk_tokens * CHARS_PER_TOKEN
    lines = document.text.splitlines()
    chunks: list[Chunk] = []
    start = 0
    while start < len(lines):
        end, size = start, 0
        while end < len(lines) and (size == 0 or size + len(lines[end]) <= budget):
            size += len(lines[end]) + 1
            end += 1
        text = "\n".join(lines[start:end]).strip()
        if text:
            chunks.append(Chunk(text[:budget], None, start + 1, end))
        start = end
    return chunks
