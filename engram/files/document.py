"""What a parser makes of a file: its text, cut into sections that remember where they
came from, and the two ways parsing fails.

These types are shared by every parser and by the chunker; they hold no parsing logic so
that a parser module can import them without importing the registry of all parsers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from engram.errors import EngramError


class UnsupportedFileType(EngramError):
    """No parser reads files of this name and content type; ``supported`` lists what can
    be read (one "media/type (.ext, ...)" entry per parser), for the user to pick from."""

    def __init__(self, filename: str, content_type: str | None, supported: list[str]) -> None:
        shown = f" ({content_type})" if content_type else ""
        super().__init__(
            f"cannot read '{filename}'{shown}: unsupported file type; "
            f"supported: {'; '.join(supported)}"
        )
        self.filename = filename
        self.content_type = content_type
        self.supported = supported


class ParseError(EngramError):
    """The file has a supported type but its bytes cannot be read as such (empty, corrupt,
    binary, too large, a PDF without text). The message is written for the user who
    uploaded the file and says what to do, never a library's traceback."""


@dataclass(frozen=True)
class Section:
    """A stretch of the document's text with its origin: a PDF page, or the whole of a
    file without pages. Chunks never cross a section, so each can cite its page."""

    text: str
    page: int | None
    """1-based page of a paged format (PDF); None otherwise."""
    first_line: int
    """1-based line of ``ParsedDocument.text`` where this section starts."""


@dataclass(frozen=True)
class ParsedDocument:
    """A file's text as a person reads it and grep searches it, and its sections."""

    text: str
    """The whole extracted text; the sections' texts joined by newlines."""
    sections: list[Section]
    media_type: str
    """The canonical type the parser decided on, e.g. ``application/pdf``."""
    pages: int | None
    """Page count of a paged format; None otherwise."""

    @classmethod
    def of_sections(
        cls, texts: list[tuple[str, int | None]], media_type: str, pages: int | None
    ) -> ParsedDocument:
        """Join section texts (each with its page) into one document, one newline apart,
        recording the line each section starts on."""
        sections: list[Section] = []
        line = 1
        for text, page in texts:
            sections.append(Section(text, page, line))
            line += text.count("\n") + 1
        return cls("\n".join(text for text, _ in texts), sections, media_type, pages)

    @classmethod
    def single(cls, text: str, media_type: str) -> ParsedDocument:
        """A document without pages: one section holding all of it."""
        return cls.of_sections([(text, None)], media_type, None)


class Parser(Protocol):
    """Reads one family of file types."""

    @property
    def media_type(self) -> str:
        """The canonical type of what it reads, e.g. ``application/pdf``."""
        ...

    @property
    def extensions(self) -> tuple[str, ...]:
        """File name endings it reads, lower-case with the dot (``.pdf``)."""
        ...

    @property
    def content_types(self) -> tuple[str, ...]:
        """Other content types clients send for it (``application/x-pdf``)."""
        ...

    def parse(self, data: bytes, filename: str, *, max_pages: int) -> ParsedDocument:
        """The document in ``data``; raises ParseError, never anything else, on bad bytes."""
        ...
