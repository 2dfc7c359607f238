"""What a core memory block's label may be, checked the same at every door.

Letta 0.16.8 takes any string as a label: plain names (``human``), and paths such as
``system/human/family`` or ``reference/notes``, which its git-backed memory (MemFS) and
attached files use. Engram takes the same, with two limits of its own: a label has some
non-blank text (a blank one cannot be named in a URL or a tool call), and at most 255
characters (the width of the column that holds it). The API's request bodies, the agent
file and the store all use these rules, so no way in lets through what another refuses.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

MAX_LABEL_CHARS = 255


def label_problem(label: str) -> str | None:
    """Why ``label`` cannot be a block's label, or None when it can."""
    if not label.strip():
        return "a block needs a label with some non-blank text"
    if len(label) > MAX_LABEL_CHARS:
        return f"a label has at most {MAX_LABEL_CHARS} characters, this one {len(label)}"
    return None


def _checked(label: str) -> str:
    problem = label_problem(label)
    if problem is not None:
        raise ValueError(problem)
    return label


BlockLabel = Annotated[
    str, Field(min_length=1, max_length=MAX_LABEL_CHARS), AfterValidator(_checked)
]
"""A block label in a request body or an agent file; a bad one is a 422 naming the field."""
