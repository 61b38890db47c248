"""Parsing speed per format, and the peak memory of a 100 MB CSV and a million-row sheet.

Prints, for files made here (python-docx, python-pptx, openpyxl, …), the pages (PDF
pages, slides, headed sections, rows, cells, messages, chapters) loaded per second by
`load_sections` (read and cut into sections, not embedded), best of `--runs`; then, each
in a fresh process, the peak resident memory while loading a ~100 MB CSV and an .xlsx
with 1,000,000 rows, above the process's memory before the load.

Run: python -m tests.benchmarks.bench_formats [--runs 3] [--skip-big]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from ragloom._loaders import LoadContext, load_sections
from tests.formats_made import make_xlsx
from tests.test_formats_ocr import scanned_pdf
from tests.test_ingest_loaders import make_pdf

PARAGRAPH = ("The quarterly review covers revenue, hiring and the audit schedule; each team"
             " reports its figures and the risks it sees for the next quarter. ")


def docx(path: Path, n: int) -> None:
    import docx as python_docx

    document = python_docx.Document()
    for i in range(n):
        document.add_heading(f"Section {i}", level=2)
        document.add_paragraph(PARAGRAPH * 4)
    document.save(str(path))


def pptx(path: Path, n: int) -> None:
    import pptx as python_pptx

    deck = python_pptx.Presentation()
    for i in range(n):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"Slide {i}"
        slide.placeholders[1].text = PARAGRAPH * 2
    deck.save(str(path))


def csv_file(path: Path, rows: int) -> None:
    line = "2024-10-{d:02d},customer {n},order {n},{n}.50,shipped to the north warehouse\n"
    with path.open("w", encoding="utf-8") as file:
        file.write("date,customer,order,amount,status\n")
        for start in range(0, rows, 10_000):
            file.write("".join(line.format(d=n % 28 + 1, n=n)
                               for n in range(start, min(rows, start + 10_000))))


def xlsx_rows(path: Path, rows: int) -> None:
    """An .xlsx whose one sheet has `rows` rows (sheet XML written directly: fast)."""
    make_xlsx(path, rows=1)
    with zipfile.ZipFile(path) as archive:
        parts = {n: archive.read(n) for n in archive.namelist()}
    body = io.BytesIO()
    body.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>item</t></is></c>'
               b'<c r="B1" t="inlineStr"><is><t>amount</t></is></c></row>')
    for n in range(2, rows + 2):
        body.write(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>item %d</t></is></c>'
                   b'<c r="B%d"><v>%d</v></c></row>' % (n, n, n, n, n))
    body.write(b"</sheetData></worksheet>")
    parts["xl/worksheets/sheet1.xml"] = body.getvalue()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def ipynb(path: Path, n: int) -> None:
    cells = [{"cell_type": "markdown" if i % 2 else "code", "metadata": {}, "source": PARAGRAPH,
              **({} if i % 2 else {"outputs": [], "execution_count": None})} for i in range(n)]
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                "cells": cells}))


def mbox(path: Path, n: int) -> None:
    path.write_text("".join(
        f"From a@example.com Tue Oct  1 09:30:00 2024\nFrom: a@example.com\n"
        f"Subject: Report {i}\n\n{PARAGRAPH}\n\n" for i in range(n)))


def epub(path: Path, n: int) -> None:
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip")
        book.writestr("META-INF/container.xml", "<container><rootfiles><rootfile "
                      "full-path='c.opf'/></rootfiles></container>")
        book.writestr("c.opf", "<package><manifest>" + "".join(
            f"<item id='c{i}' href='c{i}.xhtml'/>" for i in range(n)) + "</manifest><spine>"
            + "".join(f"<itemref idref='c{i}'/>" for i in range(n)) + "</spine></package>")
        for i in range(n):
            book.writestr(f"c{i}.xhtml", f"<html><body><h1>Chapter {i}</h1><p>{PARAGRAPH * 6}"
                          "</p></body></html>")


def measure(name: str, suffix: str, make: Callable[[Path, int], None], n: int,
            runs: int, folder: Path, settings: dict[str, object] | None = None) -> None:
    path = folder / f"{name}{suffix}"
    make(path, n)
    data = path.read_bytes()
    best, pages, rows = float("inf"), 0, 0
    for _ in range(runs):
        context = LoadContext(path, **(settings or {}))  # type: ignore[arg-type]
        start = time.perf_counter()
        sections = load_sections(path, data, context)
        best = min(best, time.perf_counter() - start)
        pages = context.pages
        rows = sum(m["row_end"] - m["row_start"] + 1 for _, m in sections if "row_end" in m)
    shown = f"{rows:>8} rows " if rows else f"{pages:>8} pages"
    rate = f"{(rows or pages) / best:>10,.0f} {'rows' if rows else 'pages'}/s"
    print(f"{name:10} {shown}  {best:7.2f} s  {rate}  ({len(data) / 1e6:.1f} MB)", flush=True)


PEAK = """
import sys, time
from pathlib import Path
from ragloom._loaders import load_sections

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

