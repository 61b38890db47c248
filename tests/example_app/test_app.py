"""The example app's tests: recorded once, replayed offline with `ragloom.testing`."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.runnables import Runnable

from ragloom import RagConfig
from ragloom.testing import IngestFolder
from tests.example_app.app import DOCS, answer


@pytest.mark.vcr
def test_answer_cites_the_right_page(rag_config: RagConfig, ingest_folder: IngestFolder) -> None:
    report = ingest_folder(DOCS)
    assert report.ok and report.added == 4
    result = answer("How often are API keys rotated?", rag_config)
    assert result.sources[0] == "docs/keys.md"
    assert result.text


@pytest.mark.vcr
def test_each_question_finds_its_page(rag_config: RagConfig, ingest_folder: IngestFolder) -> None:
    ingest_folder(DOCS)
    assert answer("When do backups run?", rag_config).sources[0] == "docs/backups.md"
    assert answer("How do I connect to the VPN?", rag_config).sources[0] == "docs/vpn.md"


@pytest.mark.vcr
def test_reingesting_unchanged_pages_sends_nothing(
    rag_config: RagConfig, ingest_folder: IngestFolder
) -> None:
    # While replaying, any embedding request beyond the first ingest's has no
    # recording and fails the test.
    assert ingest_folder(DOCS).added == 4
    again = ingest_folder(DOCS)
    assert (again.added, again.unchanged, again.chunks_written) == (0, 4, 0)


@pytest.mark.vcr
def test_rag_chain_fixture_answers(
    ingest_folder: IngestFolder, rag_chain: Runnable[Any, dict[str, Any]]
) -> None:
    ingest_folder(DOCS)
    result = rag_chain.invoke("Where do I request a restore?")
    assert result["sources"][0].metadata["source"] == "docs/backups.md"
    assert result["answer"].strip()
