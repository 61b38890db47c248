"""Test apps built on ragloom offline, with vcrpy cassettes (pytest-recording).

Registered as a pytest plugin (entry point ``pytest11``) but inert unless used: it
registers a ``json_body`` request matcher and offers fixtures; nothing changes for a
test that does not ask for them. To record once against Ollama and replay forever::

    # conftest.py
    import pytest

    @pytest.fixture(scope="module")
    def vcr_config(ragloom_vcr_config):
        return ragloom_vcr_config

    # test_app.py
    @pytest.mark.vcr
    def test_answer(rag_chain):
        assert rag_chain.invoke("What is ragloom?")["answer"]

Record with ``pytest --record-mode=once`` while Ollama runs; replay with plain
``pytest`` (``--record-mode=none``, the default): an unrecorded request then fails the
test, naming the request, the cassette and this command.

Example:
    >>> cfg = vcr_config()
    >>> cfg["match_on"]
    ('method', 'path', 'query', 'json_body')

"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from ragloom.config import RagConfig

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable

__all__ = [
    "FILTERED_HEADERS",
    "FILTERED_QUERY_PARAMETERS",
    "QDRANT_PORTS",
    "json_body_matcher",
    "vcr_config",
]

FILTERED_HEADERS = (
    "authorization", "api-key", "x-api-key", "openai-organization", "openai-project",
    "cookie", "set-cookie", "proxy-authorization",
)
"""Request headers never written to a cassette."""
FILTERED_QUERY_PARAMETERS = ("api_key", "api-key", "key", "token", "access_token")
"""Query parameters never written to a cassette."""
QDRANT_PORTS = (6333, 6334)
"""Requests to these ports (a Qdrant server) are neither recorded nor replayed."""


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


def _leave_qdrant_alone(request: Any) -> Any:
    port = urlsplit(request.uri).port
    return None if port in QDRANT_PORTS else request


def _drop_secret_response_headers(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in FILTERED_HEADERS:
            del headers[name]
    return response


def vcr_config(**overrides: Any) -> dict[str, Any]:
    """The vcrpy settings ragloom apps should record and replay with.

    Secrets are filtered from headers and query strings; requests match on method,
    path, query and JSON body, not on scheme, host or port, so a cassette recorded
    against one Ollama replays against another; Qdrant server traffic is left alone.

    Args:
        **overrides: Any vcrpy `use_cassette` keyword, replacing the default.

    Returns:
        A dict for pytest-recording's `vcr_config` fixture.

    Example:
        >>> "authorization" in vcr_config()["filter_headers"]
        True

    """
    config: dict[str, Any] = {
        "match_on": ("method", "path", "query", "json_body"),
        "filter_headers": list(FILTERED_HEADERS),
        "filter_query_parameters": list(FILTERED_QUERY_PARAMETERS),
        "before_record_request": _leave_qdrant_alone,
        "before_record_response": _drop_secret_response_headers,
        "decode_compressed_response": True,
    }
    config.update(overrides)
    return config


# --- pytest plugin -------------------------------------------------------------------

def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """Register the `json_body` matcher with pytest-recording's VCR."""
    vcr.register_matcher("json_body", json_body_matcher)


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
    while exc is not None and type(exc).__name__ != "CannotOverwriteExistingCassetteException":
        exc = exc.__cause__ or exc.__context__
    if exc is None:
        return report
    cassette = getattr(getattr(exc, "cassette", None), "_path", "the test's cassette")
    request = getattr(exc, "failed_request", None)
    asked = f"{request.method} {urlsplit(request.uri).path}" if request is not None else "a request"
    report.sections.append((
        "ragloom: no recording",
        f"{asked} has no recording in {cassette}.\n"
        "Record it against a running Ollama (or the test server):\n"
        f"    pytest {item.nodeid} --record-mode=once\n"
        "or re-record the whole cassette with --record-mode=rewrite.",
    ))
    return report


@pytest.fixture(scope="module")
def ragloom_vcr_config() -> dict[str, Any]:
    """`vcr_config()` as a fixture: return it from your own `vcr_config` fixture."""
    return vcr_config()


@pytest.fixture
def rag_config(request: pytest.FixtureRequest) -> RagConfig:
    """A `RagConfig` over in-memory Qdrant with a collection unique to the test.

    Models and servers come from the usual sources (ragloom.yaml, `RAGLOOM_*`).
    The collection name is derived from the test id, so requests stay byte-identical
    from run to run.
    """
    name = "test_" + uuid.uuid5(uuid.NAMESPACE_URL, request.node.nodeid).hex[:16]
    return RagConfig(qdrant={"location": ":memory:", "collection": name})


@pytest.fixture
def rag_chain(rag_config: RagConfig) -> Runnable[Any, dict[str, Any]]:
    """`build_rag_chain(rag_config)`: the whole chain, for end-to-end app tests."""
    from ragloom.chains import build_rag_chain

    return build_rag_chain(rag_config)


@pytest.fixture
def ingest_folder(rag_config: RagConfig) -> Callable[..., Any]:
    """A function that ingests files or folders into the test's collection.

    Example (in a test): ``report = ingest_folder("tests/data/docs")``.
    """
    from ragloom.ingest import ingest

    def _ingest(*paths: str, **kwargs: Any) -> Any:
        return ingest(list(paths), rag_config, **kwargs)

    return _ingest