path = Path(sys.argv[1]); data = path.read_bytes()
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
before = status("VmRSS:")
start = time.perf_counter()
sections = load_sections(path, data)
took = time.perf_counter() - start
peak = status("VmHWM:")
rows = sum(m["row_end"] - m["row_start"] + 1 for _, m in sections)
print(f"{len(data) / 1e6:.0f} MB, {rows:,} rows in {len(sections):,} sections, {took:.1f} s,"
      f" peak RSS {peak:.0f} MB ({peak - before:.0f} MB above the {before:.0f} MB before"
      f" loading, the file's bytes read)")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-big", action="store_true", help="skip the 100 MB cases")
    parser.add_argument("--only-big", action="store_true", help="only the 100 MB cases")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = args.runs
        if not args.only_big:
            _speeds(folder, runs)
        if args.skip_big:
            return
        big_csv, big_xlsx = folder / "big.csv", folder / "big.xlsx"
        csv_file(big_csv, 1_330_000)
        xlsx_rows(big_xlsx, 1_000_000)
        for path in (big_csv, big_xlsx):
            out = subprocess.run([sys.executable, "-c", PEAK, str(path)], capture_output=True,
                                 text=True, check=True)
            print(f"peak {path.suffix:6} {out.stdout.strip()}", flush=True)


def _speeds(folder: Path, runs: int) -> None:
    measure("pdf", ".pdf", lambda p, n: p.write_bytes(make_pdf(
        [PARAGRAPH[:90] + f" page {i}" for i in range(n)])), 200, runs, folder)
    measure("docx", ".docx", docx, 200, runs, folder)
    measure("odt", ".odt", lambda p, n: _odt(p, n), 200, runs, folder)
    measure("pptx", ".pptx", pptx, 100, runs, folder)
    measure("xlsx", ".xlsx", xlsx_rows, 50_000, runs, folder)
    measure("csv", ".csv", csv_file, 200_000, runs, folder)
    measure("epub", ".epub", epub, 100, runs, folder)
    measure("ipynb", ".ipynb", ipynb, 2_000, runs, folder)
    measure("mbox", ".mbox", mbox, 2_000, runs, folder)
    measure("ocr", ".pdf", lambda p, n: p.write_bytes(_scans(n)), 3, 1, folder)


def _odt(path: Path, n: int) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    for i in range(n):
        document.text.addElement(H(outlinelevel=2, text=f"Section {i}"))
        document.text.addElement(P(text=PARAGRAPH * 4))
    document.save(str(path))


def _scans(n: int) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for i in range(n):
        writer.add_page(PdfReader(io.BytesIO(scanned_pdf(f"Scanned page {i} of the report")))
                        .pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


if __name__ == "__main__":
    main()
