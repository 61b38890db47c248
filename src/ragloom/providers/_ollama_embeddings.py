"""`RagloomOllamaEmbeddings`: Ollama embeddings that never cut a text silently.

Example:
    >>> RagloomOllamaEmbeddings(model="all-minilm", too_long="fail").too_long
    'fail'

"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any, Literal

import httpx
import ollama
from langchain_ollama import OllamaEmbeddings
from pydantic import PrivateAttr

from ragloom.config import ollama_url
from ragloom.errors import ConfigError, IngestError, ProviderUnavailable
from ragloom.providers._drive import Core, adrive, drive
from ragloom.providers._errors import translated
from ragloom.providers._ollama_api import ModelFacts, amodel_facts, model_facts
from ragloom.providers._ollama_pull import _AutoPull

__all__ = ["RagloomOllamaEmbeddings"]


def _is_too_long(exc: ollama.ResponseError) -> bool:
    text = str(exc.error).lower()
    return exc.status_code == 400 and "exceeds" in text and "context length" in text


def _halves(text: str) -> list[str]:
    """Two pieces of `text`, cut at the whitespace nearest the middle."""
    middle = len(text) // 2
    left, right = text.rfind(" ", 0, middle), text.find(" ", middle)
    candidates = [i for i in (left, right) if i > 0]
    cut = min(candidates, key=lambda i: abs(i - middle)) if candidates else middle
    return [text[:cut], text[cut:]]


def _pieces(text: str, max_chars: int) -> list[str]:
    if len(text) <= max_chars:
        return [text]
    return [piece for half in _halves(text) for piece in _pieces(half, max_chars)]


def _mean(vectors: list[list[float]], weights: list[int]) -> list[float]:
    """The weighted mean of the pieces' vectors, scaled back to unit length."""
    total = float(sum(weights)) or 1.0
    mean = [sum(w * v[i] for v, w in zip(vectors, weights, strict=True)) / total
            for i in range(len(vectors[0]))]
    norm = sum(x * x for x in mean) ** 0.5 or 1.0
    return [x / norm for x in mean]


_CHARS_PER_TOKEN = 4
"""A text this many characters per context token is surely too long (English runs at ~4)."""


