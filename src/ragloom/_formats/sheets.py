r"""Spreadsheets: Excel (`.xlsx`, extra `office`) and CSV/TSV (standard library).

Rows are grouped into sections below the chunk size, each a Markdown table that starts
with the sheet's header row, so a row is never read without its column names. Metadata:
`sheet` (Excel), `row_start`, `row_end` (the sheet's own row numbers, the header being
row 1 of a CSV) and `location` (`sheet Q3, rows 2-41`). Empty rows are skipped.

Example:
    >>> from pathlib import Path
    >>> [s for s, _ in load_csv(b"name,price\nsoap,3\n", LoadContext(Path("p.csv")))]
    ['| name | price |\n| --- | --- |\n| soap | 3 |']

"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from ragloom._formats._base import LoadContext, LoadError, Section, markdown_table, need
from ragloom._formats._zip import check_zip
from ragloom._formats.text import decode_error, text_stream

__all__ = ["load_csv", "load_tsv", "load_xlsx", "row_sections"]

_MAX_FIELD = 16 * 1024 * 1024


def _blank(row: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def row_sections(rows: Iterable[tuple[int, Sequence[Any]]], budget: int,
                 meta: dict[str, Any], where: str) -> list[Section]:
    """Group `(row_number, values)` into Markdown tables under `budget` characters.

    The first non-blank row is the header, repeated at the top of every section.
    `where` starts the `location` label (`sheet Q3, ` or empty).
    """
    header: list[str] | None = None
    sections: list[Section] = []
    group: list[Sequence[Any]] = []
    first = last = 0
    size = 0

    def flush() -> None:
        if group and header is not None:
            text = markdown_table([header, *group])
            span = f"row {first}" if first == last else f"rows {first}\u2013{last}"
            sections.append((text, {**meta, "row_start": first, "row_end": last,
                                    "location": where + span}))

    for number, row in rows:
        if _blank(row):
            continue
        if header is None:
            header = ["" if v is None else str(v) for v in row]
            size_header = len(markdown_table([header]))
            continue
        width = sum(len(str(v)) + 3 for v in row if v is not None) + 2
        if group and size + width > budget:
            flush()
            group, size = [], 0
        if not group:
            first, size = number, size_header
        group.append(row)
        last = number
        size += width
    flush()
    if header is not None and not sections:  # only a header row: keep it
        sections.append((markdown_table([header]), {**meta, "row_start": 1, "row_end": 1,
                                                    "location": where + "row 1"}))
    return sections


def _delimited(data: bytes, context: LoadContext, delimiter: str | None) -> list[Section]:
    # Read as a stream: a 100 MB file is never held decoded in full (nor as a StringIO,
    # which stores 4 bytes a character).
    stream = text_stream(data)
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(stream.read(8192), delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
        except UnicodeDecodeError as exc:
            raise decode_error(exc) from None
        stream.seek(0)
    csv.field_size_limit(min(sys.maxsize, _MAX_FIELD))
    reader = csv.reader(stream, delimiter=delimiter)
    try:
        sections = row_sections(((reader.line_num, row) for row in reader),
                                context.chunk_size, {}, "")
    except csv.Error as exc:
        raise LoadError(f"malformed CSV at line {reader.line_num}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise decode_error(exc) from None
    context.pages += len(sections)
    return sections


def load_csv(data: bytes, context: LoadContext) -> list[Section]:
    """A CSV file (delimiter sniffed among , ; tab |): rows under their header."""
    return _delimited(data, context, None)


def load_tsv(data: bytes, context: LoadContext) -> list[Section]:
    """A tab-separated file: rows under their header."""
    return _delimited(data, context, "\t")


def load_xlsx(data: bytes, context: LoadContext) -> list[Section]:
    """An Excel workbook: each sheet's rows under its header, cached formula values."""
    check_zip(data, "XLSX")
    openpyxl = need("openpyxl", "office")
    sections: list[Section] = []
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            for sheet in book.worksheets:
                if not hasattr(sheet, "iter_rows"):
                    continue  # a chart sheet
                # Declared dimensions can claim a million rows: read only the rows there.
                sheet.reset_dimensions()
                rows = enumerate(sheet.iter_rows(values_only=True), start=1)
                sections += row_sections(rows, context.chunk_size, {"sheet": sheet.title},
                                         f"sheet {sheet.title}, ")
        finally:
            book.close()
    except LoadError:
        raise
    except Exception as exc:  # openpyxl: KeyError, InvalidFileException, lxml errors…
        raise LoadError(f"corrupt XLSX file: {type(exc).__name__}: {exc}") from None
    context.pages += len(sections)
    return sections
