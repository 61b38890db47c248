"""Files of every format, written by the real tools (python-docx, openpyxl, …) for the tests.

Each file holds one sentence no other file holds, with a word made for it
(`MARKERS[name]`), so a retrieval test can tell that the file's text landed.
"""

from __future__ import annotations

import email.message
import json
import zipfile
from pathlib import Path

MARKERS = {
    "report.docx": "quillwort", "notes.odt": "marzipanic", "deck.pptx": "slidewhistle",
    "budget.xlsx": "ledgerfern", "people.csv": "csvtangerine", "table.tsv": "tsvmagnolia",
    "records.json": "jsonpelican", "events.jsonl": "jsonlwalrus", "memo.eml": "emlcormorant",
    "archive.mbox": "mboxheron", "book.epub": "epubnarwhal", "analysis.ipynb": "ipynbocelot",
    "tool.py": "pythonkestrel", "server.go": "golangbadger",
}


def sentence(name: str) -> str:
    return f"Only this file mentions the {MARKERS[name]} rule for audits."


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Annual report", level=1)
    document.add_paragraph("An overview of the year.")
    document.add_heading("Pricing", level=2)
    document.add_paragraph(sentence("report.docx"))
    table = document.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "plan", (0, 1): "price", (1, 0): "team",
                         (1, 1): "42 EUR"}.items():
        table.cell(r, c).text = text
    document.add_heading("Risks", level=2)
    document.add_paragraph("Supply chains are fragile.")
    document.save(str(path))


def make_odt(path: Path) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Meeting notes"))
    document.text.addElement(P(text="Attendees: the whole team."))
    document.text.addElement(H(outlinelevel=2, text="Decisions"))
    document.text.addElement(P(text=sentence("notes.odt")))
    document.save(str(path))


def make_pptx(path: Path) -> None:
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Welcome"
    first.placeholders[1].text = "The agenda for today."
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Quarterly numbers"
    shape = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1))
    for (r, c), text in {(0, 0): "quarter", (0, 1): "revenue", (1, 0): "Q3",
                         (1, 1): "1.2M"}.items():
        shape.table.cell(r, c).text = text
    box = second.shapes.add_textbox(Inches(1), Inches(4), Inches(6), Inches(1))
    box.text_frame.text = sentence("deck.pptx")
    second.notes_slide.notes_text_frame.text = "Mention the hiring freeze."
    deck.save(str(path))


def make_xlsx(path: Path, rows: int = 60) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Q3"
    sheet.append(["item", "owner", "amount", "comment"])
    for n in range(1, rows + 1):
        comment = sentence("budget.xlsx") if n == 40 else f"regular expense {n}"
        sheet.append([f"item {n}", f"owner {n % 7}", n * 10, comment])
    other = book.create_sheet("Notes")
    other.append(["topic", "text"])
    other.append(["scope", "Covers the third quarter only."])
    book.save(str(path))


def make_csv(path: Path, delimiter: str = ",", name: str = "people.csv") -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(["name", "city", "remark"])
        for n in range(1, 31):
            writer.writerow([f"person {n}", f"city {n}",
                             sentence(name) if n == 17 else f"remark number {n}"])


def make_json(path: Path) -> None:
    records = [{"id": n, "text": f"record text {n}"} for n in range(5)]
    records[3]["text"] = sentence("records.json")
    path.write_text(json.dumps(records), encoding="utf-8")


def make_jsonl(path: Path) -> None:
    lines = [json.dumps({"event": n, "text": f"event text {n}"}) for n in range(5)]
    lines[2] = json.dumps({"event": 2, "text": sentence("events.jsonl")})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _message(subject: str, body: str,
             sender: str = "ana@example.com") -> email.message.EmailMessage:
    message = email.message.EmailMessage()
    message["From"] = sender
    message["To"] = "team@example.com"
    message["Date"] = "Tue, 01 Oct 2024 09:30:00 +0000"
    message["Subject"] = subject
    message.set_content(body)
    return message


