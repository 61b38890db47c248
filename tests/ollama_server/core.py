"""Ollama's handlers minus HTTP: ChatHandler and EmbedHandler logic, in the order Ollama checks.

The native routes and the OpenAI-compatible routes both call this layer, as Ollama's
`/v1` middleware rewrites requests into `/api/chat` and `/api/embed` ones. Model work runs in
a worker thread; text pieces cross into the event loop through an asyncio queue as soon as
llama.cpp samples them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .behaviour import Behaviour, Scheduler
from .engines import ChatEngine, EmbedEngine, GenStats, grammar_for, parse_options
from .minilm import InputTooLong
from .models import ModelInfo, Registry, parse_name
from .wire import ApiError, check_types, go_time, parse_keep_alive

__all__ = ["ChatRun", "EmbedResult", "OllamaCore"]

_CHAT_FIELDS: dict[str, tuple[Any, str]] = {
    "model": (str, "string"), "messages": (list, "[]api.Message"), "stream": (bool, "bool"),
    "options": (dict, "map[string]interface {}"), "tools": (list, "api.Tools"),
}
_EMBED_FIELDS: dict[str, tuple[Any, str]] = {
    "model": (str, "string"), "truncate": (bool, "bool"), "dimensions": (int, "int"),
    "options": (dict, "map[string]interface {}"),
}


def show_name(info_or_name: str) -> str:
    """model.Name.DisplayShortest(): default host and namespace left out."""
    parsed = parse_name(info_or_name)
    if parsed is None:
        return info_or_name
    host, namespace, model, tag = parsed
    prefix = "" if host == "registry.ollama.ai" else f"{host}/"
    prefix += "" if namespace == "library" and not prefix else f"{namespace}/"
    return f"{prefix}{model}:{tag}"


def go_quote(text: str) -> str:
    """Go's %q for ordinary strings."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class ChatRun:
    """A chat in progress: the first event is awaited before any byte is sent."""

    model: str
    started_ns: int
    single: dict[str, Any] | None = None  # load/unload answers: one object, never streamed
    _queue: asyncio.Queue[tuple[Any, ...]] = field(default_factory=asyncio.Queue)
    _cancel: threading.Event = field(default_factory=threading.Event)
    _first: tuple[Any, ...] | None = None

    async def start(self) -> None:
        """Wait for loading and prompt evaluation; raise ApiError if they fail."""
        self._first = await self._queue.get()
        if self._first[0] == "error":
            raise ApiError(self._first[1], self._first[2])

    def cancel(self) -> None:
        """The client went away: stop sampling at the next token."""
        self._cancel.set()

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Ollama ChatResponse objects, then the final one; `{"error"}` if it fails midway."""
        try:
            item = self._first or await self._queue.get()
            self._first = None
            while True:
                kind = item[0]
                if kind == "text":
                    yield {"model": self.model, "created_at": go_time(),
                           "message": {"role": "assistant", "content": item[1]}, "done": False}
                elif kind == "done":
                    yield self._final(item[1], item[2])
                    return
                else:
                    yield {"error": item[2], "status": item[1]}
                    return
                item = await self._queue.get()
        finally:
            self._cancel.set()

    def _final(self, stats: GenStats, loaded_ns: int) -> dict[str, Any]:
        now = time.perf_counter_ns()
        return {"model": self.model, "created_at": go_time(),
                "message": {"role": "assistant", "content": ""},
                "done_reason": stats.done_reason, "done": True,
                "total_duration": now - self.started_ns,
                "load_duration": max(loaded_ns - self.started_ns, 1),
                "prompt_eval_count": stats.prompt_eval_count,
                "prompt_eval_duration": stats.prompt_eval_ns,
                "eval_count": stats.eval_count, "eval_duration": stats.eval_ns}


@dataclass
class EmbedResult:
    """Vectors plus Ollama's metrics for them."""

    vectors: np.ndarray
    prompt_eval_count: int
    total_ns: int
    load_ns: int


