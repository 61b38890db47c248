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

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import NoReturn

import httpx

from ragloom.config import ollama_url
from ragloom.errors import ModelNotFound, ProviderTimeout, ProviderUnavailable

__all__ = ["raise_translated", "translated", "translated_aiter",
           "translated_iter"]


_CLIENT_ERRORS = frozenset({"ResponseError", "NotFoundError", "APIConnectionError",
                            "APITimeoutError", "InternalServerError", "RateLimitError"})


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _setting(section: str, key: str) -> str:
    return f"{section}.{key} (RAGLOOM_{section.upper()}__{key.upper()})"


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
    if status == 404 or ("not found" in text.lower() and "model" in text.lower()):
        from ragloom.providers import missing_model_hint  # the provider's own hook

        fix = missing_model_hint(provider, model, section)
        raise ModelNotFound(
            f"model {model!r} is not available at {url}: {fix} (or set {section}.model)",
            model=model,
        ) from exc
    names = _class_names(exc)  # openai's exceptions, matched by name (no import needed)
    if isinstance(exc, httpx.TimeoutException | TimeoutError) or "APITimeoutError" in names:
        raise ProviderTimeout(
            f"{provider} at {url} did not answer in time for model {model!r}; a cold model"
            f" load can take tens of seconds: raise {_setting(section, 'timeout_s')}",
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
