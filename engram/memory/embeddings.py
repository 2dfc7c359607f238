"""Embedding models by handle: the bundled local model, or a provider's (``openai/<model>``).

Two ways to embed: ``embed`` for the few texts of a request (a search query, a passage),
and ``embed_batches`` / ``embed_many`` for bulk work such as a document's thousands of
chunks, which goes a batch at a time, reports progress after each batch and, with the
local model, runs at a lowered priority so that other agents' steps keep their speed.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from engram.errors import ModelNotFound
from engram.llm.registry import ProviderRegistry
from engram.memory.local_embedding import LocalEmbeddingModel, shared_local_model
from engram.memory.priority import background_executor

LOCAL_HANDLE = "local/all-MiniLM-L6-v2"

DEFAULT_BATCH_SIZE = 32
"""Texts per batch of bulk embedding (Letta's EmbeddingConfig ``batch_size``). With the
local model, a search's query embedding waits for the batch in progress: at 32 chunks of
256 tokens that is about a second on two cores."""

BatchCallback = Callable[[int, int], Awaitable[None] | None]
"""``on_batch(done, total)``: called after each batch; may be a coroutine function."""


@dataclass(frozen=True, slots=True)
class EmbeddedBatch:
    """One batch of bulk embedding: ``vectors`` of ``texts[start:start + len(vectors)]``."""

    start: int
    vectors: list[list[float]]
    done: int
    """Texts embedded so far, this batch included."""
    total: int


class Embedder(Protocol):
    handle: str
    dim: int

    async def embed(self, texts: list[str]) -> list[list[float]]: ...

    def embed_batches(
        self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> AsyncIterator[EmbeddedBatch]: ...

    async def embed_many(
        self,
        texts: Sequence[str],
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_batch: BatchCallback | None = None,
    ) -> list[list[float]]: ...


@dataclass
class LocalEmbedder:
    model: LocalEmbeddingModel
    handle: str = LOCAL_HANDLE
    dim: int = 384

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await self.model.embed(texts)

    async def embed_batches(
        self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> AsyncIterator[EmbeddedBatch]:
        """Embed ``texts`` a batch at a time on the low-priority background thread.

        The event loop stays free, and the model's helper threads inherit the lowered
        priority, so request handling keeps the CPU it needs. Cancelling stops after the
        batch in progress.
        """

        async def run(batch: list[str]) -> list[list[float]]:
            loop = asyncio.get_running_loop()
            array = await loop.run_in_executor(background_executor(), self.model.embed_sync, batch)
            vectors: list[list[float]] = array.tolist()
            return vectors

        async for batch in _in_batches(run, texts, batch_size):
            yield batch

    async def embed_many(
        self,
        texts: Sequence[str],
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_batch: BatchCallback | None = None,
    ) -> list[list[float]]:
        """All vectors of ``texts`` in order, through ``embed_batches``."""
        return await _collect(self.embed_batches(texts, batch_size), on_batch)


@dataclass
class ProviderEmbedder:
    registry: ProviderRegistry
    provider: str
    model: str
    handle: str
    dim: int

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await self.registry.providers[self.provider].embed(self.model, texts)

    async def embed_batches(
        self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> AsyncIterator[EmbeddedBatch]:
        """Embed ``texts`` with one embeddings request per batch, one request at a time."""
        async for batch in _in_batches(self.embed, texts, batch_size):
            yield batch

    async def embed_many(
        self,
        texts: Sequence[str],
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_batch: BatchCallback | None = None,
    ) -> list[list[float]]:
        """All vectors of ``texts`` in order, through ``embed_batches``."""
        return await _collect(self.embed_batches(texts, batch_size), on_batch)


async def _in_batches(
    embed: Callable[[list[str]], Awaitable[list[list[float]]]],
    texts: Sequence[str],
    batch_size: int,
) -> AsyncIterator[EmbeddedBatch]:
    """Cut ``texts`` into batches of ``batch_size`` and embed them one after another."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    total = len(texts)
    for start in range(0, total, batch_size):
        batch = list(texts[start : start + batch_size])
        vectors = await embed(batch)
        if len(vectors) != len(batch):
            raise RuntimeError(
                f"the embedding model returned {len(vectors)} vectors for {len(batch)} texts"
            )
        yield EmbeddedBatch(start, vectors, start + len(batch), total)


async def _collect(
    batches: AsyncIterator[EmbeddedBatch], on_batch: BatchCallback | None
) -> list[list[float]]:
    vectors: list[list[float]] = []
    async for batch in batches:
        vectors.extend(batch.vectors)
        if on_batch is not None:
            reported = on_batch(batch.done, batch.total)
            if inspect.isawaitable(reported):
                await reported
    return vectors


class EmbeddingRegistry:
    """Resolves embedding handles and configs to embedders; the local model loads lazily."""

    def __init__(self, providers: ProviderRegistry, local_model_dir: Path | None = None) -> None:
        self.providers = providers
        self.local_model_dir = local_model_dir
        """ENGRAM_EMBEDDING_MODEL_DIR: where the local model's tokenizer is read, too."""
        # A configured copy of the weights gets its own instance; the installed package's
        # is shared by every registry in the process.
        self.local_model: LocalEmbeddingModel = (
            LocalEmbeddingModel(model_dir=local_model_dir)
            if local_model_dir is not None
            else shared_local_model()
        )
        self._dims: dict[str, int] = {LOCAL_HANDLE: 384}

    def local_config(self) -> dict[str, Any]:
        return _config(LOCAL_HANDLE, "hugging-face", "all-MiniLM-L6-v2", 384, None)

    async def config_for(self, handle: str | None, *, field: str = "embedding") -> dict[str, Any]:
        """The EmbeddingConfig for a handle; ``None`` means the local default."""
        if handle is None or handle == LOCAL_HANDLE:
            return self.local_config()
        entry = await self.providers.find(handle, embedding=True, field=field)
        if entry.embedding_dim is not None:
            self._dims[handle] = entry.embedding_dim  # stated in the config file
        elif handle not in self._dims:
            # The dimension is whatever the endpoint returns; ask once and remember.
            probe = await self.providers.providers[entry.provider].embed(entry.model, ["probe"])
            self._dims[handle] = len(probe[0])
        return _config(handle, "openai", entry.model, self._dims[handle], entry.endpoint)

    async def check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """Resolve a client-supplied EmbeddingConfig to a model this server can run."""
        field = "embedding_config"
        handle = config.get("handle")
        if not handle:
            model = str(config.get("embedding_model", ""))
            local = model.lower() == self.local_model.name.lower()
            handle = LOCAL_HANDLE if local else f"openai/{model}"
        try:
            resolved = await self.config_for(handle, field=field)
        except ModelNotFound as exc:
            raise ModelNotFound(field, str(exc).split(": ", 1)[-1]) from exc
        if config.get("embedding_dim") not in (None, resolved["embedding_dim"]):
            raise ModelNotFound(
                field,
                f"embedding_dim {config['embedding_dim']} does not match model "
                f"'{resolved['handle']}', which produces {resolved['embedding_dim']} dimensions",
            )
        return resolved

    def embedder_for(self, config: dict[str, Any]) -> Embedder:
        handle = config.get("handle") or LOCAL_HANDLE
        if handle == LOCAL_HANDLE:
            return LocalEmbedder(self.local_model)
        provider = handle.split("/", 1)[0]
        if provider not in self.providers.providers:
            raise ModelNotFound("embedding", f"provider '{provider}' is not configured")
        return ProviderEmbedder(
            self.providers, provider, config["embedding_model"], handle, config["embedding_dim"]
        )

    async def list_models(self) -> list[dict[str, Any]]:
        models = [self.local_config()]
        for entry in await self.providers.models():
            if entry.is_embedding:
                dim = (
                    entry.embedding_dim
                    or self._dims.get(entry.handle)
                    or self.providers.embedding_dim_for(entry.model)
                )
                models.append(_config(entry.handle, "openai", entry.model, dim, entry.endpoint))
        return models


def _config(
    handle: str, endpoint_type: str, model: str, dim: int, endpoint: str | None
) -> dict[str, Any]:
    return {
        "handle": handle,
        "embedding_endpoint_type": endpoint_type,
        "embedding_endpoint": endpoint,
        "embedding_model": model,
        "embedding_dim": dim,
        "embedding_chunk_size": 300,
        "batch_size": 32,
        "azure_endpoint": None,
        "azure_version": None,
        "azure_deployment": None,
    }
