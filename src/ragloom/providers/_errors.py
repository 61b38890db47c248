"""Turn HTTP-client exceptions into ragloom's errors, with the fix in the message.

Example:
    >>> import httpx
    >>> try:
    ...     raise_translated(httpx.ConnectError("refused"), provider="ollama", model="m",
    ...                      base_url="http://127.0.0.1:9", section="llm")
    ... except ProviderUnavailable as exc:
    ...     print(exc.url)
    http://127.0.0.1:9

"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import httpx

from ragloom.config import ollama_url
from ragloom.errors import (
    ConfigError,
    IngestError,
    ModelNotFound,
    ProviderTimeout,
    ProviderUnavailable,
    RagloomError,
)
from ragloom.providers._ollama_api import MIN_OLLAMA_VERSION, fetch_version
from ragloom.providers._servers import StreamInterrupted

__all__ = ["raise_translated", "translated", "translated_aiter", "translated_iter",
           "translating"]

C = TypeVar("C", bound=type)


_CLIENT_ERRORS = frozenset({"ResponseError", "NotFoundError", "APIConnectionError",
                            "APITimeoutError", "InternalServerError", "RateLimitError",
                            "BadRequestError", "APIStatusError"})


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _setting(section: str, key: str) -> str:
    return f"{section}.{key} (RAGLOOM_{section.upper()}__{key.upper()})"


def _interruption(exc: BaseException) -> StreamInterrupted | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, StreamInterrupted):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _too_old(url: str, provider: str) -> str:
    version = fetch_version(url.removesuffix("/v1")) if provider in ("ollama", "openai") \
        else None
    found = f"Ollama {version}" if version else "a server whose version is unknown"
    return (f"{url} has no route for this call (404 page not found): it runs {found}, older"
            f" than Ollama {MIN_OLLAMA_VERSION} that ragloom needs. Upgrade Ollama"
            " (https://ollama.com/download), or point base_url at a newer server")


def raise_translated(
    exc: BaseException, *, provider: str, model: str, base_url: str | None, section: str
) -> NoReturn:
    """Raise the ragloom error that explains `exc`, or `exc` itself if none fits.

    Example:
        >>> import httpx
        >>> try:
        ...     raise_translated(httpx.ReadTimeout("slow"), provider="ollama", model="m",
        ...                      base_url=None, section="llm")
        ... except ProviderTimeout as exc:
        ...     "RAGLOOM_LLM__TIMEOUT_S" in str(exc)
        True

    """
    url = ollama_url(base_url) if provider == "ollama" else (base_url or "the provider's API")
    status = getattr(exc, "status_code", None)
    text = str(getattr(exc, "error", None) or exc)
    body = getattr(getattr(exc, "response", None), "text", None)  # openai: "Error code: 404"
    if isinstance(body, str) and body.strip() and body.strip() not in text:
        text = f"{text}: {body.strip()[:300]}"
    lower = text.lower()
    cut = _interruption(exc)
    if cut is not None:
        when = (f"after {cut.received} token{'s' if cut.received != 1 else ''}"
                if cut.received else "before the first token")
        raise ProviderUnavailable(
            f"the answer of {provider} at {cut.url} (model {model!r}) was interrupted {when}:"
            " the connection closed in the middle of the stream (the server stopped, crashed"
            " or restarted, or a proxy cut it). Check the server's logs, then ask again",
            url=cut.url,
        ) from exc
    if "does not support chat" in lower or "does not support generate" in lower:
        raise ConfigError(
            f"model {model!r} at {url} cannot chat: it is an embedding model. Set"
            f" {_setting('llm', 'model')} to a chat model (e.g. llama3.2); {model!r} belongs"
            " in embeddings.model"
        ) from exc
    if "exceeds" in lower and "context length" in lower:
        raise IngestError(
            f"a text sent to {model!r} at {url} is longer than the model's context"
            f" ({text.strip()}): lower {_setting('ingest', 'chunk_size')}, or set"
            f" {_setting('embeddings', 'too_long')} to split"
        ) from exc
    if status == 404 and "page not found" in lower:
        raise ProviderUnavailable(_too_old(url, provider), url=url) from exc
    if status == 404 and "not found" in lower and "model" in lower:
        from ragloom.providers import missing_model_hint  # the provider's own hook

        fix = missing_model_hint(provider, model, section)
        raise ModelNotFound(
            f"model {model!r} is not available at {url}: {fix} (or set {section}.model)",
            model=model,
        ) from exc
    names = _class_names(exc)  # openai's exceptions, matched by name (no import needed)
    if isinstance(exc, httpx.TimeoutException | TimeoutError) or "APITimeoutError" in names:
        raise ProviderTimeout(
            f"{provider} at {url} did not answer model {model!r} in time; the time counts"
            " from when the request was sent (waiting for a turn in ragloom's queue for"
            " that server is not counted), so the request itself was slow: a cold model"
            " load, or a big batch on a slow machine. Raise"
            f" {_setting(section, 'timeout_s')}"
            + (f", or lower {_setting(section, 'batch_size')}" if section == "embeddings"
               else ""),
            url=url,
        ) from exc
    if status == 503 or "server busy" in lower:
        raise ProviderUnavailable(
            f"{provider} at {url} is busy ({text.strip()[:200]}) and stayed busy after"
            f" retrying: its queue (OLLAMA_MAX_QUEUE) is full. Lower"
            f" {_setting(section, 'max_concurrency')} in every process that uses it, add a"
            " server to base_url, or raise OLLAMA_MAX_QUEUE / OLLAMA_NUM_PARALLEL on the server",
            url=url,
        ) from exc
    if "process has terminated" in lower:
        raise ProviderUnavailable(
            f"the model runner of {provider} at {url} crashed while running {model!r}"
            f" ({text.strip()[:200]}); this is usually a lack of memory. Use a smaller"
            " model or quantization, lower llm.num_ctx, free memory on the server, and check"
            " its logs",
            url=url,
        ) from exc
    if isinstance(status, int) and (status == 429 or status >= 500):
        raise ProviderUnavailable(
            f"{provider} at {url} failed with status {status} for model {model!r}"
            f" ({text.strip()[:200]}) after retrying; the server is overloaded or broken:"
            f" check its logs, or raise {_setting(section, 'max_retries')}",
            url=url,
        ) from exc
    if isinstance(exc, httpx.TransportError | ConnectionError) or "APIConnectionError" in names:
        hint = "is `ollama serve` running? " if provider == "ollama" else ""
        raise ProviderUnavailable(
            f"cannot reach {provider} at {url}: {hint}set {_setting(section, 'base_url')}"
            f"{' or OLLAMA_HOST' if provider == 'ollama' else ''} if it runs elsewhere",
            url=url,
        ) from exc
    raise exc


@contextmanager
def translated(*, provider: str, model: str, base_url: str | None, section: str) -> Iterator[None]:
    """Context in which client exceptions become ragloom errors.

    Example:
        >>> with translated(provider="ollama", model="m", base_url=None, section="llm"):
        ...     pass

    """
    try:
        yield
    except RagloomError:
        raise  # explained already (ProviderUnavailable is a ConnectionError too)
    except (httpx.HTTPError, ConnectionError, TimeoutError) as exc:
        raise_translated(exc, provider=provider, model=model, base_url=base_url, section=section)
    except Exception as exc:
        if _class_names(exc) & _CLIENT_ERRORS:
            raise_translated(
                exc, provider=provider, model=model, base_url=base_url, section=section
            )
        raise


def translated_iter(
    chunks: Iterator[object], *, provider: str, model: str, base_url: str | None, section: str
) -> Iterator[object]:
    """Yield from `chunks`, translating errors raised while iterating."""
    with translated(provider=provider, model=model, base_url=base_url, section=section):
        yield from chunks


async def translated_aiter(
    chunks: AsyncIterator[object], *, provider: str, model: str, base_url: str | None,
    section: str,
) -> AsyncIterator[object]:
    """Async twin of `translated_iter`."""
    with translated(provider=provider, model=model, base_url=base_url, section=section):
        async for chunk in chunks:
            yield chunk


def translating(*names: str) -> Callable[[C], C]:
    """Class decorator: each named method the class inherits runs inside `translated`.

    One wrapper for LangChain's sync and async entry points alike (`_generate` and
    `_agenerate`, `_stream` and `_astream`, `embed_documents` and `aembed_documents`):
    the method's kind (function, coroutine, generator, async generator) picks how the
    context is held; the context comes from the instance's `_context()`.

    Example:
        >>> class Base:
        ...     def call(self): raise httpx.ConnectError("refused")
        >>> @translating("call")
        ... class Model(Base):
        ...     def _context(self):
        ...         return {"provider": "x", "model": "m", "base_url": "http://h",
        ...                 "section": "llm"}
        >>> try:
        ...     Model().call()
        ... except ProviderUnavailable as exc:
        ...     print(exc.url)
        http://h

    """
    def decorate(cls: C) -> C:
        for name in names:
            setattr(cls, name, _translating(getattr(cls, name)))
        return cls

    return decorate


def _translating(method: Callable[..., Any]) -> Callable[..., Any]:
    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(method):
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with translated(**self._context()):
                async for item in method(self, *args, **kwargs):
                    yield item
    elif inspect.iscoroutinefunction(method):
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with translated(**self._context()):
                return await method(self, *args, **kwargs)
    elif inspect.isgeneratorfunction(method):
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with translated(**self._context()):
                yield from method(self, *args, **kwargs)
    else:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with translated(**self._context()):
                return method(self, *args, **kwargs)
    return functools.wraps(method)(wrapper)