class RagloomOllamaEmbeddings(_AutoPull, OllamaEmbeddings):
    """`OllamaEmbeddings` whose errors are ragloom's, each naming the fix.

    Texts longer than the model's context never reach the server's silent truncation
    (`truncate: false` is sent): with `too_long="split"` such a text is embedded in pieces
    whose vectors are averaged (obviously long texts are split before sending, judged by
    the context length `/api/show` reports; others when the server refuses them), with
    `too_long="fail"` it is an `IngestError` naming the text and the setting to change.
    A chat-only model is refused with a `ConfigError` (Ollama would embed with it).

    Example:
        >>> RagloomOllamaEmbeddings(model="all-minilm").model
        'all-minilm'

    """

    auto_pull: bool = False
    """Pull the model through `/api/pull` when the server says it is missing, then retry once."""
    request_keep_alive: str | int | None = None
    """`keep_alive` as configured, sent as is (the same JSON type the chat model sends)."""
    too_long: Literal["split", "fail"] = "split"
    """What to do with a text longer than the model's context."""
    _facts: ModelFacts | None = PrivateAttr(default=None)
    _facts_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _context(self) -> dict[str, Any]:
        return {"provider": "ollama", "model": self.model, "base_url": self.base_url,
                "section": "embeddings"}

    def _show_kwargs(self) -> dict[str, Any]:
        kwargs = self.client_kwargs or {}
        return {"headers": kwargs.get("headers"), "timeout_s": kwargs.get("timeout", 10.0)}

    def _learned(self, facts: ModelFacts | None) -> None:
        if facts is None:
            return
        self._facts = facts
        if facts.is_chat_only:
            raise ConfigError(
                f"model {self.model!r} at {ollama_url(self.base_url)} is a chat model, not an"
                f" embedding model ({', '.join(facts.capabilities or ())}): set"
                " embeddings.model (RAGLOOM_EMBEDDINGS__MODEL) to an embedding model such as"
                f" nomic-embed-text; {self.model!r} belongs in llm.model"
            )

    def _embed_kwargs(self) -> dict[str, Any]:
        return {"truncate": False, "dimensions": self.dimensions,
                "options": self._default_params, "keep_alive": self.request_keep_alive}

    def _max_chars(self) -> int | None:
        context = self._facts.context_length if self._facts else None
        return context * _CHARS_PER_TOKEN if context else None

    def _too_long_error(self, text: str) -> IngestError:
        context = self._facts.context_length if self._facts else None
        limit = f"context of {context} tokens" if context else "context"
        return IngestError(
            f"a text of {len(text)} characters starting {text[:60]!r} is longer than"
            f" {self.model!r}'s {limit} at {ollama_url(self.base_url)}: lower"
            " ingest.chunk_size (RAGLOOM_INGEST__CHUNK_SIZE) so that chunks fit, or set"
            " embeddings.too_long: split (RAGLOOM_EMBEDDINGS__TOO_LONG=split) to embed such"
            " a text in pieces whose vectors are averaged"
        )

    def _plan(self, texts: list[str]) -> list[list[str]]:
        """Each text as the pieces to send (one piece unless obviously too long)."""
        max_chars = self._max_chars()
        if max_chars is None:
            return [[t] for t in texts]
        plan = []
        for text in texts:
            if len(text) > max_chars and self.too_long == "fail":
                raise self._too_long_error(text)
            plan.append(_pieces(text, max_chars))
        return plan

    def _refused(self, texts: list[str], exc: ollama.ResponseError) -> list[str] | None:
        """The halves to try after a refusal of one text, or None if it is not that."""
        if not _is_too_long(exc) or len(texts) > 1:
            return None
        if self.too_long == "fail" or len(texts[0]) < 2:
            raise self._too_long_error(texts[0]) from exc
        return _halves(texts[0])

    def _fitting(self, texts: list[str]) -> Core[list[list[float]]]:
        """Send `texts`, bisecting a refused batch until the too-long text is found and split.

        A core (`ragloom.providers._drive`): its one operation is `send`.
        """
        try:
            vectors: list[list[float]] = yield ("send", texts)
            return vectors
        except ollama.ResponseError as exc:
            if not _is_too_long(exc):
                raise
            halves = self._refused(texts, exc)
        if halves is None:
            middle = len(texts) // 2
            return ((yield from self._fitting(texts[:middle]))
                    + (yield from self._fitting(texts[middle:])))
        return [_mean((yield from self._fitting(halves)), [len(h) for h in halves])]

    def _embedding(self, texts: list[str]) -> Core[list[list[float]]]:
        """`embed_documents` as a core: learn the model's facts once, plan, send, join."""
        if self._facts is None:
            yield ("learn",)
        if not texts:
            return []
        plan = self._plan(texts)
        return self._joined(plan, (yield from self._fitting(
            [p for pieces in plan for p in pieces])))

    @staticmethod
    def _joined(plan: list[list[str]], vectors: list[list[float]]) -> list[list[float]]:
        out, at = [], 0
        for pieces in plan:
            part = vectors[at:at + len(pieces)]
            at += len(pieces)
            out.append(part[0] if len(part) == 1 else _mean(part, [len(p) for p in pieces]))
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in one `/api/embed` request (more if some are too long)."""
        def call() -> list[list[float]]:
            with translated(**self._context()):
                return drive(self._embedding(texts), _SyncIO(self))

        return self._pulled_then(call)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in one `/api/embed` request, asynchronously."""
        async def call() -> list[list[float]]:
            with translated(**self._context()):
                return await adrive(self._embedding(texts), _AsyncIO(self))

        return await self._apulled_then(call)


