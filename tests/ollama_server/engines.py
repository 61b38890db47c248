"""Running the models: llama-cpp for smollm2:135m, the numpy MiniLM for all-minilm.

Each model sits behind a `Runner`: loaded on first use, kept for `keep_alive` (Ollama's
default five minutes; 0 unloads after the request, negative keeps it forever), and used by
one request at a time. llama.cpp contexts are not thread-safe, so that lock is required, not
a convenience; it also mirrors Ollama's default of one request per model at a time.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from .minilm import MiniLM
from .models import ModelInfo
from .wire import ApiError

__all__ = ["DEFAULT_KEEP_ALIVE", "ChatEngine", "EmbedEngine", "GenStats", "Runner",
           "parse_options"]

DEFAULT_KEEP_ALIVE = 300.0  # seconds, Ollama's OLLAMA_KEEP_ALIVE default
T = TypeVar("T")

# api.Options fields by JSON kind (api/types.go); unknown keys are ignored, as Ollama does.
_INT = {"num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "mirostat", "num_ctx",
        "num_batch", "num_gpu", "main_gpu", "num_thread"}
_FLOAT = {"top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty",
          "frequency_penalty", "mirostat_tau", "mirostat_eta"}
_BOOL = {"penalize_newline", "numa", "low_vram", "vocab_only", "use_mmap", "use_mlock"}
DEFAULT_OPTIONS: dict[str, Any] = {  # api.DefaultOptions() plus the server's default num_ctx
    "num_ctx": 4096, "num_predict": -1, "temperature": 0.8, "top_k": 40, "top_p": 0.9,
    "min_p": 0.0, "typical_p": 1.0, "repeat_penalty": 1.1, "presence_penalty": 0.0,
    "frequency_penalty": 0.0, "mirostat": 0, "mirostat_tau": 5.0, "mirostat_eta": 0.1,
    "seed": -1, "stop": [],
}


def parse_options(options: Any) -> dict[str, Any]:
    """api.Options.FromMap over the defaults; a wrong type is a 500, as in Ollama."""
    merged = dict(DEFAULT_OPTIONS)
    if options is None:
        return merged
    if not isinstance(options, dict):
        raise ApiError(400, "json: cannot unmarshal into Go struct field .options of type "
                            "map[string]interface {}")
    for key, value in options.items():
        if value is None:
            continue
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if key in _INT:
            if not numeric:
                raise ApiError(500, f'option "{key}" must be of type integer')
            merged[key] = int(value)
        elif key in _FLOAT:
            if not numeric:
                raise ApiError(500, f'option "{key}" must be of type float32')
            merged[key] = float(value)
        elif key in _BOOL:
            if not isinstance(value, bool):
                raise ApiError(500, f'option "{key}" must be of type boolean')
            merged[key] = value
        elif key == "stop":
            if not isinstance(value, list):
                raise ApiError(500, f'option "{key}" must be of type array')
            if not all(isinstance(s, str) for s in value):
                raise ApiError(500, f'option "{key}" must be of an array of strings')
            merged[key] = list(value)
    return merged


class Runner(Generic[T]):
    """One model's loaded state, its keep-alive clock and its one-at-a-time lock."""

    def __init__(self, load: Callable[[], T], close: Callable[[T], None] | None = None) -> None:
        self._load = load
        self._close = close
        self._obj: T | None = None
        self._expires: float | None = None  # time.monotonic(); None while busy or forever
        self._expires_wall: float | None = None
        self._lock = threading.Lock()
        self.loads = 0  # how many times the weights were read, for tests of keep_alive

    @contextmanager
    def use(self, keep_alive: float | None) -> Iterator[tuple[T, int]]:
        """The loaded model and the nanoseconds spent loading it for this request (0 if warm)."""
        with self._lock:
            if self._obj is not None and self._expires is not None \
                    and time.monotonic() >= self._expires:
                self._unload()
            load_ns = 0
            if self._obj is None:
                start = time.perf_counter_ns()
                self._obj = self._load()
                load_ns = time.perf_counter_ns() - start
                self.loads += 1
            self._expires = self._expires_wall = None
            try:
                yield self._obj, load_ns
            finally:
                self._release(DEFAULT_KEEP_ALIVE if keep_alive is None else keep_alive)

    def _release(self, keep_alive: float) -> None:
        if keep_alive <= 0:
            self._unload()
        elif math.isfinite(keep_alive):
            self._expires = time.monotonic() + keep_alive
            self._expires_wall = time.time() + keep_alive
        else:
            self._expires, self._expires_wall = None, math.inf

    def _unload(self) -> None:
        if self._obj is not None and self._close is not None:
            self._close(self._obj)
        self._obj = None
        self._expires = self._expires_wall = None

    def unload(self) -> None:
        """Drop the weights now (keep_alive 0 with nothing to do)."""
        with self._lock:
            self._unload()

    def loaded_until(self) -> float | None:
        """Wall-clock expiry of a loaded model (inf: forever), None when not loaded."""
        if self._obj is None or (self._expires is not None and time.monotonic() >= self._expires):
            return None
        return self._expires_wall if self._expires_wall is not None else time.time()


@dataclass
class GenStats:
    """What a generation reports in Ollama's metrics."""

    prompt_eval_count: int
    prompt_eval_ns: int
    eval_count: int
    eval_ns: int
    done_reason: str


@dataclass
class _Chat:
    llm: Any  # llama_cpp.Llama
    formatter: Any  # llama_cpp.llama_chat_format.Jinja2ChatFormatter


