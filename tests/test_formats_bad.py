"""Bad files stay harmless: a reason or bounded work, and the rest of the folder lands."""

from __future__ import annotations

import base64
import io
import json
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from ragloom import RagConfig
from ragloom._loaders import LoadContext, LoadError, load_sections
from ragloom.ingestion import ingest
from ragloom.store import build_vector_store
from tests.formats_made import make_docx, make_eml, make_xlsx

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def load(name: str, data: bytes, **settings: object) -> list[tuple[str, dict[str, object]]]:
    return load_sections(Path(name), data, LoadContext(Path(name), **settings))  # type: ignore[arg-type]


def bomb(member: str, mib: int = 64) -> bytes:
    """A zip whose one member inflates to `mib` MiB of zeros (about 64 KiB packed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open(member, "w") as file:
            block = b"\0" * (1024 * 1024)
            for _ in range(mib):
                file.write(block)
    return out.getvalue()


@pytest.mark.parametrize(("name", "member"), [
    ("report.docx", "word/document.xml"), ("budget.xlsx", "xl/worksheets/sheet1.xml"),
    ("deck.pptx", "ppt/slides/slide1.xml"), ("book.epub", "OEBPS/ch1.xhtml")])
def test_zip_bomb_is_refused_before_inflating(name: str, member: str) -> None:
    data = bomb(member)
    assert len(data) < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(LoadError, match="looks like a zip bomb"):
            load(name, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024  # nothing close to the 64 MiB was inflated


@pytest.mark.parametrize("name", ["report.docx", "budget.xlsx", "deck.pptx", "notes.odt"])
def test_password_protected_office_file_is_named_as_such(name: str) -> None:
    # Office encrypts a document into an OLE compound file (EncryptedPackage stream).
    with pytest.raises(LoadError, match="password-protected or legacy binary"):
        load(name, OLE + b"\0" * 4096)


@pytest.mark.parametrize("name", ["example_password.docx", "example_password.xlsx"])
def test_real_password_protected_files_are_named_as_such(name: str) -> None:
    # Encrypted by Office; from msoffcrypto-tool's test inputs (tests/data/formats_bad).
    data = (Path(__file__).parent / "data" / "formats_bad" / name).read_bytes()
    with pytest.raises(LoadError, match=r"^password-protected or legacy binary"):
        load(name, data)


def test_truncated_docx_is_reported_corrupt(tmp_path: Path) -> None:
    make_docx(tmp_path / "r.docx")
    data = (tmp_path / "r.docx").read_bytes()
    with pytest.raises(LoadError, match=r"^corrupt DOCX file"):
        load("r.docx", data[: len(data) // 2])


def test_docx_without_its_document_part_is_reported_corrupt() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(LoadError, match=r"^corrupt DOCX file"):
        load("r.docx", out.getvalue())


def test_xlsx_with_a_million_empty_rows_is_bounded(tmp_path: Path) -> None:
    make_xlsx(tmp_path / "b.xlsx", rows=1)
    with zipfile.ZipFile(tmp_path / "b.xlsx") as archive:
        parts = {n: archive.read(n) for n in archive.namelist()}
    rows = [b'<row r="1"><c r="A1" t="inlineStr"><is><t>item</t></is></c></row>']
    rows += [b'<row r="%d"/>' % n for n in range(2, 1_000_002)]
    rows.append(b'<row r="1000002"><c r="A1000002" t="inlineStr"><is><t>last row</t></is>'
                b'</c></row>')
    parts["xl/worksheets/sheet1.xml"] = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<dimension ref="A1:XFD1048576"/><sheetData>' + b"".join(rows)
        + b"</sheetData></worksheet>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    started = time.perf_counter()
    found = load("b.xlsx", out.getvalue())
    elapsed = time.perf_counter() - started
    q3 = [(t, m) for t, m in found if m["sheet"] == "Q3"]
    assert q3 == [("| item |\n| --- |\n| last row |",
                   {"sheet": "Q3", "row_start": 1000002, "row_end": 1000002,
                    "location": "sheet Q3, row 1000002"})]
    assert elapsed < 120, elapsed  # measured ~10 s on the loaded 2-core machine


def test_notebook_with_megabytes_of_base64_output_keeps_only_the_cells() -> None:
    image = base64.b64encode(b"\x89PNG" + bytes(range(256)) * 40_000).decode()  # ~13 MB
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "source": "plot()", "metadata": {}, "execution_count": 1,
         "outputs": [{"output_type": "display_data", "metadata": {},
                      "data": {"image/png": image, "text/plain": "<Figure>"}}]},
        {"cell_type": "markdown", "source": "The plot shows growth.", "metadata": {}}]}
    data = json.dumps(notebook).encode()
    assert len(data) > 10_000_000
    for outputs in (False, True):
        [(text, _)] = load("n.ipynb", data, notebook_outputs=outputs)
        assert len(text) < 200 and "The plot shows growth." in text


def test_big_csv_is_read_whole_in_bounded_memory(tmp_path: Path) -> None:
    # The 100 MB case is in tests/benchmarks/bench_formats.py; 5 MB keeps this tier fast.
    line = "2024-10-01,customer {n},order {n},shipped to the warehouse on time\n"
    text = "date,customer,order,status\n" + "".join(line.format(n=n) for n in range(75_000))
    data = text.encode()
    assert len(data) > 5_000_000
    tracemalloc.start()
    try:
        found = load("big.csv", data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found[0][1]["row_start"] == 2 and found[-1][1]["row_end"] == 75_001
    covered = sum(m["row_end"] - m["row_start"] + 1 for _, m in found)  # type: ignore[operator]
    assert covered == 75_000  # every row once
    assert peak < 12 * len(data), peak


def test_mail_with_attachments_lists_them_without_parsing(tmp_path: Path) -> None:
    import email
    import email.policy

    make_eml(tmp_path / "m.eml")
    message = email.message_from_bytes((tmp_path / "m.eml").read_bytes(),
                                       policy=email.policy.default)
    message.add_attachment(b"\0" * 5_000_000, maintype="application",
                           subtype="octet-stream", filename="disk.img")
    [(text, meta)] = load("m.eml", bytes(message))
    assert meta["attachments"] == ["plan.pdf", "disk.img"]
    assert len(text) < 1000


def test_a_folder_of_bad_files_still_lands_the_good_one(tmp_path: Path) -> None:
    make_docx(tmp_path / "good.docx")
    (tmp_path / "bomb.docx").write_bytes(bomb("word/document.xml"))
    (tmp_path / "locked.xlsx").write_bytes(OLE + b"\0" * 4096)
    (tmp_path / "broken.pptx").write_bytes(b"PK\x03\x04 not really")
    (tmp_path / "slides.key").write_bytes(b"keynote")
    (tmp_path / "more.key").write_bytes(b"keynote")
    (tmp_path / "script.py").write_text("print('hi')\n")
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": "bad_files"},
                    retrieval={"mode": "sparse"}, ingest={"root": str(tmp_path)})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    report = ingest([tmp_path], cfg, store=store)
    assert report.added == 1
    reasons = {f.path: f.reason for f in report.failed}
    assert set(reasons) == {"bomb.docx", "locked.xlsx", "broken.pptx"}
    assert "zip bomb" in reasons["bomb.docx"]
    assert "password-protected" in reasons["locked.xlsx"]
    assert reasons["broken.pptx"].startswith("corrupt PPTX file")
    assert report.skipped == {".key": 2, ".py": 1}
    assert report.notes == [
        "2 files skipped: .key has no loader",
        "1 file skipped: .py is not in ingest.glob (add '**/*.py' to read them)"]
    everything = ingest([tmp_path], cfg, store=store, glob="**/*")
    assert everything.added == 1 and everything.unchanged == 1
    assert everything.notes == ["2 files skipped: .key has no loader"]


def test_cli_prints_the_skipped_suffixes_once_and_not_the_store(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ragloom.cli import app

    (tmp_path / "a.txt").write_text("Badges open the north door.")
    for n in range(12):
        (tmp_path / f"deck{n}.key").write_bytes(b"keynote")
    env = {"RAGLOOM_RETRIEVAL__MODE": "sparse", "RAGLOOM_QDRANT__COLLECTION": "cli_notes",
           "RAGLOOM_QDRANT__LOCATION": str(tmp_path / "store")}  # a store inside the folder
    result = CliRunner().invoke(app, ["ingest", str(tmp_path)], env=env)
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert notes == ["note: 12 files skipped: .key has no loader"]
