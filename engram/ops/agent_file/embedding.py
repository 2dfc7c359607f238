"""Which embedding model an imported part (an agent's passages, a folder's files) is
embedded with: what the file carries has text only, no vectors, so any model can take it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engram.errors import ModelNotFound

if TYPE_CHECKING:
    from engram.memory.embeddings import EmbeddingRegistry


async def usable_embedding(
    embeddings: EmbeddingRegistry, given: dict[str, Any] | None, override: str | None
) -> dict[str, Any]:
    """The ``embedding`` option's model, else the file's if this server can run it, else
    the server's default."""
    if override:
        return await embeddings.config_for(override)
    if given:
        try:
            return await embeddings.check_config(given)
        except ModelNotFound:
            pass
    return await embeddings.config_for(None)
