"""An optional reranking stage over the head of a memory search (docs/memory.md,
"Reranking"): the fused candidates go to a reranker, which scores each against the query,
and the best of its order are what the search returns.

``base`` names what a reranker is, ``http`` speaks the common ``/rerank`` shape (Cohere,
Jina, Voyage, Hugging Face TEI, vLLM), ``config`` builds one from the settings, and
``apply`` reorders a search's candidates with one and says what it did.
"""

from __future__ import annotations

from engram.memory.rerank.apply import (
    Reranked as Reranked,
)
from engram.memory.rerank.apply import (
    RerankNote as RerankNote,
)
from engram.memory.rerank.apply import (
    candidate_count as candidate_count,
)
from engram.memory.rerank.apply import (
    enabled_for as enabled_for,
)
from engram.memory.rerank.apply import (
    rerank as rerank,
)
from engram.memory.rerank.base import Reranker as Reranker
from engram.memory.rerank.base import RerankFailed as RerankFailed
from engram.memory.rerank.config import reranker_from as reranker_from