def make_eml(path: Path) -> None:
    message = _message("Audit plan", sentence("memo.eml"))
    message.add_attachment(b"%PDF-1.4 not parsed", maintype="application", subtype="pdf",
                           filename="plan.pdf")
    path.write_bytes(bytes(message))


def make_mbox(path: Path) -> None:
    import mailbox

    box = mailbox.mbox(str(path))
    box.add(_message("Lunch", "Pizza on Friday.", "bo@example.com"))
    box.add(_message("Audit follow-up", sentence("archive.mbox"), "cy@example.com"))
    box.flush()
    box.close()


def make_epub(path: Path) -> None:
    chapter = ("<html xmlns='http://www.w3.org/1999/xhtml'><head><title>{t}</title></head>"
               "<body><h1>{t}</h1><p>{p}</p><h2>{s}</h2><p>{q}</p></body></html>")
    with zipfile.ZipFile(path, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        book.writestr("META-INF/container.xml", (
            "<?xml version='1.0'?><container version='1.0' xmlns='urn:oasis:names:tc:"
            "opendocument:xmlns:container'><rootfiles><rootfile full-path='OEBPS/content.opf'"
            " media-type='application/oebps-package+xml'/></rootfiles></container>"))
        book.writestr("OEBPS/content.opf", (
            "<?xml version='1.0'?><package xmlns='http://www.idpf.org/2007/opf' version='3.0'>"
            "<metadata xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:title>Field Guide"
            "</dc:title></metadata><manifest>"
            "<item id='c1' href='ch1.xhtml' media-type='application/xhtml+xml'/>"
            "<item id='c2' href='ch2.xhtml' media-type='application/xhtml+xml'/></manifest>"
            "<spine><itemref idref='c1'/><itemref idref='c2'/></spine></package>"))
        book.writestr("OEBPS/ch1.xhtml", chapter.format(
            t="Birds", p="Birds fly.", s="Herons", q="Herons wade."))
        book.writestr("OEBPS/ch2.xhtml", chapter.format(
            t="Whales", p="Whales sing.", s="Narwhals", q=sentence("book.epub")))


def make_ipynb(path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    notebook = new_notebook(cells=[
        new_markdown_cell("# Analysis"),
        new_code_cell("import math\nprint(math.pi)",
                      outputs=[new_output("stream", name="stdout", text="3.14159 OUTPUTONLY\n"),
                               new_output("display_data",
                                          data={"image/png": "iVBORw0KGgo" * 1000})]),
        new_markdown_cell(sentence("analysis.ipynb")),
    ])
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.write(notebook, str(path))


def make_py(path: Path) -> None:
    path.write_text(
        '"""A tool."""\n\n\nclass Rotator:\n    """Rotates keys."""\n\n'
        '    def rotate(self) -> None:\n        return None\n\n\n'
        f'def audit() -> str:\n    return "{sentence("tool.py")}"\n', encoding="utf-8")


def make_go(path: Path) -> None:
    path.write_text(
        'package main\n\nimport "fmt"\n\nfunc serve() {\n\tfmt.Println("serving")\n}\n\n'
        f'func audit() string {{\n\treturn "{sentence("server.go")}"\n}}\n', encoding="utf-8")


MAKERS = {
    "report.docx": make_docx, "notes.odt": make_odt, "deck.pptx": make_pptx,
    "budget.xlsx": make_xlsx, "people.csv": make_csv,
    "table.tsv": lambda p: make_csv(p, "\t", "table.tsv"),
    "records.json": make_json, "events.jsonl": make_jsonl, "memo.eml": make_eml,
    "archive.mbox": make_mbox, "book.epub": make_epub, "analysis.ipynb": make_ipynb,
    "tool.py": make_py, "server.go": make_go,
}


def make_all(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, maker in MAKERS.items():
        maker(folder / name)
        made[name] = folder / name
    return made