class ChatEngine:
    """smollm2:135m through llama-cpp, prompted with the GGUF's own chat template."""

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self.runner: Runner[_Chat] = Runner(self._load, lambda c: c.llm.close())

    def _load(self) -> _Chat:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llm = Llama(model_path=str(self.info.path),
                    n_ctx=self.info.load_ctx or self.info.context_length,
                    n_threads=os.cpu_count() or 1, last_n_tokens_size=64, verbose=False)
        eos, bos = llm.token_eos(), llm.token_bos()
        formatter = Jinja2ChatFormatter(
            template=self.info.template,
            eos_token=llm.detokenize([eos], special=True).decode(),
            bos_token=llm.detokenize([bos], special=True).decode(),
            stop_token_ids=[eos],
        )
        return _Chat(llm, formatter)

    def prompt(self, chat: _Chat, messages: list[dict[str, str]], num_ctx: int
               ) -> tuple[list[int], list[str]]:
        """Prompt tokens and template stop strings; the oldest turns go first when too long."""
        msgs = list(messages)
        while True:
            rendered = chat.formatter(messages=msgs)
            tokens = chat.llm.tokenize(rendered.prompt.encode(), add_bos=not rendered.added_special,
                                       special=True)
            droppable = [i for i, m in enumerate(msgs[:-1]) if m["role"] != "system"]
            if len(tokens) < num_ctx or not droppable:
                break
            del msgs[droppable[0]]
        if len(tokens) >= num_ctx:  # one message alone is too long: keep its end
            tokens = tokens[-(num_ctx - 1):]
        stop = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop or ""]
        return tokens, [s for s in stop if s]

    def generate(self, chat: _Chat, tokens: list[int], template_stop: list[str],
                 opts: dict[str, Any], grammar: Any, emit: Callable[[str], None],
                 cancel: threading.Event) -> GenStats:
        """Stream text pieces to `emit` as llama.cpp samples them; stop early on `cancel`."""
        from llama_cpp import StoppingCriteriaList

        num_ctx = min(max(int(opts["num_ctx"]), 1), self.info.load_ctx or self.info.context_length)
        max_tokens = num_ctx - len(tokens)
        if opts["num_predict"] > 0:
            max_tokens = min(max_tokens, opts["num_predict"])
        sampled = 0
        first: int | None = None

        def on_token(_ids: np.ndarray, _logits: np.ndarray) -> bool:
            # Called once per sampled token (the end-of-turn token too), after the prompt was
            # evaluated, plus once more when create_completion finishes: it counts eval
            # tokens and marks where prompt evaluation ended.
            nonlocal sampled, first
            if first is None:
                first = time.perf_counter_ns()
            sampled += 1
            return cancel.is_set()

        seed = opts["seed"] if opts["seed"] >= 0 else random.randint(0, 2**31 - 1)
        start = time.perf_counter_ns()
        done_reason = "length"
        for chunk in chat.llm.create_completion(
            prompt=tokens, max_tokens=max(max_tokens, 1), temperature=opts["temperature"],
            top_p=opts["top_p"], min_p=opts["min_p"], typical_p=opts["typical_p"],
            stop=template_stop + opts["stop"], frequency_penalty=opts["frequency_penalty"],
            presence_penalty=opts["presence_penalty"], repeat_penalty=opts["repeat_penalty"],
            top_k=opts["top_k"], stream=True, seed=seed, mirostat_mode=opts["mirostat"],
            mirostat_tau=opts["mirostat_tau"], mirostat_eta=opts["mirostat_eta"],
            stopping_criteria=StoppingCriteriaList([on_token]), grammar=grammar,
        ):
            choice = chunk["choices"][0]
            if choice["text"]:
                emit(choice["text"])
            if choice["finish_reason"]:
                done_reason = choice["finish_reason"]
        end = time.perf_counter_ns()
        split = first if first is not None else end
        return GenStats(prompt_eval_count=len(tokens), prompt_eval_ns=max(split - start, 1),
                        eval_count=max(sampled - 1, 0), eval_ns=max(end - split, 1),
                        done_reason="stop" if done_reason == "stop" else "length")


def grammar_for(fmt: Any) -> Any:
    """A llama.cpp grammar for Ollama's `format` ("json" or a JSON schema), None for none."""
    import json

    if fmt in (None, "", "null"):
        return None
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if fmt == "json":
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    if isinstance(fmt, dict):
        return LlamaGrammar.from_json_schema(json.dumps(fmt), verbose=False)
    raw = json.dumps(fmt)
    raise ApiError(500, f'invalid format: {json.dumps(raw)}; expected "json" or a valid JSON '
                        "Schema object")


class EmbedEngine:
    """all-minilm through the numpy MiniLM."""

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self.runner: Runner[MiniLM] = Runner(lambda: MiniLM(info.path))

    @staticmethod
    def embed(model: MiniLM, texts: list[str], truncate: bool, dimensions: int, num_ctx: int
              ) -> tuple[np.ndarray, int]:
        """Normalised vectors (cut to `dimensions` and renormalised if asked) and token count.

        The context is min(num_ctx, 256 word pieces), as Ollama takes min(num_ctx, model's).
        """
        vectors, count = model.embed(texts, truncate=truncate, max_tokens=num_ctx)
        if 0 < dimensions < vectors.shape[1]:
            vectors = vectors[:, :dimensions]
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
        return vectors.astype(np.float32), count
