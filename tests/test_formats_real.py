"""Real-world files, one or more per format (tests/data/formats, sources in its README).

Each test asserts the text and the structure metadata; the retrieval test ingests the
folder and finds, for each file, a passage only that file holds (sparse BM25 retrieval,
in process: no HTTP, no cassette).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from ragloom import RagConfig
from ragloom._loaders import load_sections
from ragloom.ingestion import ingest
from ragloom.retrievers import build_retriever
from ragloom.store import build_vector_store

DATA = Path(__file__).parent / "data" / "formats"


def sections(name: str) -> list[tuple[str, dict[str, Any]]]:
    path = DATA / name
    return load_sections(path, path.read_bytes())


def test_docx_from_python_docx() -> None:
    [(text, meta)] = sections("blk-paras-and-tables.docx")
    assert text == ("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n"
                    "| Text before Text after |\n| --- |\n"
                    "Donec semper facilisis metus finibus malesuada.")
    assert meta == {}
    styled = sections("par-known-styles.docx")
    assert styled[1] == ("# Heading 1\nBody Text",
                         {"heading": "Heading 1", "location": "§Heading 1"})


def test_pptx_from_python_pptx() -> None:
    assert sections("test.pptx") == [(
        "# Presentation Title Text\nSubtitle Text",
        {"slide": 1, "slide_title": "Presentation Title Text",
         "location": "slide 1: Presentation Title Text"})]
    tables = sections("tbl-cell.pptx")
    assert [m["slide"] for _, m in tables] == [1, 2, 3]
    assert tables[2][0] == "| a | b | c |\n| --- | --- | --- |\n| d | e | f |\n| g | h | i |"


def test_xlsx_written_by_excel() -> None:
    found = sections("autofilter00.xlsx")
    assert all(t.startswith("| Region | Item | Volume | Month |\n") for t, _ in found)
    assert (found[0][1]["sheet"], found[0][1]["row_start"]) == ("Sheet1", 2)
    covered = [r for _, m in found for r in range(m["row_start"], m["row_end"] + 1)]
    assert covered == list(range(2, 52))  # 50 data rows, each once
    assert "| East | Apple | 9000 | July |" in found[0][0]


def test_odt_from_odfpy() -> None:
    found = sections("Electra.odt")
    assert found[0][0].startswith("The Project Gutenberg EBook of Electra, by Euripides")
    assert found[1][1] == {"heading": "ΥΠΟΘΕΣΙΣ", "location": "§ΥΠΟΘΕΣΙΣ"}
    assert "Αγαμέμνονος" in found[1][0]


def test_ipynb_from_nbformat() -> None:
    found = sections("test4.ipynb")
    text = "\n".join(t for t, _ in found)
    assert text.startswith("# nbconvert latex test\n\n**Lorem ipsum** dolor sit amet")
    assert "```python\n" in text
    assert found[0][1]["cell_start"] == 0
    assert "image/png" not in text and "iVBOR" not in text  # outputs left out


def test_epub_from_epub_js() -> None:
    found = sections("alice.epub")
    _, meta = next(s for s in found if "tired of sitting by her" in s[0])
    assert meta["heading"] == "Down The Rabbit-Hole" and meta["chapter"] == 4
    assert meta["title"] == "Alice's Adventures in Wonderland"
    assert meta["location"] == "chapter 4, §Down The Rabbit-Hole"


def test_eml_and_mbox_from_mail() -> None:
    [(text, meta)] = sections("raw_email_reply.eml")
    assert meta["subject"] == "Re: Test reply email"
    assert meta["sender"] == "Testing <xxxxxxxx@xxx.org>"
    assert text.endswith("\n\nMessage body")
    [(text, meta)] = sections("attachment_pdf.mbox")
    assert meta["message"] == 1 and meta["attachments"] == ["broken.pdf"]
    assert meta["subject"] == "Another PDF with 🎉 Unicode chars in it 🍿"
    assert "%PDF" not in text


def test_csv_from_pandas_docs() -> None:
    [(text, meta)] = sections("air_quality_parameters.csv")
    assert meta == {"row_start": 2, "row_end": 8, "location": "rows 2\u20138"}
    assert "| pm25 | Particulate matter less than 2.5 micrometers in diameter | PM2.5 |" in text


def assert_line_ranges(name: str, code: list[tuple[str, dict[str, Any]]]) -> None:
    """Each chunk's line range points at its own first and last lines in the file."""
    lines = (DATA / name).read_text().splitlines()
    for text, meta in code:
        assert lines[meta["line_start"] - 1].endswith(text.splitlines()[0])
        assert lines[meta["line_end"] - 1].endswith(text.splitlines()[-1])


