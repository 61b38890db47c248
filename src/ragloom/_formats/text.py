"""The formats of the default install: plain text, Markdown, HTML, PDF (OCR when needed).

Example:
    >>> from pathlib import Path
    >>> load_text("héllo".encode(), LoadContext(Path("a.txt")))
    [('héllo', {})]

"""

from __future__ import annotations

import codecs
import io
from typing import Any

from langchain_text_splitters import MarkdownHeaderTextSplitter

from ragloom._formats._base import LoadContext, LoadError, Section, markdown_table

__all__ = ["MARKDOWN_HEADERS", "decode", "decode_error", "load_html", "load_markdown",
           "load_pdf", "load_text", "text_stream"]

MARKDOWN_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode(data: bytes) -> str:
    """Text from bytes: a BOM's encoding, else UTF-8; `LoadError` for binary or other text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoadError(f"encoding problem: invalid {encoding} text ({exc.reason}"
                                f" at byte {exc.start})") from None
    if b"\x00" in data:
        raise LoadError("binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"encoding problem: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start});"
            " convert it, e.g. iconv -f latin1 -t utf-8"
        ) from None


def text_stream(data: bytes) -> io.TextIOWrapper:
    """A lazily decoded text stream over `data` (BOM's encoding, else UTF-8; newline="").

    For big files (a 100 MB CSV): no decoded copy of the whole file is made. A decoding
    error surfaces while reading, as `UnicodeDecodeError`; `decode_error` explains it.
    """
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), None)
    if encoding is None:
        if b"\x00" in data[:65536]:
            raise LoadError("binary file (contains NUL bytes), not text")
        encoding = "utf-8"
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")


def decode_error(exc: UnicodeDecodeError) -> LoadError:
    """The `LoadError` for text that is not in its encoding."""
    return LoadError(f"encoding problem: not valid {exc.encoding} ({exc.reason}); convert it,"
                     " e.g. iconv -f latin1 -t utf-8")


def load_text(data: bytes, context: LoadContext) -> list[Section]:
    """A text file: one section."""
    return [(decode(data), {})]


def html_tables_to_markdown(soup: Any) -> None:
    """Replace each innermost `<table>` of a BeautifulSoup tree by a Markdown table."""
    for table in reversed(soup.find_all("table")):
        if table.find("table") is not None:
            continue  # an outer layout table: its text stays as it is
        rows = [[cell.get_text(" ", strip=True) for cell in tr.find_all(["th", "td"])]
                for tr in table.find_all("tr")]
        rows = [r for r in rows if any(r)]
        if rows:
            table.replace_with("\n" + markdown_table(rows) + "\n")


def load_html(data: bytes, context: LoadContext) -> list[Section]:
    """An HTML page: its visible text, tables as Markdown tables, the title as metadata."""
    from bs4 import BeautifulSoup, UnicodeDammit

    if b"\x00" in data[:8192] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise LoadError("binary file (contains NUL bytes), not HTML")
    dammit = UnicodeDammit(data, is_html=True)
    if dammit.unicode_markup is None or dammit.contains_replacement_characters:
        raise LoadError("encoding problem: the HTML could not be decoded cleanly"
                        " (declare its charset or convert it to UTF-8)")
    soup = BeautifulSoup(dammit.unicode_markup, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    html_tables_to_markdown(soup)
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    text = "\n".join(line for line in lines if line)
    return [(text, {"title": title} if title else {})]


def load_markdown(data: bytes, context: LoadContext) -> list[Section]:
    """Markdown: one section per header, the header path as `h1`…`h4` metadata."""
    text = decode(data)
    splitter = MarkdownHeaderTextSplitter(MARKDOWN_HEADERS, strip_headers=False)
    return [(doc.page_content, dict(doc.metadata)) for doc in splitter.split_text(text)]


def load_pdf(data: bytes, context: LoadContext) -> list[Section]:
    """A PDF: one section per page with text; pages without a text layer go to OCR."""
    from pypdf import PdfReader

    if b"%PDF-" not in data[:1024]:
        raise LoadError("corrupt PDF: no %PDF- header (not a PDF file?)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF: decrypt it first (e.g. qpdf --decrypt)")
        pages = list(reader.pages)
    except LoadError:
        raise
    except Exception as exc:  # pypdf raises many types for broken files
        raise LoadError(f"corrupt PDF: {type(exc).__name__}: {exc}") from None
    sections: list[Section] = []
    blank: list[int] = []
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:
            raise LoadError(f"corrupt PDF: page {number}: {type(exc).__name__}: {exc}") from None
        if text.strip():
            sections.append((text, {"page": number}))
        else:
            blank.append(number)
    context.pages += len(pages)
    if blank:
        from ragloom._formats.ocr import ocr_pdf_pages

        sections += ocr_pdf_pages(data, blank, context, whole=not sections)
        sections.sort(key=lambda s: int(s[1]["page"]))
    if not sections:
        raise LoadError("PDF without extractable text (a scan? run OCR first)")
    return sections
