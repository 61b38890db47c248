"""What every loader shares: sections, the context a loader gets, its errors.

A loader is a callable `load(data: bytes, context: LoadContext) -> list[Section]`: the
file's bytes in, `(text, metadata)` sections out. It raises `LoadError` with a reason
meant for a human when the file cannot be used; `context.notes` takes remarks that do
not stop the file (pages that need OCR), which the ingest report shows.

Example:
    >>> from pathlib import Path
    >>> def load_upper(data: bytes, context: LoadContext) -> list[Section]:
    ...     return [(data.decode().upper(), {"location": "all of it"})]
    >>> load_upper(b"hi", LoadContext(Path("a.up")))
    [('HI', {'location': 'all of it'})]

"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

__all__ = ["EmptyFile", "LoadContext", "LoadError", "Loader", "MissingExtra", "NoLoader",
           "Section", "markdown_table", "need"]

Section = tuple[str, dict[str, Any]]
OcrMode = Literal["auto", "on", "off"]


class LoadError(Exception):
    """A file cannot be ingested; the message is the reason shown to the user."""


class EmptyFile(LoadError):
    """The file holds no text (0 bytes, whitespace, or only markup): nothing to ingest."""


class NoLoader(LoadError):
    """No loader reads files of this kind: the file is counted as skipped, by suffix."""


class MissingExtra(LoadError):
    """The library that reads this kind of file is not installed (an optional extra)."""


@dataclass
class LoadContext:
    """What a loader knows besides the bytes: the file, the settings, where notes go."""

    path: Path
    """The file (for its name and suffix; the bytes are already read)."""
    chunk_size: int = 1000
    """Target chunk size: loaders that cut records themselves (rows, code) aim below it."""
    chunk_overlap: int = 150
    """Characters shared by neighbouring chunks, for loaders that cut text themselves."""
    ocr: OcrMode = "auto"
    """OCR of pages without a text layer: auto (when Tesseract is installed), on, off."""
    ocr_language: str = "eng"
    """Tesseract language(s), e.g. `eng+deu`."""
    notebook_outputs: bool = False
    """Keep the text outputs of notebook cells (never images or other binary outputs)."""
    notes: list[str] = field(default_factory=list)
    """Remarks for the ingest report that do not stop the file."""
    pages: int = 0
    """Pages (or slides, sheets, messages, cells…) read: for the progress bar."""


Loader = Callable[[bytes, LoadContext], list[Section]]


def need(module: str, extra: str) -> ModuleType:
    """Import `module`, or raise `MissingExtra` naming the extra that installs it.

    Example:
        >>> need("json", "office").__name__
        'json'

    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            f"needs the optional package {module.split('.')[0]!r}: pip install"
            f" 'ragloom[{extra}]' (or 'ragloom[all-formats]')") from None


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")  # line breaks (and \v) become spaces


def markdown_table(rows: Sequence[Sequence[Any]]) -> str:
    """Rows as a Markdown table, the first row as header.

    Example:
        >>> print(markdown_table([["a", "b"], [1, None]]))
        | a | b |
        | --- | --- |
        | 1 |  |

    """
    if not any(_cell(v) for row in rows for v in row):
        return ""  # an empty (layout) table: nothing to read
    width = max(len(r) for r in rows)
    cells = [[_cell(v) for v in r] + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + " --- |" * width]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:] if any(r)]
    return "\n".join(lines)
