"""all-MiniLM-L6-v2 in plain numpy: the BERT forward pass sentence-transformers runs, without torch.

Weights come from `model.safetensors` (read with `safetensors.numpy`), word pieces from
`tokenizer.json` (the `tokenizers` library). The output is mean pooling over the attention
mask followed by L2 normalisation, exactly the three modules listed in `modules.json`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Encoding, Tokenizer

__all__ = ["InputTooLong", "MiniLM", "erf"]


class InputTooLong(ValueError):
    """An input has more word pieces than the model takes and truncation was refused."""


def erf(x: np.ndarray) -> np.ndarray:
    """Error function, vectorised (numpy has none).

    Abramowitz & Stegun 7.1.26, max absolute error 1.5e-7: below float32 noise in the GELU
    that uses it, so parity with torch's exact erf-GELU holds to about 2e-7. Computed in
    place on a few buffers because this is a third of the forward pass.
    """
    a = np.abs(x)
    t = a * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1.0, poly, out=poly)
    return np.copysign(poly, x, out=poly)


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's "gelu" is the exact erf form, not the tanh approximation.
    e = erf(x * np.float32(1.0 / np.sqrt(2.0)))
    e += 1.0
    e *= x
    e *= np.float32(0.5)
    return e


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + np.float32(eps)) * weight + bias


@dataclass(frozen=True)
class _Layer:
    qkv_w: np.ndarray  # (384, 3*384): query, key and value fused into one matmul
    qkv_b: np.ndarray
    attn_out_w: np.ndarray
    attn_out_b: np.ndarray
    attn_ln_w: np.ndarray
    attn_ln_b: np.ndarray
    ffn_in_w: np.ndarray
    ffn_in_b: np.ndarray
    ffn_out_w: np.ndarray
    ffn_out_b: np.ndarray
    ffn_ln_w: np.ndarray
    ffn_ln_b: np.ndarray


class MiniLM:
    """Sentence embeddings from a sentence-transformers BERT folder (all-MiniLM-L6-v2)."""

    def __init__(self, model_dir: Path, batch_size: int = 32) -> None:
        self.model_dir = Path(model_dir)
        self.batch_size = batch_size
        config = json.loads((self.model_dir / "config.json").read_text())
        st_config = json.loads((self.model_dir / "sentence_bert_config.json").read_text())
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        # sentence-transformers caps the input at max_seq_length word pieces (256 here),
        # below the 512 positions BERT has; that cap is what the parity depends on.
        self.max_tokens = int(st_config["max_seq_length"])
        self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        # tokenizer.json ships with truncation and fixed padding at 128; the HF tokenizer
        # that sentence-transformers calls overrides both per call, so do the same.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        weights = load_file(str(self.model_dir / "model.safetensors"))
        self.parameter_count = int(
            sum(v.size for k, v in weights.items() if v.dtype.kind == "f")
        )
        self._load(weights, int(config["num_hidden_layers"]))
        self._lock = threading.Lock()

    def _load(self, w: dict[str, np.ndarray], n_layers: int) -> None:
        def f32(name: str) -> np.ndarray:
            return np.ascontiguousarray(w[name], dtype=np.float32)

        self.word = f32("embeddings.word_embeddings.weight")
        self.position = f32("embeddings.position_embeddings.weight")
        self.token_type = f32("embeddings.token_type_embeddings.weight")
        self.emb_ln_w = f32("embeddings.LayerNorm.weight")
        self.emb_ln_b = f32("embeddings.LayerNorm.bias")
        self.layers: list[_Layer] = []
        for i in range(n_layers):
            p = f"encoder.layer.{i}."
            a = p + "attention."
            qkv_w = np.concatenate(
                [f32(a + f"self.{n}.weight") for n in ("query", "key", "value")], axis=0
            )
            qkv_b = np.concatenate([f32(a + f"self.{n}.bias") for n in ("query", "key", "value")])
            self.layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(qkv_w.T),
                    qkv_b=qkv_b,
                    attn_out_w=np.ascontiguousarray(f32(a + "output.dense.weight").T),
                    attn_out_b=f32(a + "output.dense.bias"),
                    attn_ln_w=f32(a + "output.LayerNorm.weight"),
                    attn_ln_b=f32(a + "output.LayerNorm.bias"),
                    ffn_in_w=np.ascontiguousarray(f32(p + "intermediate.dense.weight").T),
                    ffn_in_b=f32(p + "intermediate.dense.bias"),
                    ffn_out_w=np.ascontiguousarray(f32(p + "output.dense.weight").T),
                    ffn_out_b=f32(p + "output.dense.bias"),
                    ffn_ln_w=f32(p + "output.LayerNorm.weight"),
                    ffn_ln_b=f32(p + "output.LayerNorm.bias"),
                )
            )

    @property
    def dimensions(self) -> int:
        """Length of one embedding (384)."""
        return self.hidden

    def encode_tokens(self, texts: list[str], truncate: bool = True,
                      max_tokens: int | None = None) -> list[Encoding]:
        """Word pieces with [CLS]/[SEP] cut at `max_tokens`; InputTooLong if not truncating."""
        limit = self.max_tokens if max_tokens is None else max(2, min(max_tokens, self.max_tokens))
        with self._lock:  # the tokenizer's truncation setting is shared state
            self.tokenizer.enable_truncation(max_length=limit)
            encodings = self.tokenizer.encode_batch(texts)
        if not truncate and any(enc.overflowing for enc in encodings):
            raise InputTooLong("the input length exceeds the context length")
        return encodings

    def embed(self, texts: list[str], truncate: bool = True, max_tokens: int | None = None
              ) -> tuple[np.ndarray, int]:
        """Normalised embeddings, shape (len(texts), 384), and the word pieces consumed."""
        encodings = self.encode_tokens(texts, truncate, max_tokens)
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        # Sort by length so each padded batch wastes little work, as sentence-transformers does.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        with self._lock:  # numpy is thread-safe, but two big batches at once only thrash
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                out[idx] = self._forward([encodings[i] for i in idx])
        return out, sum(len(enc.ids) for enc in encodings)

    def _forward(self, encodings: list[Encoding]) -> np.ndarray:
        length = max(len(enc.ids) for enc in encodings)
        ids = np.zeros((len(encodings), length), dtype=np.int64)
        mask = np.zeros((len(encodings), length), dtype=np.float32)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1.0
        x = self.word[ids] + self.position[:length] + self.token_type[0]
        x = _layer_norm(x, self.emb_ln_w, self.emb_ln_b, self.eps).reshape(-1, self.hidden)
        # Padded keys get the most negative float, as transformers' extended attention mask.
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for layer in self.layers:
            x = self._layer(x, bias, layer)
        x = x.reshape(len(encodings), length, self.hidden)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def _layer(self, x: np.ndarray, bias: np.ndarray, p: _Layer) -> np.ndarray:
        # x is (batch*length, hidden): dense layers run as one large GEMM each.
        batch, length = bias.shape[0], bias.shape[-1]
        hidden = x.shape[1]
        head_dim = hidden // self.heads
        qkv = (x @ p.qkv_w + p.qkv_b).reshape(batch, length, 3, self.heads, head_dim)
        q = qkv[:, :, 0].transpose(0, 2, 1, 3)
        k = qkv[:, :, 1].transpose(0, 2, 3, 1)
        v = qkv[:, :, 2].transpose(0, 2, 1, 3)
        scores = (q @ k) * np.float32(1.0 / np.sqrt(head_dim)) + bias
        scores -= scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores, out=scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch * length, hidden)
        x = _layer_norm(ctx @ p.attn_out_w + p.attn_out_b + x, p.attn_ln_w, p.attn_ln_b, self.eps)
        h = _gelu(x @ p.ffn_in_w + p.ffn_in_b)
        return _layer_norm(h @ p.ffn_out_w + p.ffn_out_b + x, p.ffn_ln_w, p.ffn_ln_b, self.eps)
