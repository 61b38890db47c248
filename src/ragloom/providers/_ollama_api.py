"""What ragloom asks an Ollama server about itself: its version, and a model's facts.

`/api/version` names the release (ragloom needs `MIN_OLLAMA_VERSION`: `/api/embed` and
`/v1/embeddings` appeared in 0.2.6). `/api/show` tells a model's capabilities and trained
context length; each model object caches the answer.

Example:
    >>> version_tuple("0.13.5-rc1") < version_tuple(MIN_OLLAMA_VERSION)
    False

"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx

from ragloom.providers._tls import default_context

__all__ = ["MIN_OLLAMA_VERSION", "ModelFacts", "amodel_facts", "check_ollama_version",
           "fetch_version", "model_facts", "version_tuple"]

MIN_OLLAMA_VERSION = "0.2.6"
"""The oldest Ollama ragloom works with: the first with `/api/embed` and `/v1/embeddings`."""

_TIMEOUT_S = 10.0


def version_tuple(version: str) -> tuple[int, ...]:
    """'0.13.5' → (0, 13, 5); a suffix such as '-rc1' is ignored.

    Example:
        >>> version_tuple("0.2.6")
        (0, 2, 6)

    """
    parts = []
    for piece in version.split("-", 1)[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_ollama_version(version: str | None) -> tuple[Literal["ok", "warn", "fail"], str,
                                                       str | None]:
    """Judge a server's `/api/version`: (status, what was found, the fix or None).

    Example:
        >>> check_ollama_version("0.1.30")[0], check_ollama_version("0.33.0")[0]
        ('fail', 'ok')

    """
    if not version or not version[0].isdigit():
        return ("warn", f"the server reports no usable version ({version!r})",
                f"make sure it is Ollama {MIN_OLLAMA_VERSION} or newer")
    if version_tuple(version) < version_tuple(MIN_OLLAMA_VERSION):
        return ("fail", f"Ollama {version} is older than {MIN_OLLAMA_VERSION}, the oldest"
                        " ragloom works with (no /api/embed)",
                "upgrade Ollama: https://ollama.com/download")
    return "ok", f"Ollama {version} (ragloom needs {MIN_OLLAMA_VERSION} or newer)", None


def fetch_version(url: str, headers: dict[str, str] | None = None,
                  timeout_s: float = 2.0) -> str | None:
    """The server's version from `/api/version`, or None if it does not say."""
    try:
        response = httpx.get(f"{url}/api/version", headers=headers, timeout=timeout_s,
                             verify=default_context())
        response.raise_for_status()
        version = response.json().get("version")
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return str(version) if version else None


@dataclass(frozen=True)
class ModelFacts:
    """What `/api/show` says about a model."""

    capabilities: tuple[str, ...] | None
    """E.g. ('completion', 'tools') or ('embedding',); None from servers before 0.6."""
    context_length: int | None
    """The trained context, in tokens (`model_info["<arch>.context_length"]`)."""

    @classmethod
    def from_show(cls, show: dict[str, Any]) -> ModelFacts:
        """Read the facts out of an `/api/show` answer."""
        context = None
        for key, value in (show.get("model_info") or {}).items():
            if key.endswith(".context_length") and isinstance(value, int):
                context = value
        caps = show.get("capabilities")
        return cls(tuple(caps) if isinstance(caps, list) else None, context)

    @property
    def is_chat_only(self) -> bool:
        """The server says the model completes text but does not embed."""
        return self.capabilities is not None and "embedding" not in self.capabilities \
            and "completion" in self.capabilities


def _parse(response: httpx.Response) -> ModelFacts | None:
    if response.status_code != 200:
        return None  # a missing model is reported by the call itself, with its fix
    try:
        return ModelFacts.from_show(response.json())
    except ValueError:
        return None


def model_facts(url: str, model: str, headers: dict[str, str] | None = None,
                timeout_s: float = _TIMEOUT_S) -> ModelFacts | None:
    """The facts of `model` at `url`; None when the server cannot tell.

    Callers cache the answer per model object: a process-wide cache would make the
    requests a test sends depend on the tests before it.
    """
    try:
        response = httpx.post(f"{url}/api/show", json={"model": model}, headers=headers,
                              timeout=timeout_s, verify=default_context())
    except httpx.HTTPError:
        return None
    return _parse(response)


async def amodel_facts(url: str, model: str, headers: dict[str, str] | None = None,
                       timeout_s: float = _TIMEOUT_S) -> ModelFacts | None:
    """Async twin of `model_facts`."""
    try:
        async with httpx.AsyncClient(headers=headers, timeout=timeout_s,
                                     verify=default_context()) as client:
            response = await client.post(f"{url}/api/show", json={"model": model})
    except httpx.HTTPError:
        return None
    return _parse(response)