def _json_loads() -> Callable[[bytes], Any]:
    try:  # a dependency of langsmith (so of langchain-core) on CPython
        from orjson import loads
    except ImportError:  # pragma: no cover - PyPy
        return json.loads
    return loads


_loads = _json_loads()


def _raw_post(client: Any) -> Any:
    """The client's `_request_raw` (private in `ollama`), or None where this version lacks it.

    Without it (or `EmbedRequest`), `send` falls back to the client's public `embed`: the
    same request, read slower.
    """
    try:
        from ollama._types import EmbedRequest  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the installed ollama
        return None
    return getattr(client, "_request_raw", None)


def _embed_body(model: RagloomOllamaEmbeddings, texts: list[str]) -> dict[str, Any]:
    """The `/api/embed` body the `ollama` client's `embed` sends, built the same way."""
    from ollama._types import EmbedRequest

    return EmbedRequest(model=model.model, input=texts,
                        **model._embed_kwargs()).model_dump(exclude_none=True)


def _vectors(model: RagloomOllamaEmbeddings, response: httpx.Response) -> list[list[float]]:
    """The vectors of an `/api/embed` answer.

    Read with orjson where it is installed: the stdlib parser and the `ollama` client's
    pydantic check of every float cost ~8 ms for 64 vectors of 384 (orjson: under 1 ms),
    time on the path of every embedding request.
    """
    try:
        vectors = _loads(response.content)["embeddings"]
    except (ValueError, KeyError, TypeError):
        vectors = None
    if not isinstance(vectors, list):
        url = ollama_url(model.base_url)
        raise ProviderUnavailable(
            f"{url} answered /api/embed with something that is not Ollama's answer"
            f" ({response.text[:80]!r}): is embeddings.base_url"
            " (RAGLOOM_EMBEDDINGS__BASE_URL) an Ollama server?", url=url)
    return vectors


class _SyncIO:
    """The operations of `RagloomOllamaEmbeddings._embedding`, blocking."""

    def __init__(self, model: RagloomOllamaEmbeddings) -> None:
        self.model = model

    def learn(self) -> None:
        model = self.model
        with model._facts_lock:  # one /api/show, however many threads start
            if model._facts is None:
                model._learned(model_facts(ollama_url(model.base_url), model.model,
                                           **model._show_kwargs()))

    def send(self, texts: list[str]) -> list[list[float]]:
        model = self.model
        assert model._client is not None  # built by OllamaEmbeddings' validator
        # The client's `embed`, less its slow answer parsing: same request, same errors.
        if (post := _raw_post(model._client)) is None:
            response = model._client.embed(model.model, texts, **model._embed_kwargs())
            return [list(v) for v in response["embeddings"]]
        return _vectors(model, post("POST", "/api/embed", json=_embed_body(model, texts)))


class _AsyncIO:
    """The operations of `RagloomOllamaEmbeddings._embedding`, awaited."""

    def __init__(self, model: RagloomOllamaEmbeddings) -> None:
        self.model = model

    async def learn(self) -> None:
        # One /api/show however many calls start at once; the others wait for its answer
        # without blocking the event loop (a threading lock: the model may serve many loops).
        model = self.model
        while not model._facts_lock.acquire(blocking=False):
            await asyncio.sleep(0.005)
        try:
            if model._facts is None:
                model._learned(await amodel_facts(ollama_url(model.base_url), model.model,
                                                  **model._show_kwargs()))
        finally:
            model._facts_lock.release()

    async def send(self, texts: list[str]) -> list[list[float]]:
        model = self.model
        assert model._async_client is not None
        if (post := _raw_post(model._async_client)) is None:
            response = await model._async_client.embed(model.model, texts,
                                                       **model._embed_kwargs())
            return [list(v) for v in response["embeddings"]]
        return _vectors(model, await post("POST", "/api/embed",
                                          json=_embed_body(model, texts)))
