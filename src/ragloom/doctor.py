"""`ragloom doctor`: check that the configured models and vector store are usable.

Each check is a `Check` with a status (`ok` ✓, `warn` !, `fail` ✗), what was found,
and for anything not ok the command or setting that fixes it. A report with any
`fail` is not ok (`ragloom doctor` then exits 1). Warnings do not fail it: an absent
collection is a warning, since the first `ragloom ingest` creates it.

Checked, for the Ollama provider: the server answers `/api/version`; the chat and
embedding models are listed by `/api/tags`; `/api/show` says the chat model has the
`completion` capability and the embedding model `embedding`; the chat model's
trained context (`model_info["<arch>.context_length"]`) is at least `llm.num_ctx`.
For the OpenAI provider (or any OpenAI-compatible server): `GET <base_url>/models`
answers and lists the model. Then Qdrant: reachable (an embedded folder not locked by
another process), and the collection, when present, has the dense vector size the
embeddings produce and the configured distance.

Example:
    >>> from ragloom import RagConfig
    >>> report = run_doctor(RagConfig(qdrant={"location": ":memory:"}))  # doctest: +SKIP
    >>> report.ok, [c.name for c in report.failures]  # doctest: +SKIP
    (True, [])

"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx

from ragloom._redact import redact
from ragloom.config import EmbeddingsSettings, LLMSettings, RagConfig, load_config
from ragloom.errors import RagloomError
from ragloom.providers._errors import ollama_url
from ragloom.store import collection_status, mask_url

__all__ = ["Check", "DoctorReport", "missing_models", "run_doctor"]

Status = Literal["ok", "warn", "fail"]
SYMBOLS: dict[str, str] = {"ok": "✓", "warn": "!", "fail": "✗"}
"""How each status is shown on a terminal."""


@dataclass(frozen=True)
class Check:
    """One doctor check and its outcome.

    Example:
        >>> Check("chat model present", "fail", "nosuch not found",
        ...       fix="ragloom pull nosuch").symbol
        '✗'

    """

    name: str
    """What was checked, e.g. `chat model present`."""
    status: Status
    """`ok`, `warn` (works, but worth knowing) or `fail` (will not work)."""
    detail: str
    """What was found."""
    fix: str | None = None
    """The command or setting that fixes a `warn` or `fail`."""

    def __post_init__(self) -> None:
        # A URL with a password (OLLAMA_HOST=http://user:pw@host) is shown masked.
        for name in ("name", "detail", "fix"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, redact(value))

    @property
    def symbol(self) -> str:
        """✓, ! or ✗."""
        return SYMBOLS[self.status]


@dataclass
class DoctorReport:
    """Every check `run_doctor` made, in order.

    Example:
        >>> r = DoctorReport([Check("a", "ok", "fine"), Check("b", "warn", "hmm", "do x")])
        >>> r.ok, r.exit_code, r.to_dict()["ok"]
        (True, 0, True)

    """

    checks: list[Check] = field(default_factory=list)
    """The checks, in the order they ran."""

    @property
    def failures(self) -> list[Check]:
        """The checks with status `fail`."""
        return [c for c in self.checks if c.status == "fail"]

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings allowed)."""
        return not self.failures

    @property
    def exit_code(self) -> int:
        """0 when ok, 1 when any check failed."""
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`: `{"ok": bool, "checks": [{name, status, detail, fix}]}`."""
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}


def _headers(settings: LLMSettings | EmbeddingsSettings) -> dict[str, str]:
    return settings.header_values()


class _Ollama:
    """The few Ollama API calls the doctor needs, on one server."""

    def __init__(self, url: str, headers: dict[str, str], timeout_s: float) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, headers=headers, timeout=timeout_s)
        self._tags: list[str] | None = None

    def version(self) -> str:
        response = self.http.get("/api/version")
        response.raise_for_status()
        return str(response.json().get("version", "unknown"))

    def tags(self) -> list[str]:
        if self._tags is None:
            response = self.http.get("/api/tags")
            response.raise_for_status()
            self._tags = [m.get("name") or m.get("model", "") for m in response.json()["models"]]
        return self._tags

    def show(self, model: str) -> dict[str, Any]:
        response = self.http.post("/api/show", json={"model": model})
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


def _has_model(tags: list[str], model: str) -> bool:
    wanted = model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"
    return wanted in tags or model in tags


def _info_value(show: dict[str, Any], suffix: str) -> int | None:
    for key, value in (show.get("model_info") or {}).items():
        if key.endswith(suffix) and isinstance(value, int):
            return value
    return None


def _check_ollama(cfg: RagConfig, timeout_s: float) -> tuple[list[Check], int | None]:
    """Checks of the Ollama server(s); also the embedding size if `/api/show` tells it."""
    checks: list[Check] = []
    embed_dim: int | None = None
    servers: dict[str, _Ollama] = {}
    reachable: dict[str, bool] = {}
    roles: list[tuple[str, LLMSettings | EmbeddingsSettings]] = []
    if cfg.llm.provider == "ollama":
        roles.append(("chat", cfg.llm))
    if cfg.embeddings.provider == "ollama" and cfg.retrieval.mode != "sparse":
        roles.append(("embedding", cfg.embeddings))
    for role, settings in roles:
        section = "llm" if role == "chat" else "embeddings"
        url = ollama_url(settings.base_url)
        if url not in servers:
            server = servers[url] = _Ollama(url, _headers(settings), timeout_s)
            try:
                version = server.version()
            except httpx.HTTPError as exc:
                reachable[url] = False
                checks.append(Check(
                    f"ollama reachable at {url}", "fail", f"no answer: {type(exc).__name__}",
                    fix=f"start it (`ollama serve`), or set {section}.base_url / OLLAMA_HOST"
                        " to where it runs"))
                continue
            reachable[url] = True
            checks.append(Check(f"ollama reachable at {url}", "ok", f"Ollama {version}"))
        if not reachable[url]:
            continue
        server = servers[url]
        try:
            present = _has_model(server.tags(), settings.model)
        except httpx.HTTPError as exc:
            checks.append(Check(f"{role} model present", "fail", f"/api/tags failed: {exc}",
                                fix="check the Ollama server's logs"))
            continue
        if not present:
            checks.append(Check(
                f"{role} model present", "fail",
                f"{settings.model!r} is not pulled at {url}",
                fix=f"ragloom pull {settings.model}   (or: ollama pull {settings.model};"
                    f" or set {section}.model, or {section}.auto_pull: true)"))
            continue
        checks.append(Check(f"{role} model present", "ok", f"{settings.model} at {url}"))
        try:
            show = server.show(settings.model)
        except httpx.HTTPError as exc:
            checks.append(Check(f"{role} model capabilities", "fail",
                                f"/api/show failed: {exc}", fix="check the server's logs"))
            continue
        capabilities = show.get("capabilities")
        needed = "completion" if role == "chat" else "embedding"
        if capabilities is None:
            checks.append(Check(f"{role} model capabilities", "warn",
                                "the server does not report capabilities (Ollama < 0.6?)",
                                fix="upgrade Ollama to have this checked"))
        elif needed in capabilities:
            checks.append(Check(f"{role} model capabilities", "ok",
                                f"{settings.model}: {', '.join(capabilities)}"))
        else:
            checks.append(Check(
                f"{role} model capabilities", "fail",
                f"{settings.model} has {', '.join(capabilities) or 'no capabilities'},"
                f" not {needed!r}",
                fix=f"set {section}.model to a{'' if role == 'chat' else 'n'} {role} model"))
        if role == "embedding":
            embed_dim = _info_value(show, ".embedding_length")
            continue
        trained = _info_value(show, ".context_length")
        num_ctx = cfg.llm.num_ctx
        if num_ctx is None:
            checks.append(Check(
                "context length", "warn",
                "llm.num_ctx is unset: Ollama's default window is small and cuts prompts"
                " silently", fix="set llm.num_ctx (e.g. 8192)"))
        elif trained is None:
            checks.append(Check("context length", "warn",
                                f"{settings.model} does not report its context length",
                                fix="check the model card"))
        elif num_ctx > trained:
            checks.append(Check(
                "context length", "warn",
                f"llm.num_ctx={num_ctx} exceeds {settings.model}'s trained context {trained}",
                fix=f"set llm.num_ctx to at most {trained} (RAGLOOM_LLM__NUM_CTX={trained})"))
        else:
            checks.append(Check("context length", "ok",
                                f"llm.num_ctx={num_ctx} <= trained context {trained}"))
    for server in servers.values():
        server.http.close()
    return checks, embed_dim


def _check_openai(settings: LLMSettings | EmbeddingsSettings, role: str,
                  timeout_s: float) -> list[Check]:
    """`GET <base_url>/models` lists the model (the key is sent, never shown)."""
    import os

    section = "llm" if role == "chat" else "embeddings"
    base = (settings.base_url or "https://api.openai.com/v1").rstrip("/")
    key = (settings.api_key.get_secret_value() if settings.api_key
           else os.environ.get("OPENAI_API_KEY", "not-needed"))
    headers = {"Authorization": f"Bearer {key}", **settings.header_values()}
    try:
        response = httpx.get(f"{base}/models", headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return [Check(f"openai-compatible API reachable ({role})", "fail",
                      f"{base}: {type(exc).__name__}",
                      fix=f"check {section}.base_url and the network")]
    if response.status_code in (401, 403):
        return [Check(f"openai-compatible API reachable ({role})", "fail",
                      f"{base} refused the API key (status {response.status_code})",
                      fix=f"set OPENAI_API_KEY or {section}.api_key to a valid key")]
    if response.is_error:
        return [Check(f"openai-compatible API reachable ({role})", "fail",
                      f"{base}/models answered status {response.status_code}",
                      fix=f"check {section}.base_url")]
    ids = [m.get("id") for m in response.json().get("data", [])]
    checks = [Check(f"openai-compatible API reachable ({role})", "ok",
                    f"{base} lists {len(ids)} models")]
    if _has_model(ids, settings.model):  # Ollama's /v1 lists "name:latest"
        checks.append(Check(f"{role} model present", "ok", settings.model))
    else:
        checks.append(Check(f"{role} model present", "fail",
                            f"{settings.model!r} is not listed by {base}/models",
                            fix=f"set {section}.model to one of: {', '.join(ids[:8])}"))
    return checks


def _check_qdrant(cfg: RagConfig, embed_dim: int | None) -> list[Check]:
    q = cfg.qdrant
    try:
        status = collection_status(cfg, embed_dim)
    except RagloomError as exc:  # StoreLocked, ProviderUnavailable, an unreadable shard
        where = mask_url(q.url) if q.url else q.location
        return [Check("qdrant reachable", "fail", f"{where}: {type(exc).__name__}", fix=str(exc))]
    except Exception as exc:
        where = mask_url(q.url) if q.url else q.location
        return [Check("qdrant reachable", "fail", f"{where}: {type(exc).__name__}: {exc}",
                      fix="start the Qdrant server, or fix qdrant.url / qdrant.api_key")]
    checks = [Check("qdrant reachable", "ok", f"{status.where} ({status.engine} engine)")]
    if not status.exists:
        checks.append(Check(
            "collection", "warn", f"{q.collection!r} does not exist yet",
            fix="`ragloom ingest PATH...` creates it (or set qdrant.collection)"))
    elif status.problems:
        checks.append(Check(
            "collection", "fail", f"{q.collection!r} " + "; ".join(status.problems),
            fix="set qdrant.collection to a new name, or rebuild it with"
                " build_vector_store(cfg, recreate=True) (deletes its points)"))
    elif status.dim is None:
        checks.append(Check("collection", "ok", f"{q.collection!r} exists"))
    else:
        checks.append(Check("collection", "ok",
                            f"{q.collection!r}: {status.dim} dims, {status.distance}"))
    return checks


def missing_models(cfg: RagConfig | None = None, *,
                   timeout_s: float = 10.0) -> list[tuple[str, str]]:
    """The configured Ollama models that `/api/tags` does not list, as (model, server URL).

    Raises:
        ProviderUnavailable: An Ollama server cannot be reached.

    Example:
        >>> missing_models()  # doctest: +SKIP
        [('llama3.2', 'http://127.0.0.1:11434')]

    """
    from ragloom.errors import ProviderUnavailable

    cfg = cfg if cfg is not None else load_config()
    wanted: list[tuple[str, LLMSettings | EmbeddingsSettings]] = []
    if cfg.llm.provider == "ollama":
        wanted.append(("llm", cfg.llm))
    if cfg.embeddings.provider == "ollama" and cfg.retrieval.mode != "sparse":
        wanted.append(("embeddings", cfg.embeddings))
    missing: list[tuple[str, str]] = []
    for section, settings in wanted:
        url = ollama_url(settings.base_url)
        server = _Ollama(url, _headers(settings), timeout_s)
        try:
            tags = server.tags()
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"cannot reach ollama at {url}: is `ollama serve` running? set"
                f" {section}.base_url or OLLAMA_HOST if it runs elsewhere", url=url) from exc
        finally:
            server.http.close()
        if not _has_model(tags, settings.model) and (settings.model, url) not in missing:
            missing.append((settings.model, url))
    return missing


def run_doctor(cfg: RagConfig | None = None, *, timeout_s: float = 10.0) -> DoctorReport:
    """Run every check for `cfg` (default `load_config()`); never raises for a failed check.

    Args:
        cfg: The configuration to check.
        timeout_s: Per-request timeout for the model servers.

    Returns:
        A `DoctorReport`; `report.ok` is False if any check failed.

    Example:
        >>> report = run_doctor()  # doctest: +SKIP
        >>> for check in report.checks:  # doctest: +SKIP
        ...     print(check.symbol, check.name, check.detail)

    """
    cfg = cfg if cfg is not None else load_config()
    report = DoctorReport()
    ollama_checks, embed_dim = _check_ollama(cfg, timeout_s)
    report.checks += ollama_checks
    if cfg.llm.provider == "openai":
        report.checks += _check_openai(cfg.llm, "chat", timeout_s)
    if cfg.embeddings.provider == "openai" and cfg.retrieval.mode != "sparse":
        report.checks += _check_openai(cfg.embeddings, "embedding", timeout_s)
    for provider in {cfg.llm.provider, cfg.embeddings.provider} - {"ollama", "openai"}:
        report.checks.append(Check(f"provider {provider}", "warn",
                                   "a plugin provider: not checked by the doctor"))
    report.checks += _check_qdrant(cfg, embed_dim)
    return report
