"""Test apps built on ragloom offline, with vcrpy cassettes (pytest-recording).

Registered as a pytest plugin (entry point ``pytest11``) but inert unless used:
importing it needs neither vcrpy nor pytest-recording, nothing is autouse, and the
only global effect is registering a ``json_body`` request matcher with
pytest-recording's VCR when that plugin is installed. To record once against Ollama
and replay forever::

    # conftest.py
    import pytest
    import ragloom.testing

    @pytest.fixture(scope="module")
    def vcr_config():
        return ragloom.testing.vcr_config()

    # test_app.py
    @pytest.mark.vcr
    def test_answer(ingest_folder, rag_chain):
        ingest_folder("tests/docs")
        assert rag_chain.invoke("What is ragloom?")["answer"]

Record with ``pytest --record-mode=once`` (a new cassette) or ``--record-mode=rewrite``
(replace it) while Ollama runs; replay with plain ``pytest`` (pytest-recording's
default mode is ``none``): an unrecorded request then fails the test, and the report
names the request, the cassette and the command that records it.

What is recorded: the model servers' HTTP (Ollama's ``/api/*``, OpenAI's ``/v1/*``).
Embedded Qdrant (a folder or ``:memory:``) makes no HTTP, so there is nothing to
record. Requests to a Qdrant *server* (recognised by the qdrant-client's
``User-Agent`` or the ports 6333/6334) are neither recorded nor replayed by default:
they pass through to the server, which is a database whose state a cassette cannot
stand in for; tests that replay offline should use the in-memory ``rag_config``.
``vcr_config(record_qdrant=True)`` records them too (ragloom's Qdrant requests are
deterministic, see ``ragloom.store``).

Example:
    >>> cfg = vcr_config()
    >>> cfg["match_on"]
    ('method', 'path', 'query', 'json_body')
    >>> "authorization" in cfg["filter_headers"]
    True

"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable

    from ragloom.config import RagConfig
    from ragloom.ingestion import IngestReport

__all__ = [
    "FILTERED_HEADERS",
    "FILTERED_QUERY_PARAMETERS",
    "QDRANT_PORTS",
    "QDRANT_USER_AGENT_PREFIX",
    "IngestFolder",
    "collection_for",
    "is_qdrant_request",
    "json_body_matcher",
    "vcr_config",
]

FILTERED_HEADERS = (
    "authorization", "api-key", "x-api-key", "openai-organization", "openai-project",
    "cookie", "set-cookie", "proxy-authorization",
)
"""Request and response headers never written to a cassette (compared case-insensitively)."""
FILTERED_QUERY_PARAMETERS = ("api_key", "api-key", "apikey", "key", "token", "access_token",
                             "password", "passwd", "secret", "client_secret")
"""Query parameters never written to a cassette."""
QDRANT_PORTS = (6333, 6334)
"""Ports of a Qdrant server (REST, gRPC); requests to them count as Qdrant traffic."""
QDRANT_USER_AGENT_PREFIX = "python-client/"
"""How qdrant-client's `User-Agent` starts (`python-client/<version> python/<version>`)."""


def _json(body: bytes | str | None) -> Any:
    if body is None or body == b"" or body == "":
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body


def json_body_matcher(r1: Any, r2: Any) -> None:
    """Vcrpy matcher: bodies equal as JSON (key order and spacing ignored), else as bytes.

    Raises:
        AssertionError: The bodies differ.

    Example:
        >>> from vcr.request import Request
        >>> a = Request("POST", "http://h/api/embed", b'{"a": 1, "b": 2}', {})
        >>> b = Request("POST", "http://other:1/api/embed", b'{"b":2,"a":1}', {})
        >>> json_body_matcher(a, b)

    """
    left, right = _json(r1.body), _json(r2.body)
    assert left == right, f"request bodies differ: {left!r} != {right!r}"


