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

from ragloom.config import RagConfig, RouteModel, load_config
from ragloom.errors import ConfigError, ProviderUnavailable
from ragloom.guards import RedactSecrets, leaves_the_machine
from ragloom.providers import build_chat_model

__all__ = ["Route", "Router", "build_router", "redaction_findings"]


def redaction_findings(texts: Sequence[str], phone_region: str | None = None) -> dict[str, int]:
    """What redaction would mask in `texts`, counted by kind (empty: nothing found).

    The one place routing asks the redaction rules (today `guards.RedactSecrets`).

    Example:
        >>> redaction_findings(["mail bob@example.com"])
        {'EMAIL': 1}

    """
    vault: dict[str, str] = {}
    guard = RedactSecrets(phone_region=phone_region)
    for text in texts:
        guard.redact(text, vault)
    counts: dict[str, int] = {}
    for key in vault:
        kind = key[1:].rsplit("_", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
    return counts


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
        self.models = models
        self.local = {m.name: _is_local(cfg, m) for m in self.settings.models}
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


def _is_local(cfg: RagConfig, model: RouteModel) -> bool:
    if model.local is not None:
        return model.local
    return not leaves_the_machine(cfg.model_copy(update={"llm": model}))


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
