"""Embedding models by handle: the bundled local model, or a provider's (``openai/<model>``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from engram.errors import ModelNotFound
from engram.llm.registry import ProviderRegistry
from engram.memory.local_embedding import LocalEmbeddingModel, shared_local_model

LOCAL_HANDLE = "local/all-MiniLM-L6-v2"


class Embedder(Protocol):
    handle: str
    dim: int

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


@dataclass
class LocalEmbedder:
    model: LocalEmbeddingModel
    handle: str = LOCAL_HANDLE
    dim: int = 384

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await self.model.embed(texts)


@dataclass
class ProviderEmbedder:
    registry: ProviderRegistry
    provider: str
    model: str
    handle: str
    dim: int

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await self.registry.providers[self.provider].embed(self.model, texts)


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