class OllamaCore:
    """The models and the request logic shared by every route."""

    def __init__(self, registry: Registry | None = None,
                 behaviour: Behaviour | None = None) -> None:
        self.registry = registry or Registry()
        self.behaviour = behaviour or Behaviour()
        self.scheduler = Scheduler(self.behaviour)
        self._chat: dict[str, ChatEngine] = {}
        self._embed: dict[str, EmbedEngine] = {}
        self._lock = threading.Lock()

    def chat_engine(self, info: ModelInfo) -> ChatEngine:
        """The (lazily built) engine of a chat model."""
        with self._lock:
            return self._chat.setdefault(info.name, ChatEngine(info))

    def embed_engine(self, info: ModelInfo) -> EmbedEngine:
        """The (lazily built) engine of an embedding model."""
        with self._lock:
            if info.name not in self._embed:
                if info.format == "gguf":  # the real-model tier's nomic-embed-text
                    from .realmodels import LlamaEmbedEngine

                    self._embed[info.name] = LlamaEmbedEngine(info)  # type: ignore[assignment]
                else:
                    self._embed[info.name] = EmbedEngine(info)
            return self._embed[info.name]

    def runners(self) -> list[tuple[ModelInfo, Any]]:
        """Every engine created so far, for /api/ps."""
        with self._lock:
            engines: list[Any] = [*self._chat.values(), *self._embed.values()]
        return [(e.info, e.runner) for e in engines]

    async def chat(self, body: dict[str, Any], started_ns: int) -> ChatRun:
        """ChatHandler up to the first token; raises ApiError with Ollama's status and text."""
        check_types(body, "ChatRequest", _CHAT_FIELDS)
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        messages = _messages(body.get("messages") or [])
        name = body.get("model") or ""
        if not name:
            raise ApiError(400, "model is required")
        if parse_name(name) is None:
            raise ApiError(400, "invalid model name")
        info = self.registry.resolve(name)
        if info is None:
            raise ApiError(404, f"model '{name}' not found")
        run = ChatRun(model=name, started_ns=started_ns)
        if not messages and keep_alive == 0:
            if info.kind == "chat":
                self.chat_engine(info).runner.unload()
            run.single = _load_answer(name, "unload")
            return run
        think = body.get("think")
        if think not in (None, False, "", "none"):
            raise ApiError(400, f"{go_quote(name)} does not support thinking")
        if info.kind != "chat":
            raise ApiError(400, f"{go_quote(name)} does not support chat")
        if body.get("tools"):
            raise ApiError(400, f"registry.ollama.ai/library/{info.name} does not support tools")
        opts = parse_options(body.get("options"))
        engine = self.chat_engine(info)
        if not messages:
            await asyncio.to_thread(_touch, engine, keep_alive)
            run.single = _load_answer(name, "load")
            return run
        grammar = grammar_for(body.get("format"))
        loop = asyncio.get_running_loop()

        def put(*item: Any) -> None:
            loop.call_soon_threadsafe(run._queue.put_nowait, item)

        release = await self.scheduler.acquire(info.name)

        def work() -> None:
            try:
                with engine.runner.use(keep_alive) as (chat, _):
                    loaded = time.perf_counter_ns()
                    num_ctx = min(max(opts["num_ctx"], 1), info.load_ctx or info.context_length)
                    tokens, stop = engine.prompt(chat, messages, num_ctx)
                    stats = engine.generate(chat, tokens, stop, opts, grammar,
                                            lambda text: put("text", text), run._cancel)
                put("done", stats, loaded)
            except ApiError as exc:
                put("error", exc.status, exc.message)
            except Exception as exc:  # a model failure is Ollama's 500 with the error text
                put("error", 500, str(exc))
            finally:
                release()

        threading.Thread(target=work, name="ollama-chat", daemon=True).start()
        await run.start()
        return run

    async def embed(self, body: dict[str, Any], started_ns: int) -> EmbedResult | None:
        """EmbedHandler; None means an empty input (Ollama answers `"embeddings": []`)."""
        check_types(body, "EmbedRequest", _EMBED_FIELDS)
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        name = body.get("model") or ""
        if name and parse_name(name) is None:
            raise ApiError(400, "invalid model name")
        if not name:
            raise ApiError(404, f"model '{name}' not found")
        raw = body.get("input")
        if isinstance(raw, str):
            texts = [raw] if raw else []
        elif isinstance(raw, list):
            if not all(isinstance(t, str) for t in raw):
                raise ApiError(400, "invalid input type")
            texts = list(raw)
        elif raw is None:
            texts = []
        else:
            raise ApiError(400, "invalid input type")
        info = self.registry.resolve(name)
        if info is None:
            raise ApiError(404, f"model {go_quote(name)} not found, try pulling it first")
        opts = parse_options(body.get("options"))
        if info.kind != "embed":
            # Ollama would pool smollm2's hidden states; this server only embeds with MiniLM.
            raise ApiError(501, f"the Ollama test server does not embed with {go_quote(name)}")
        engine = self.embed_engine(info)
        # Some versions refuse over-long input even when truncation was not refused.
        truncate = body.get("truncate") is not False and \
            not self.behaviour.rejects_long_embed_input
        dimensions = int(body.get("dimensions") or 0)

        def work() -> tuple[np.ndarray, int, int] | None:
            with engine.runner.use(keep_alive) as (model, _):
                loaded = time.perf_counter_ns()
                if not texts:
                    return None
                vectors, count = engine.embed(model, texts, truncate, dimensions,
                                              opts["num_ctx"])
                return vectors, count, loaded

        try:
            async with self.scheduler.running(info.name):
                out = await asyncio.to_thread(work)
        except InputTooLong:
            raise ApiError(400, self.behaviour.too_long_message) from None
        if out is None:
            return None
        vectors, count, loaded = out
        return EmbedResult(vectors=vectors, prompt_eval_count=count,
                           total_ns=time.perf_counter_ns() - started_ns,
                           load_ns=max(loaded - started_ns, 1))


def _messages(raw: list[Any]) -> list[dict[str, str]]:
    """api.Message list: roles lower-cased (Message.UnmarshalJSON), content defaulting to ""."""
    out = []
    for i, msg in enumerate(raw):
        if not isinstance(msg, dict):
            raise ApiError(400, f"json: cannot unmarshal {type(msg).__name__} into Go struct "
                                f"field ChatRequest.messages of type api.Message (index {i})")
        role, content = msg.get("role") or "", msg.get("content")
        if not isinstance(role, str) or not isinstance(content, (str, type(None))):
            raise ApiError(400, "json: cannot unmarshal value into Go struct field "
                                "ChatRequest.messages.content of type string")
        out.append({"role": role.lower(), "content": content or ""})
    return out


def _load_answer(name: str, reason: str) -> dict[str, Any]:
    return {"model": name, "created_at": go_time(),
            "message": {"role": "assistant", "content": ""}, "done_reason": reason, "done": True}


def _touch(engine: ChatEngine, keep_alive: float | None) -> None:
    with engine.runner.use(keep_alive):
        pass