def test_tsv_from_frictionless() -> None:
    [(text, meta)] = sections("table.tsv")
    assert meta == {"row_start": 2, "row_end": 4, "location": "rows 2\u20134"}
    assert text == ("| id | name |\n| --- | --- |\n| 1 | english |\n"
                    "| 2 | 中国人 |\n| 3 | \\N |")


def test_jsonl_from_promptfoo() -> None:
    found = sections("cases.jsonl")
    assert [m for _, m in found] == [{"line": 1, "location": "line 1"},
                                     {"line": 2, "location": "line 2"}]
    record = json.loads(found[1][0])  # one whole record per section
    assert record["vars"] == {"target_language": "Spanish", "text": "Hello, world!"}
    assert record["assert"][0]["value"] == (
        "Translate the following text to Spanish: Hello, world!")


def test_json_and_code_from_nbformat() -> None:
    keys = [m["key"] for _, m in sections("nbformat.v4.0.schema.json")]
    assert keys[:2] == ["$schema", "description"] and "definitions" in keys
    code = sections("nbbase.py")
    assert all(m["language"] == "python" for _, m in code)
    symbols = {m.get("symbol") for _, m in code}
    assert {"new_output", "new_code_cell"} & symbols
    assert_line_ranges("nbbase.py", code)


def test_go_and_shell_from_golang_example() -> None:
    code = sections("main.go")
    assert all(m["language"] == "go" for _, m in code)
    assert {"main", "NewServer", "ServeHTTP"} <= {m.get("symbol") for _, m in code}
    assert code[0][0].startswith("// Copyright 2023 The Go Authors.")
    assert code[-1][1]["line_end"] == 129  # the last line of the file
    assert_line_ranges("main.go", code)
    [(text, meta)] = sections("add-documents.sh")
    assert meta == {"language": "shell", "line_start": 1, "line_end": 19,
                    "location": "lines 1\u201319"}
    assert text.startswith("#!/bin/bash\n") and "--savemyfuelplease" in text


QUERIES = {
    "blk-paras-and-tables.docx": "Donec semper facilisis metus finibus malesuada",
    "par-known-styles.docx": "no specified style missing style",
    "test.pptx": "Presentation Title Text Subtitle",
    "tbl-cell.pptx": "unladen swallows",
    "autofilter00.xlsx": "Region Item Volume Month",
    "Electra.odt": "Αγαμέμνονος Αίγισθος",
    "test4.ipynb": "nbconvert latex test",
    "alice.epub": "tired of sitting by her sister on the bank",
    "raw_email_reply.eml": "Test reply email",
    "attachment_pdf.mbox": "Another PDF Unicode chars",
    "air_quality_parameters.csv": "Particulate matter micrometers diameter",
    "nbformat.v4.0.schema.json": "IPython Notebook v4.0 JSON schema",
    "nbbase.py": "def new_code_cell",
    "table.tsv": "english 中国人",
    "cases.jsonl": "Translate the following text to Spanish",
    "main.go": "Outyet web server announces whether Go version tagged",
    "add-documents.sh": "savemyfuelplease flag fuel savings",
}


@pytest.fixture(scope="module")
def ingested() -> tuple[RagConfig, Any]:
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": "real_formats"},
                    retrieval={"mode": "sparse", "k": 1}, ingest={"root": str(DATA)})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    globs = sorted({f"**/*{Path(name).suffix}" for name in QUERIES})  # not the README
    report = ingest([DATA], cfg, store=store, glob=globs)
    assert report.failed == [] and report.added == len(QUERIES)
    assert report.skipped == {".md": 1}
    return cfg, store


def test_every_real_file_is_a_query_target() -> None:
    assert set(QUERIES) == {p.name for p in DATA.iterdir() if p.name != "README.md"}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_retrieval_finds_the_passage_only_that_file_holds(
        ingested: tuple[RagConfig, Any], name: str) -> None:
    cfg, store = ingested
    [doc] = build_retriever(cfg, store).invoke(QUERIES[name])
    assert doc.metadata["source"].split("#")[0] == name  # `attachment_pdf.mbox#<key>`
