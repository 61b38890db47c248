"""Loaders anyone can add (entry-point group `ragloom.loaders`), extras imported lazily."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from ragloom import RagConfig
from ragloom._formats import MissingExtra, loaders
from ragloom._formats.checks import format_checks
from ragloom._loaders import LoadError, load_sections
from ragloom.ingestion import ingest
from ragloom.store import build_vector_store

PLUGIN = '''
def load(data, context):
    """Keynote stand-in: one section per line, with its number."""
    return [(line, {"line": n, "location": f"line {n}"})
            for n, line in enumerate(data.decode().splitlines(), start=1) if line]

def broken(data, context):
    raise ZeroDivisionError("oops")

def wrong(data, context):
    return "not a list"

def png(data, context):
    return [("a png seen by the plugin", {})]

import time
EVENTS = []

def timed(data, context):
    """Sleeps (as a C library or I/O would, outside the GIL) when the text says so."""
    EVENTS.append(("start", context.path.name, time.perf_counter()))
    if data.startswith(b"slow"):
        time.sleep(1.5)
    EVENTS.append(("end", context.path.name, time.perf_counter()))
    return [(data.decode() + " " + context.path.stem, {})]
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed distribution `ragloom-keynote` (a dist-info on sys.path)."""
    site = tmp_path / "site"
    info = site / "ragloom_keynote-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ragloom-keynote\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""\
        [ragloom.loaders]
        .key = ragloom_keynote:load
        .broken = ragloom_keynote:broken
        .wrong = ragloom_keynote:wrong
        .missing = ragloom_keynote_gone:load
        image/png = ragloom_keynote:png
        .timed = ragloom_keynote:timed
        """))
    (site / "ragloom_keynote.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    loaders.cache_clear()
    yield site
    loaders.cache_clear()
    sys.modules.pop("ragloom_keynote", None)


def test_builtins_are_registered_as_entry_points_too() -> None:
    from importlib.metadata import entry_points

    from ragloom._formats import BUILTINS

    registered = {e.name: e.value for e in entry_points(group="ragloom.loaders")
                  if e.dist is not None and e.dist.name == "ragloom"}
    assert registered == BUILTINS


@pytest.mark.usefixtures("plugin")
def test_a_third_party_loader_reads_its_suffix() -> None:
    spec = loaders()[".key"]
    assert (spec.provider, spec.target) == ("ragloom-keynote", "ragloom_keynote:load")
    assert load_sections(Path("talk.key"), b"Intro\n\nRoadmap") == [
        ("Intro", {"line": 1, "location": "line 1"}),
        ("Roadmap", {"line": 3, "location": "line 3"})]


@pytest.mark.usefixtures("plugin")
def test_a_plugin_for_a_mime_type_gets_files_by_their_content() -> None:
    # A file without a suffix: sniffed as image/png, which the plugin registered.
    assert load_sections(Path("scan"), b"\x89PNG\r\n\x1a\n....") == [
        ("a png seen by the plugin", {})]


@pytest.mark.usefixtures("plugin")
@pytest.mark.parametrize(("name", "reason"), [
    ("x.broken", "the loader 'ragloom_keynote:broken' from ragloom-keynote failed:"
                 " ZeroDivisionError: oops"),
    ("x.wrong", "the loader 'ragloom_keynote:wrong' from ragloom-keynote returned something"
                " other than a list of (text, metadata) pairs"),
    ("x.missing", "the loader plugin 'ragloom_keynote_gone:load' from ragloom-keynote cannot"
                  " be imported: ModuleNotFoundError"),
])
def test_a_failing_plugin_is_a_reason_not_a_crash(name: str, reason: str) -> None:
    with pytest.raises(LoadError) as caught:
        load_sections(Path(name), b"data")
    assert str(caught.value).startswith(reason)


@pytest.mark.usefixtures("plugin")
def test_doctor_lists_the_plugin_loaders() -> None:
    [listed] = [c for c in format_checks(RagConfig()) if c.name == "loaders"]
    assert "; ragloom-keynote: .broken .key .missing .timed .wrong" in listed.detail
    assert listed.detail.startswith("ragloom: .csv .docx")


@pytest.mark.usefixtures("plugin")
def test_plugin_files_in_a_folder_land_when_the_glob_names_them(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "talk.key").write_text("Roadmap for the lighthouse project")
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": "plugin"},
                    retrieval={"mode": "sparse", "k": 1}, ingest={"root": str(tmp_path)})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    report = ingest([docs], cfg, store=store)
    assert report.added == 0 and report.notes == [
        "1 file skipped: .key is not in ingest.glob (add '**/*.key' to read them)"]
    report = ingest([docs], cfg, store=store, glob=["**/*.key"])
    assert report.added == 1 and report.failed == []
    [doc] = store.similarity_search("lighthouse", k=1)
    assert doc.metadata["source"] == "docs/talk.key" and doc.metadata["line"] == 1


def test_a_missing_extra_names_the_install_command(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.formats_made import make_docx

    make_docx(tmp_path / "r.docx")
    data = (tmp_path / "r.docx").read_bytes()
    monkeypatch.setitem(sys.modules, "docx", None)  # as if python-docx were not installed
    with pytest.raises(MissingExtra) as caught:
        load_sections(Path("report.docx"), data)
    assert str(caught.value) == ("needs the optional package 'docx': pip install"
                                 " 'ragloom[office]' (or 'ragloom[all-formats]')")


def test_format_libraries_are_imported_only_when_a_file_needs_them() -> None:
    heavy = ["docx", "pptx", "openpyxl", "odf", "pytesseract", "pypdfium2", "PIL", "nbformat"]
    code = (
        "import sys, ragloom, ragloom.ingestion, ragloom.cli\n"
        "from ragloom._formats import loaders; loaders()\n"
        f"print([m for m in {heavy!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.usefixtures("plugin")
def test_a_slow_file_does_not_hold_up_the_parsing_of_the_next(tmp_path: Path) -> None:
    import ragloom_keynote  # type: ignore[import-not-found]

    (tmp_path / "a.timed").write_text("slow")
    for name in ("b", "c", "d"):
        (tmp_path / f"{name}.timed").write_text("fast")
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": "slow_file"},
                    retrieval={"mode": "sparse"}, ingest={"root": str(tmp_path)})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    report = ingest([tmp_path], cfg, store=store, glob="**/*.timed")
    assert report.added == 4
    times = {(kind, name): at for kind, name, at in ragloom_keynote.EVENTS}
    slow_end = times["end", "a.timed"]
    # b, c and d were parsed while a.timed was still being parsed, not after it.
    assert all(times["end", f"{n}.timed"] < slow_end for n in "bcd"), ragloom_keynote.EVENTS
    hits = store.similarity_search("fast", k=4)
    assert sorted(d.metadata["source"] for d in hits) == ["b.timed", "c.timed", "d.timed"]