def is_qdrant_request(request: Any) -> bool:
    """Whether a vcrpy request goes to a Qdrant server (by port or qdrant-client's agent).

    Example:
        >>> from vcr.request import Request
        >>> is_qdrant_request(Request("GET", "http://db:6333/collections", None, {}))
        True
        >>> agent = {"User-Agent": "python-client/1.12.0 python/3.11.9"}
        >>> is_qdrant_request(Request("GET", "https://q.example.com/collections", None, agent))
        True
        >>> is_qdrant_request(Request("POST", "http://127.0.0.1:11434/api/chat", b"{}", {}))
        False

    """
    if urlsplit(request.uri).port in QDRANT_PORTS:
        return True
    agent = ""
    for name, value in dict(request.headers).items():
        if name.lower() == "user-agent":
            agent = value if isinstance(value, str) else str(value)
    return agent.startswith(QDRANT_USER_AGENT_PREFIX)


def _leave_qdrant_alone(request: Any) -> Any:
    return None if is_qdrant_request(request) else request


_SECRET_QUERY_NAME = re.compile(r"key|token|secret|passw|pwd|auth|signature|credential", re.I)


def _scrub_uri(request: Any) -> Any:
    """The request with a URL password (any user part) and secret-named query values masked.

    `filter_query_parameters` only drops the exact names it lists; this also catches
    `?apiKey=`, `?db_password=` and the `user:password@` of the URL, before recording
    and before matching alike.
    """
    parts = urlsplit(request.uri)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if "@" not in parts.netloc and not any(_SECRET_QUERY_NAME.search(name) for name, _ in pairs):
        return request
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode([(name, "****" if _SECRET_QUERY_NAME.search(name) else value)
                       for name, value in pairs])
    request.uri = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return request


