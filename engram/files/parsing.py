"""Which parser reads a file, and parsing it: the one entry point for uploaded bytes.

A parser is chosen by the file's extension first (what the user named it), then by the
content type the client sent (which browsers and HTTP clients often get wrong, so it only
decides when the extension does not); any other ``text/*`` type is read as plain text.
Adding a format is adding a parser to PARSERS.
"""

from __future__ import annotations

import logging
import posixpath

from engram.files.document import ParsedDocument as ParsedDocument
from engram.files.document import ParseError as ParseError
from engram.files.document import Parser as Parser
from engram.files.document import Section as Section
from engram.files.document import UnsupportedFileType as UnsupportedFileType
from engram.files.docx import DocxParser
from engram.files.pdf import PdfParser
from engram.files.text import HtmlParser, JsonParser, TextParser

logger = logging.getLogger(__name__)

DEFAULT_MAX_PAGES = 2000

PLAIN_TEXT = TextParser("text/plain", (".txt", ".text", ".log", ".rst", ".tex"))

PARSERS: tuple[Parser, ...] = (
    PLAIN_TEXT,
    TextParser("text/markdown", (".md", ".markdown", ".mdx"), ("text/x-markdown",)),
    HtmlParser(),
    PdfParser(),
    DocxParser(),
    TextParser("text/csv", (".csv",), ("application/csv",)),
    TextParser("text/tab-separated-values", (".tsv",)),
    JsonParser(),
    TextParser("application/x-ndjson", (".jsonl", ".ndjson"), ("application/jsonl",)),
    TextParser("text/x-python", (".py", ".pyi"), ("text/x-script.python",)),
    TextParser("text/javascript", (".js", ".mjs", ".cjs", ".jsx"), ("application/javascript",)),
    TextParser("text/x-typescript", (".ts", ".tsx"), ("application/typescript",)),
    TextParser("text/x-java", (".java",)),
    TextParser("text/x-kotlin", (".kt", ".kts")),
    TextParser("text/x-go", (".go",)),
    TextParser("text/x-rust", (".rs",)),
    TextParser("text/x-c", (".c", ".h")),
    TextParser("text/x-c++", (".cpp", ".cc", ".cxx", ".hpp", ".hh", ".hxx")),
    TextParser("text/x-csharp", (".cs",)),
    TextParser("text/x-ruby", (".rb",)),
    TextParser("text/x-php", (".php",)),
    TextParser("text/x-swift", (".swift",)),
    TextParser("text/x-shellscript", (".sh", ".bash", ".zsh"), ("application/x-sh",)),
    TextParser("application/sql", (".sql",)),
    TextParser("application/yaml", (".yaml", ".yml"), ("text/yaml", "application/x-yaml")),
    TextParser("application/toml", (".toml",)),
    TextParser("application/xml", (".xml",), ("text/xml",)),
    TextParser("text/css", (".css", ".scss")),
    TextParser("text/x-ini", (".ini", ".cfg", ".conf", ".env")),
)

_BY_EXTENSION: dict[str, Parser] = {ext: p for p in PARSERS for ext in p.extensions}
_BY_CONTENT_TYPE: dict[str, Parser] = {
    kind: p for p in PARSERS for kind in (p.media_type, *p.content_types)
}


def supported_types() -> list[str]:
    """One "media/type (.ext, ...)" entry per parser, for a user choosing what to upload."""
    return [f"{p.media_type} ({', '.join(p.extensions)})" for p in PARSERS]


def parser_for(filename: str, content_type: str | None) -> Parser:
    """The parser for a file of this name and content type; UnsupportedFileType if none."""
    extension = posixpath.splitext(posixpath.basename(filename.replace("\\", "/")))[1].lower()
    by_extension = _BY_EXTENSION.get(extension)
    if by_extension is not None:
        return by_extension
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    by_type = _BY_CONTENT_TYPE.get(media_type)
    if by_type is not None:
        return by_type
    if media_type.startswith("text/"):
        return PLAIN_TEXT
    raise UnsupportedFileType(filename, content_type, supported_types())


def parse_file(
    data: bytes,
    filename: str,
    content_type: str | None = None,
    *,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> ParsedDocument:
    """The text of an uploaded file. Raises UnsupportedFileType when no parser reads it
    and ParseError when its bytes cannot be read; bad bytes never raise anything else."""
    parser = parser_for(filename, content_type)
    try:
        return parser.parse(data, filename, max_pages=max_pages)
    except (ParseError, UnsupportedFileType):
        raise
    except MemoryError:
        raise ParseError(f"'{filename}' is too large to read in memory") from None
    except RecursionError:
        raise ParseError(f"'{filename}' is nested too deeply to read") from None
    except Exception as exc:
        # A library tripping over bytes it was never meant to see is the file's fault as
        # far as the uploader can tell; the traceback is kept for whoever runs the server.
        logger.warning("parsing %r as %s failed", filename, parser.media_type, exc_info=True)
        raise ParseError(
            f"'{filename}' could not be read as {parser.media_type}: {type(exc).__name__}"
        ) from exc
