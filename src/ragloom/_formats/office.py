"""Word (`.docx`), OpenDocument text (`.odt`) and PowerPoint (`.pptx`); extra `office`.

Word and ODT give one section per heading, with the heading path (`heading`, and
`location` `§Title` for citations); tables become Markdown tables. PowerPoint gives one
section per slide (`slide`, `slide_title`), with tables as Markdown and speaker notes.

Example:
    >>> from pathlib import Path
    >>> load_docx(b"not a zip", LoadContext(Path("a.docx")))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ragloom._formats._base.LoadError: corrupt DOCX file (not a valid zip container: ...)

"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from ragloom._formats._base import LoadContext, LoadError, Section, markdown_table, need
from ragloom._formats._zip import check_zip

__all__ = ["load_docx", "load_odt", "load_pptx"]


class _Outline:
    """Text gathered under the current heading path, cut into sections at each heading."""

    def __init__(self) -> None:
        self.path: list[tuple[int, str]] = []
        self.lines: list[str] = []
        self.sections: list[Section] = []

    def flush(self) -> None:
        text = "\n".join(self.lines).strip()
        if text:
            meta: dict[str, Any] = {}
            if self.path:
                meta["heading"] = " > ".join(title for _, title in self.path)
                meta["location"] = "§" + self.path[-1][1]
            self.sections.append((text, meta))
        self.lines = []

    def heading(self, level: int, title: str) -> None:
        self.flush()
        self.path = [(lv, t) for lv, t in self.path if lv < level] + [(level, title)]
        self.lines.append("#" * min(level, 6) + " " + title)

    def add(self, text: str) -> None:
        text = text.replace("\ufeff", "").strip()  # a byte-order mark left inside the text
        if text:
            self.lines.append(text)


def _heading_level(style_name: str) -> int | None:
    name = style_name.lower()
    if name == "title":
        return 1
    if name.startswith("heading "):
        digits = name.removeprefix("heading ").strip()
        return int(digits) if digits.isdigit() else None
    return None


def _docx_row(row: Any) -> list[str]:
    """A row's cell texts, a merged cell once (python-docx repeats it per grid column)."""
    cells, seen = [], set()
    for cell in row.cells:
        if id(cell._tc) not in seen:
            seen.add(id(cell._tc))
            cells.append(cell.text)
    return cells


def load_docx(data: bytes, context: LoadContext) -> list[Section]:
    """A Word document: sections by heading, tables as Markdown."""
    check_zip(data, "DOCX")
    docx = need("docx", "office")
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        outline = _Outline()
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                rows = [_docx_row(row) for row in block.rows]
                outline.add(markdown_table(rows))
                continue
            text = block.text.strip()
            style = block.style.name if block.style is not None else ""
            level = _heading_level(style or "")
            if level is not None and text:
                outline.heading(level, text)
            else:
                outline.add(text)
        outline.flush()
    except LoadError:
        raise
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors…
        raise LoadError(f"corrupt DOCX file: {type(exc).__name__}: {exc}") from None
    context.pages += len(outline.sections)
    return outline.sections


def _odt_blocks(node: Any) -> Iterator[tuple[str, Any]]:
    """(kind, node) for headings, paragraphs and tables under `node`, in reading order."""
    for child in node.childNodes:
        name = getattr(child, "qname", (None, None))[1]
        if name in ("h", "p", "table"):
            yield name, child
        elif name in ("list", "list-item", "section", "list-header"):
            yield from _odt_blocks(child)


def load_odt(data: bytes, context: LoadContext) -> list[Section]:
    """An OpenDocument text: sections by heading, tables as Markdown."""
    check_zip(data, "ODT")
    opendocument = need("odf.opendocument", "office")
    from odf import teletype
    from odf.namespaces import TEXTNS

    try:
        document = opendocument.load(io.BytesIO(data))
        outline = _Outline()
        for kind, node in _odt_blocks(document.text):
            if kind == "table":
                rows = [[teletype.extractText(cell) for cell in row.childNodes
                         if getattr(cell, "qname", (None, None))[1] == "table-cell"]
                        for row in node.getElementsByType(_odt_row())]
                outline.add(markdown_table(rows))
            elif kind == "h":
                level = int(node.attributes.get((TEXTNS, "outline-level"), 1) or 1)
                outline.heading(level, teletype.extractText(node).strip())
            else:
                outline.add(teletype.extractText(node).strip())
        outline.flush()
    except LoadError:
        raise
    except Exception as exc:
        raise LoadError(f"corrupt ODT file: {type(exc).__name__}: {exc}") from None
    context.pages += len(outline.sections)
    return outline.sections


def _odt_row() -> Any:
    from odf.table import TableRow

    return TableRow


def _shape_texts(shapes: Any) -> Iterator[str]:
    for shape in shapes:
        if getattr(shape, "shape_type", None) == 6:  # MSO_SHAPE_TYPE.GROUP
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            yield markdown_table([[c.text for c in row.cells] for row in shape.table.rows])
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield shape.text_frame.text.replace("\v", "\n")  # a line break inside a paragraph


def load_pptx(data: bytes, context: LoadContext) -> list[Section]:
    """A PowerPoint deck: one section per slide (title, text, tables, notes)."""
    check_zip(data, "PPTX")
    pptx = need("pptx", "office")
    sections: list[Section] = []
    try:
        deck = pptx.Presentation(io.BytesIO(data))
        for number, slide in enumerate(deck.slides, start=1):
            title_shape = slide.shapes.title
            title = title_shape.text.strip() if title_shape is not None else ""
            body = [t.strip() for t in _shape_texts(slide.shapes) if t.strip()]
            if title and body and body[0] == title:
                body = body[1:]
            lines = ([f"# {title}"] if title else []) + body
            if slide.has_notes_slide:
                notes = slide.notes_slide.notes_text_frame
                if notes is not None and notes.text.strip():
                    lines.append("Notes: " + notes.text.strip())
            meta: dict[str, Any] = {"slide": number, "location": f"slide {number}"}
            if title:
                meta["slide_title"] = title
                meta["location"] += f": {title}"
            sections.append(("\n".join(lines), meta))
    except LoadError:
        raise
    except Exception as exc:
        raise LoadError(f"corrupt PPTX file: {type(exc).__name__}: {exc}") from None
    context.pages += len(sections)
    return sections