def _secret_response_header_filter(
    names: frozenset[str],
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def drop(response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers", {})
        for name in list(headers):
            if name.lower() in names:
                del headers[name]
        return response

    return drop


def vcr_config(
    *,
    secret_headers: Iterable[str] = (),
    record_qdrant: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """The vcrpy settings ragloom apps should record and replay with.

    Secrets are filtered from request and response headers and from query strings;
    requests match on method, path, query and JSON body, not on scheme, host or port,
    so a cassette recorded against one Ollama replays against another. Qdrant server
    traffic passes through unrecorded unless `record_qdrant` (embedded Qdrant makes
    no HTTP at all).

    Args:
        secret_headers: More header names to keep out of cassettes, e.g. the names in
            your `llm.headers` (`Authorization` is filtered already).
        record_qdrant: Record and replay Qdrant server requests like the rest.
        **overrides: Any vcrpy `use_cassette` keyword, replacing the default.

    Returns:
        A dict for pytest-recording's `vcr_config` fixture (or `vcr.VCR(**...)`).

    Example:
        >>> cfg = vcr_config(secret_headers=["X-Proxy-Token"], record_mode="once")
        >>> "x-proxy-token" in cfg["filter_headers"], cfg["record_mode"]
        (True, 'once')

    """
    headers = list(dict.fromkeys([*FILTERED_HEADERS, *(h.lower() for h in secret_headers)]))
    config: dict[str, Any] = {
        "match_on": ("method", "path", "query", "json_body"),
        "filter_headers": headers,
        "filter_query_parameters": list(FILTERED_QUERY_PARAMETERS),
        "before_record_response": _secret_response_header_filter(frozenset(headers)),
        "decode_compressed_response": True,
    }
    config["before_record_request"] = (
        [_scrub_uri] if record_qdrant else [_scrub_uri, _leave_qdrant_alone])
    config.update(overrides)
    return config


# --- pytest plugin -------------------------------------------------------------------

@pytest.hookimpl(optionalhook=True)
def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """Register the `json_body` matcher with pytest-recording's VCR (when installed)."""
    vcr.register_matcher("json_body", json_body_matcher)


def _body_preview(body: Any, limit: int = 300) -> str:
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    return text if len(text) <= limit else text[:limit] + "..."


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Explain a missing recording: which request, which cassette, how to record it."""
    report = yield
    excinfo = call.excinfo
    if excinfo is None or not report.failed:
        return report
    exc: BaseException | None = excinfo.value
    seen: set[int] = set()
    while exc is not None and type(exc).__name__ != "CannotOverwriteExistingCassetteException":
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
        if exc is not None and id(exc) in seen:
            exc = None
    if exc is None:
        return report
    cassette = getattr(getattr(exc, "cassette", None), "_path", "the test's cassette")
    request = getattr(exc, "failed_request", None)
    if request is not None:
        asked = f"{request.method} {urlsplit(request.uri).path}"
        body = _body_preview(getattr(request, "body", None))
        if body:
            asked += f" with body {body}"
    else:
        asked = "a request"
    report.sections.append((
        "ragloom: no recording",
        f"{asked}\nhas no recording in {cassette}.\n"
        "If the test or a library version changed the request, re-record the cassette "
        "against a running Ollama (OLLAMA_HOST) or OpenAI:\n"
        f"    pytest {item.nodeid} --record-mode=rewrite\n"
        "(--record-mode=new_episodes keeps the old recordings and adds the missing one; "
        "--record-mode=once records only cassettes that do not exist yet).",
    ))
    return report


@pytest.fixture(scope="module")
def ragloom_vcr_config() -> dict[str, Any]:
    """`vcr_config()` as a fixture: return it from your own `vcr_config` fixture.

    Example (conftest.py):
        ``@pytest.fixture(scope="module")``
        ``def vcr_config(ragloom_vcr_config): return ragloom_vcr_config``
    """
    return vcr_config()


def collection_for(nodeid: str) -> str:
    """The collection name `rag_config` uses for a test: stable across runs and machines.

    Example:
        >>> name = collection_for("tests/test_app.py::test_a")
        >>> name == collection_for("tests/test_app.py::test_a"), name.startswith("test_")
        (True, True)

    """
    return "test_" + uuid.uuid5(uuid.NAMESPACE_URL, nodeid).hex[:16]


@pytest.fixture
def rag_config(request: pytest.FixtureRequest) -> Generator[RagConfig, None, None]:
    """A `RagConfig` over in-memory Qdrant with a collection unique to the test.

    Models and model servers come from the usual sources (ragloom.yaml, `RAGLOOM_*`);
    a `qdrant.url` from them is ignored, so the test never reaches a Qdrant server.
    The collection name derives from the test id (stable from run to run) and the
    collection is dropped after the test.

    Example (in a test):
        ``def test_k(rag_config): assert rag_config.qdrant.location == ":memory:"``
    """
    from ragloom.config import RagConfig
    from ragloom.store import get_client

    name = collection_for(request.node.nodeid)
    cfg = RagConfig(qdrant={"location": ":memory:", "url": None, "api_key": None,
                            "collection": name})
    yield cfg
    client = get_client(cfg)
    if client.collection_exists(name):
        client.delete_collection(name)


@pytest.fixture
def rag_chain(rag_config: RagConfig) -> Runnable[Any, dict[str, Any]]:
    """`build_rag_chain(rag_config)`: the whole chain, for end-to-end app tests.

    Example (in a test):
        ``def test_q(rag_chain): assert rag_chain.invoke("Q?")["answer"]``
    """
    from ragloom.chains import build_rag_chain

    return build_rag_chain(rag_config)


class IngestFolder(Protocol):
    """The `ingest_folder` fixture's function."""

    def __call__(
        self, *paths: str | os.PathLike[str], relative_to: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> IngestReport:
        """Ingest `paths` into the test's collection; return the `IngestReport`."""
        ...


def _common_parent(paths: list[Path]) -> Path:
    parents = [p.parent for p in paths]
    return Path(os.path.commonpath([str(p) for p in parents])) if parents else Path.cwd()


@pytest.fixture
def ingest_folder(rag_config: RagConfig) -> IngestFolder:
    """A function that ingests files or folders into the test's collection.

    Each chunk's `source` is stored relative to `relative_to`, by default the common
    parent of the paths given (`docs/a.md` for `ingest_folder("tests/data/docs")`),
    so the sources quoted in prompts, and hence the recorded request bodies, do not
    depend on where the checkout lives or on the current directory.

    Example (in a test):
        ``report = ingest_folder("tests/data/docs"); assert report.ok``
    """
    from ragloom.ingestion import ingest

    def _ingest(
        *paths: str | os.PathLike[str], relative_to: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> IngestReport:
        absolute = [Path(p).resolve() for p in paths]
        base = Path(relative_to).resolve() if relative_to is not None else _common_parent(absolute)
        cfg = rag_config.model_copy(deep=True)
        cfg.ingest.root = str(base)  # sources are named relative to `ingest.root`
        return ingest(absolute, cfg, **kwargs)

    return _ingest
