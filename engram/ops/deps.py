"""What operations need from the process, each as a small ``Protocol``: an operation
names the narrowest one that serves it, so what it can touch is visible in its signature
and a test (or another composition) can hand it just that."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from engram.config import Settings
    from engram.llm.registry import ProviderRegistry
    from engram.memory.embeddings import EmbeddingRegistry
    from engram.memory.rerank import Reranker
    from engram.store.db import Database
    from engram.store.vectors import VectorIndex


class HasDb(Protocol):
    """Reads and writes rows: most operations."""

    @property
    def db(self) -> Database: ...


class HasSettings(Protocol):
    @property
    def settings(self) -> Settings: ...


class HasModels(HasDb, HasSettings, Protocol):
    """Resolves model handles and counts tokens: creating or changing agents."""

    @property
    def providers(self) -> ProviderRegistry: ...


class HasSearch(HasDb, Protocol):
    """Embeds text and searches the vector index: passages."""

    @property
    def embeddings(self) -> EmbeddingRegistry: ...

    @property
    def vectors(self) -> VectorIndex: ...


class HasReranker(Protocol):
    """The process's reranker for memory searches; None when none is configured."""

    @property
    def reranker(self) -> Reranker | None: ...


class HasRerankedSearch(HasSearch, HasReranker, Protocol):
    """Searches passages and reranks their head: archival search."""
