"""Turn HTTP-client exceptions into ragloom's errors, with the fix in the message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import NoReturn

import httpx

from ragloom.errors import ModelNotFound, ProviderTimeout, ProviderUnavailable


def _ollama_url(base_url: str | None) -> str:
    import os

    return base_url or os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434"


def raise_translated(
    exc: BaseException, *, provider: str, model: str, base_url: str | None, section: str
) -> NoReturn:
    """Raise the ragloom error that explains `exc`, or `exc` itself if none fits."""
    url = _ollama_url(base_url) if provider == "ollama" else (base_url or "the provider's API")
    status = getattr(exc, "status_code", None)
    text = str(getattr(exc, "error", None) or exc)
    if status == 404 or ("not found" in text.lower() and "model" in text.lower()):
        fix = f"run: ollama pull {model}" if provider == "ollama" else "check the model name"
        raise ModelNotFound(
            f"model {model!r} is not available at {url}: {fix} (or set {section}.model)",
            model=model,
        ) from exc
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        raise ProviderTimeout(
            f"{provider} at {url} did not answer in time for model {model!r}; a cold model"
            f" load can take tens of seconds: raise {section}.timeout_s",
            url=url,
        ) from exc
    if isinstance(exc, httpx.ConnectError | ConnectionError):
        hint = "is `ollama serve` running? " if provider == "ollama" else ""
        raise ProviderUnavailable(
            f"cannot reach {provider} at {url}: {hint}set {section}.base_url"
            f"{' or OLLAMA_HOST' if provider == 'ollama' else ''} if it runs elsewhere",
            url=url,
        ) from exc
    raise exc


@contextmanager
def translated(*, provider: str, model: str, base_url: str | None, section: str) -> Iterator[None]:
    """Context in which client exceptions become ragloom errors."""
    try:
        yield
    except (httpx.HTTPError, ConnectionError, TimeoutError) as exc:
        raise_translated(exc, provider=provider, model=model, base_url=base_url, section=section)
    except Exception as exc:
        if type(exc).__name__ in {"ResponseError", "NotFoundError"}:
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
