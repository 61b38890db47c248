"""Routing by policy: which chat model may read this question's context.

`routing.models` lists chat models (each an `llm` section with a `name`); per
question the router picks the allowed ones, in order:

- the context holds a chunk classified `confidential`, or (with `on_redaction`) one
  in which redaction finds a secret or personal data → only local models (their
  server is on this machine), or a refusal when `sensitive: refuse` or none is local;
- otherwise the `default` model first, then the others.

The first allowed model answers; one whose server is down (`ProviderUnavailable`)
falls back to the next allowed one (LangChain's `with_fallbacks`). The chain's
output says which model answered and why: `checks["model"]`, `checks["route_reason"]`.
A model that is not allowed is never called, so confidential text never reaches it.

Every model the router may pick is wrapped in `ragloom.redaction.RedactingChatModel`,
as the chain wraps its own model, so what an allowed remote model gets is masked too.
Whether a model is local is read the way redaction reads it, from the servers of the
model itself (`ragloom.redaction.destinations`: all loopback); `local: true`/`false`
overrides that for routing, and `local: false` also turns masking on for it. The
findings are those of redaction's detectors (`ragloom._detectors`).

Example:
    >>> from langchain_core.documents import Document
    >>> cfg = RagConfig(routing={"models": [
    ...     {"name": "hosted", "provider": "openai", "model": "gpt-4o-mini", "api_key": "sk-x"},
    ...     {"name": "local", "provider": "ollama", "model": "llama3.2"}]})
    >>> router = build_router(cfg)
    >>> route = router.route([Document("pay", metadata={"classification": "confidential"})])
    >>> route.models, route.reason
    (['local'], 'confidential context (source: ?): local models only')

"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableLambda

from ragloom._detectors import KINDS, find_secrets
from ragloom.config import RagConfig, RouteModel, load_config
from ragloom.errors import ConfigError, ProviderUnavailable
from ragloom.providers import build_chat_model
from ragloom.redaction import RedactingChatModel, destinations, is_local, redacting

__all__ = ["Route", "Router", "build_router", "redaction_findings"]


def redaction_findings(texts: Sequence[str], phone_region: str | None = None) -> dict[str, int]:
    """What redaction would mask in `texts`, counted by kind (empty: nothing found).

    The same detectors redaction masks with (`ragloom._detectors.find_secrets`); each
    distinct value counts once, as it would get one placeholder.

    Example:
        >>> redaction_findings(["mail bob@example.com", "DB_PASSWORD=hunter2, bob@example.com"])
        {'SECRET': 1, 'EMAIL': 1}

    """
    found: dict[str, set[str]] = {}
    for text in texts:
        for start, end, kind in find_secrets(text, phone_region):
            found.setdefault(kind, set()).add(text[start:end])
    return {kind: len(found[kind]) for kind in KINDS if kind in found}


@dataclass(frozen=True)
class Route:
    """The models allowed for one question, in the order they are tried, and why."""

    models: list[str]
    """Names of the allowed models, first tried first; empty: the chain refuses."""
    reason: str
    """Why: `default`, or what made the context sensitive."""

    @property
    def refused(self) -> bool:
        """No model may read the context."""
        return not self.models


class Router:
    """Picks the allowed chat models per question; builds the fallback chain.

    Example:
        >>> router = build_router(RagConfig(routing={"models": [{"name": "a"}]}))
        >>> router.route([]).models
        ['a']

    """

    def __init__(self, cfg: RagConfig, models: dict[str, BaseChatModel]) -> None:
        self.settings = cfg.routing
        self.phone_region = cfg.guards.phone_region
        self.local = {m.name: _is_local(m, models[m.name]) for m in self.settings.models}
        # Wrapped as the chain wraps its model; one declared remote is always masked.
        self.models: dict[str, BaseChatModel] = {
            m.name: redacting(models[m.name], "on" if m.local is False and
                              cfg.guards.redact == "auto" else cfg.guards.redact,
                              cfg.guards.phone_region)
            for m in self.settings.models}
        names = [m.name for m in self.settings.models]
        default = self.settings.default or names[0]
        self.order = [default, *(n for n in names if n != default)]

    @property
    def first_local(self) -> str | None:
        """The first local model in fallback order (for the question-only steps)."""
        return next((n for n in self.order if self.local[n]), None)

    def route(self, documents: Sequence[Document], texts: Sequence[str] | None = None) -> Route:
        """The route for a context of `documents` (`texts`: their unmasked text)."""
        confidential = [str(d.metadata.get("source", "?")) for d in documents
                        if d.metadata.get("classification") == "confidential"]
        reason = None
        if confidential:
            reason = f"confidential context (source: {', '.join(sorted(set(confidential)))})"
        elif self.settings.on_redaction:
            found = redaction_findings(
                list(texts) if texts is not None else [d.page_content for d in documents],
                self.phone_region)
            if found:
                kinds = ", ".join(f"{k} {n}" for k, n in sorted(found.items()))
                reason = f"redaction found {kinds} in the context"
        if reason is None:
            return Route(list(self.order), "default")
        local = [n for n in self.order if self.local[n]]
        if self.settings.sensitive == "refuse" or not local:
            why = "routing.sensitive is refuse" if local else "no local model is configured"
            return Route([], f"{reason}: refused ({why})")
        return Route(local, f"{reason}: local models only")

    def runnable(self, route: Route, checks: dict[str, Any]) -> Runnable[Any, Any]:
        """The allowed models as one Runnable: the first, falling back to the next ones.

        Each sets `checks["model"]` when it is tried, so it names the one that answered.
        """
        if route.refused:
            raise ConfigError("a refused route has no model")

        def tried(name: str) -> Runnable[Any, Any]:
            def mark(value: Any) -> Any:
                checks["model"] = name
                return value

            return RunnableLambda(mark, name=f"route:{name}") | self.models[name]

        first, *rest = (tried(n) for n in route.models)
        if not rest:
            return first
        return first.with_fallbacks(rest, exceptions_to_handle=(ProviderUnavailable,
                                                                ConnectionError))


def _is_local(settings: RouteModel, model: BaseChatModel) -> bool:
    """`local` when set, else whether every server of `model` is loopback (unknown: no)."""
    if settings.local is not None:
        return settings.local
    inner = model.inner if isinstance(model, RedactingChatModel) else model
    urls = destinations(inner)
    return urls is not None and all(is_local(url) for url in urls)


def build_router(cfg: RagConfig | None = None,
                 models: dict[str, BaseChatModel] | None = None) -> Router:
    """The router of `cfg.routing`, its chat models built from their sections.

    Args:
        cfg: Configuration; default `load_config()`.
        models: Ready chat models by name, instead of building them (tests, your own).

    Raises:
        ConfigError: `routing.models` is empty, or a given model is not named there.

    Example:
        >>> build_router(RagConfig(routing={"models": [{"name": "a"}]})).order
        ['a']

    """
    cfg = cfg if cfg is not None else load_config()
    names = [m.name for m in cfg.routing.models]
    if not names:
        raise ConfigError("routing.models is empty: list the chat models to route between,"
                          " e.g. routing: {models: [{name: local, provider: ollama, model:"
                          " llama3.2}, {name: hosted, provider: openai, model: gpt-4o-mini}]}")
    given = dict(models or {})
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ConfigError(f"models {unknown} are not in routing.models ({', '.join(names)})")
    built = {m.name: given.get(m.name) or build_chat_model(cfg.model_copy(update={"llm": m}))
             for m in cfg.routing.models}
    return Router(cfg, built)
