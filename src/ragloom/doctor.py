"""`ragloom doctor`: check that the configured models and vector store are usable.

Each check is a `Check` with a status (`ok` ✓, `warn` !, `fail` ✗), what was found,
and for anything not ok the command or setting that fixes it. A report with any
`fail` is not ok (`ragloom doctor` then exits 1). Warnings do not fail it: an absent
collection is a warning, since the first `ragloom ingest` creates it.

Each configured provider checks its own server and models through its optional
`doctor_checks` hook (`ragloom.providers.ProviderHooks`): the built-in `ollama` and
`openai` providers implement it exactly as a plugin would; a provider without it is
reported as not checked. Then Qdrant: reachable (an embedded folder not locked by
another process), and the collection, when present, has the dense vector size the
embeddings produce and the configured distance. Last the file formats: the loaders
registered (built-in and plugins, by suffix), whether each optional extra is installed,
and OCR (Tesseract's version, or how to install it).

Example:
    >>> from ragloom import RagConfig
    >>> report = run_doctor(RagConfig(qdrant={"location": ":memory:"}))  # doctest: +SKIP
    >>> report.ok, [c.name for c in report.failures]  # doctest: +SKIP
    (True, [])

"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ragloom._checks import SYMBOLS, Check, Status
from ragloom._formats.checks import format_checks
from ragloom.config import RagConfig, load_config
from ragloom.errors import ConfigError, RagloomError
from ragloom.providers import ModelUse, configured_uses, get_provider
from ragloom.store import collection_status, mask_url

__all__ = ["SYMBOLS", "Check", "DoctorReport", "Status", "missing_models", "run_doctor"]


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


def _provider_checks(cfg: RagConfig, timeout_s: float) -> tuple[list[Check], int | None]:
    """Each configured provider's own checks; also the embedding size if one reports it."""
    checks: list[Check] = []
    embedding_size: int | None = None
    for name, uses in configured_uses(cfg).items():
        try:
            hook = getattr(get_provider(name), "doctor_checks", None)
        except ConfigError as exc:
            checks.append(Check(f"provider {name}", "fail", str(exc),
                                fix="install the plugin, or choose another provider"))
            continue
        if hook is None:
            checks.append(Check(f"provider {name}", "warn",
                                "the provider has no doctor checks: not checked"))
            continue
        found = hook(uses, timeout_s=timeout_s)
        checks += found.checks
        embedding_size = embedding_size or found.embedding_size
    return checks, embedding_size


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
    if status.tenants:
        shared = (status.points or 0) - sum(status.tenants.values())
        counts = ", ".join(f"{t}: {n}" for t, n in sorted(status.tenants.items()))
        checks.append(Check("tenants", "ok", f"{len(status.tenants)} tenants ({counts});"
                            f" {shared} chunks without a tenant (visible to every tenant)"))
    return checks


def missing_models(cfg: RagConfig | None = None, *,
                   timeout_s: float = 10.0) -> list[tuple[str, str]]:
    """The configured models their servers lack, as (model, where), e.g. the server URL.

    Asks each configured provider with a `missing_models` hook (Ollama's `/api/tags`).

    Raises:
        ProviderUnavailable: A model server cannot be reached.

    Example:
        >>> missing_models()  # doctest: +SKIP
        [('llama3.2', 'http://127.0.0.1:11434')]

    """
    return [(use.settings.model, where) for _, use, where in _missing(cfg, timeout_s)]


def _missing(cfg: RagConfig | None, timeout_s: float) -> list[tuple[Any, ModelUse, str]]:
    """(provider, use, where) for each configured model its server lacks."""
    cfg = cfg if cfg is not None else load_config()
    missing: list[tuple[Any, ModelUse, str]] = []
    for name, uses in configured_uses(cfg).items():
        provider = get_provider(name)
        hook = getattr(provider, "missing_models", None)
        if hook is not None:
            missing += [(provider, use, where) for use, where in hook(uses, timeout_s=timeout_s)]
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
    provider_checks, embed_dim = _provider_checks(cfg, timeout_s)
    report.checks += provider_checks
    report.checks += _check_qdrant(cfg, embed_dim)
    report.checks += format_checks(cfg)
    return report
