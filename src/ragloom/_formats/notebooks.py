"""Jupyter notebooks (`.ipynb`, read as JSON): Markdown and code cells, outputs left out.

Consecutive cells are grouped below the chunk size; code cells are fenced with the
kernel's language. Metadata: `cell_start`, `cell_end` (cell indexes from 0) and
`location` (`cells 3-7`). With `ingest.notebook_outputs`, text outputs (stream text
and `text/plain` results, each cut at 2,000 characters) are kept; images and other
binary outputs never are.

Example:
    >>> import json
    >>> from pathlib import Path
    >>> nb = {"cells": [{"cell_type": "markdown", "source": ["# Hi"]}], "metadata": {}}
    >>> load_ipynb(json.dumps(nb).encode(), LoadContext(Path("n.ipynb")))
    [('# Hi', {'cell_start': 0, 'cell_end': 0, 'location': 'cell 0'})]

"""

from __future__ import annotations

import json
from typing import Any

from ragloom._formats._base import LoadContext, LoadError, Section
from ragloom._formats.text import decode

__all__ = ["load_ipynb"]

_OUTPUT_CHARS = 2000


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


def _outputs(cell: dict[str, Any]) -> str:
    kept = []
    for output in cell.get("outputs") or []:
        if not isinstance(output, dict):
            continue
        text = _text(output.get("text")) or _text((output.get("data") or {}).get("text/plain"))
        if text.strip():
            kept.append(text[:_OUTPUT_CHARS])
    return "\n".join(kept)


def load_ipynb(data: bytes, context: LoadContext) -> list[Section]:
    """A notebook: cells grouped under the chunk size, with their indexes."""
    try:
        notebook = json.loads(decode(data))
    except json.JSONDecodeError as exc:
        raise LoadError(f"corrupt notebook (invalid JSON: {exc.msg} at line {exc.lineno})"
                        ) from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise LoadError("not a Jupyter notebook (no 'cells' list; nbformat 4 is read)")
    info = (notebook.get("metadata") or {}).get("language_info") or {}
    language = str(info.get("name") or "python")
    outputs = context.notebook_outputs
    pieces: list[tuple[int, str]] = []
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict):
            continue
        source = _text(cell.get("source")).strip()
        kind = cell.get("cell_type")
        if kind == "code" and source:
            source = f"```{language}\n{source}\n```"
            if outputs and (shown := _outputs(cell)):
                source += f"\nOutput:\n{shown}"
        elif kind not in ("markdown", "raw"):
            continue
        if source:
            pieces.append((index, source))
    sections: list[Section] = []
    group: list[tuple[int, str]] = []

    def flush() -> None:
        if group:
            first, last = group[0][0], group[-1][0]
            label = f"cell {first}" if first == last else f"cells {first}\u2013{last}"
            sections.append(("\n\n".join(t for _, t in group),
                             {"cell_start": first, "cell_end": last, "location": label}))

    size = 0
    for index, text in pieces:
        if group and size + len(text) + 2 > context.chunk_size:
            flush()
            group, size = [], 0
        group.append((index, text))
        size += len(text) + 2
    flush()
    context.pages += len(pieces)
    return sections
