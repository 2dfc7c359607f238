"""Request bodies of folders (Letta's ``SourceCreate`` and ``SourceUpdate``), each with what
it becomes for its op (``engram.ops.folders``). Shared by the routes and the in-process
client, which validates its arguments with the same models."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engram.api.schemas import Body, EmbeddingConfigBody
from engram.ops import folders as folder_ops


class FolderCreate(Body):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    instructions: str | None = None
    metadata: dict[str, Any] | None = None
    embedding: str | None = None
    embedding_chunk_size: int | None = None
    embedding_config: EmbeddingConfigBody | None = None

    def spec(self) -> folder_ops.FolderSpec:
        config = self.embedding_config
        return folder_ops.FolderSpec(
            name=self.name,
            description=self.description,
            instructions=self.instructions,
            metadata=self.metadata,
            embedding=self.embedding,
            embedding_config=config.model_dump() if config is not None else None,
            embedding_chunk_size=self.embedding_chunk_size,
        )


class FolderUpdate(Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = None
    instructions: str | None = None
    metadata: dict[str, Any] | None = None
    # A folder keeps the model its chunks were embedded with: the same model is accepted
    # (a retrieved folder sent back), another is refused.
    embedding_config: EmbeddingConfigBody | None = None

    def changes(self) -> folder_ops.FolderChanges:
        return folder_ops.FolderChanges(
            name=self.name,
            description=self.description,
            instructions=self.instructions,
            metadata=self.metadata,
            embedding_config=self.embedding_config.model_dump() if self.embedding_config else None,
        )
