"""The built-in tools that leave the server's process: ``run_code`` (the tool sandbox),
``fetch_webpage`` and ``web_search`` (the network).

Their names and argument names are Letta's, so agents brought over from Letta call them
as they always did. Unlike the memory tools they never run inside a step's database
transaction: a page may take seconds to load and code seconds to run, so the step runs
them first, like custom and MCP tools (``engram.runtime.builtin_external``).
"""

from __future__ import annotations

from typing import Any

from engram.tools.schema import builtin_schema

BUILTIN_TOOL_TYPE = "letta_builtin"
"""Letta's ``tool_type`` for these tools; what ``GET /v1/tools/`` shows."""

RUN_CODE_LANGUAGES = ["python", "js", "ts", "r", "java"]
"""The languages Letta's schema offers; this server runs the first one only."""

SEARCH_CATEGORIES = [
    "company",
    "research paper",
    "news",
    "pdf",
    "github",
    "tweet",
    "personal site",
    "linkedin profile",
    "financial report",
]


_STRINGS = {"type": "array", "items": {"type": "string"}}

BUILTIN_TOOL_SCHEMAS: dict[str, dict[str, Any]] = {
    "run_code": builtin_schema(
        "run_code",
        "Run a short program in a fresh, isolated sandbox and read what it printed, the value "
        "of its last expression and any error. Nothing persists between runs. Only Python "
        "runs on this server.",
        {
            "code": {"type": "string", "description": "The program's source."},
            "language": {
                "type": "string",
                "enum": RUN_CODE_LANGUAGES,
                "description": "The program's language; only 'python' runs here.",
            },
        },
        ["code", "language"],
    ),
    "fetch_webpage": builtin_schema(
        "fetch_webpage",
        "Download a web page and read it as markdown text.",
        {"url": {"type": "string", "description": "The http:// or https:// address."}},
        ["url"],
    ),
    "web_search": builtin_schema(
        "web_search",
        "Search the web; answers a JSON list of results with title, url and excerpts.",
        {
            "query": {"type": "string", "description": "What to search for."},
            "num_results": {
                "type": "integer",
                "description": "How many results (1-100).",
                "default": 10,
            },
            "category": {
                "type": "string",
                "enum": SEARCH_CATEGORIES,
                "description": "Restrict the search to one kind of content.",
            },
            "include_text": {
                "type": "boolean",
                "description": "Also return each page's full text (long).",
                "default": False,
            },
            "include_domains": {**_STRINGS, "description": "Only results from these domains."},
            "exclude_domains": {**_STRINGS, "description": "No results from these domains."},
            "start_published_date": {
                "type": "string",
                "description": "Only pages published after this ISO 8601 date.",
            },
            "end_published_date": {
                "type": "string",
                "description": "Only pages published before this ISO 8601 date.",
            },
            "user_location": {
                "type": "string",
                "description": "Two-letter country code to localise results, e.g. 'US'.",
            },
        },
        ["query"],
    ),
}
