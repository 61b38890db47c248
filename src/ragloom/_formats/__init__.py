"""File formats: which loader reads a file, found by suffix or by sniffed content type.

Loaders are registered in the entry-point group `ragloom.loaders`: the name is a suffix
(`.docx`) or a MIME type (`application/pdf`, matched when a file's suffix has none and
its first bytes say what it is), the value a `load(data, context)` callable returning
`(text, metadata)` sections (see `ragloom._formats._base`). ragloom's own loaders are
registered the same way, and also listed in `BUILTINS` so a source checkout without
installed metadata reads them; a third-party entry point for a suffix replaces the
built-in one. Each loader's module is imported only when a file of its kind is met.

A plugin's `pyproject.toml`:

    [project.entry-points."ragloom.loaders"]
    ".key" = "ragloom_keynote:load"

Example:
    >>> sorted(s for s in loaders() if s in (".docx", ".pdf"))
    ['.docx', '.pdf']
    >>> loaders()[".docx"].extra
    'office'

"""

from __future__ import annotations

import functools
import importlib
import zipfile
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ragloom._formats._base import (
    EmptyFile,
    LoadContext,
    Loader,
    LoadError,
    MissingExtra,
    NoLoader,
    Section,
)
from ragloom.config import DOCUMENT_SUFFIXES

__all__ = ["BUILTINS", "DOCUMENT_SUFFIXES", "GROUP", "EmptyFile", "LoadContext", "LoadError",
           "LoaderSpec", "MissingExtra", "NoLoader", "Section", "loader_for", "loaders",
           "run_loader", "sniff"]

GROUP = "ragloom.loaders"
_T = "ragloom._formats.text:"
_CODE = "ragloom._formats.code:load_code"
_IMAGE = "ragloom._formats.ocr:load_image"
BUILTINS: dict[str, str] = {
    ".txt": _T + "load_text", ".md": _T + "load_markdown", ".markdown": _T + "load_markdown",
    ".html": _T + "load_html", ".htm": _T + "load_html", ".pdf": _T + "load_pdf",
    ".docx": "ragloom._formats.office:load_docx", ".odt": "ragloom._formats.office:load_odt",
    ".pptx": "ragloom._formats.office:load_pptx",
    ".xlsx": "ragloom._formats.sheets:load_xlsx", ".xlsm": "ragloom._formats.sheets:load_xlsx",
    ".csv": "ragloom._formats.sheets:load_csv", ".tsv": "ragloom._formats.sheets:load_tsv",
    ".json": "ragloom._formats.data:load_json", ".jsonl": "ragloom._formats.data:load_jsonl",
    ".ndjson": "ragloom._formats.data:load_jsonl",
    ".eml": "ragloom._formats.mail:load_eml", ".mbox": "ragloom._formats.mail:load_mbox",
    ".epub": "ragloom._formats.epub:load_epub",
    ".ipynb": "ragloom._formats.notebooks:load_ipynb",
    ".png": _IMAGE, ".jpg": _IMAGE, ".jpeg": _IMAGE, ".tif": _IMAGE, ".tiff": _IMAGE,
    ".bmp": _IMAGE, ".gif": _IMAGE, ".webp": _IMAGE,
    **dict.fromkeys((
        ".py", ".pyi", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".go", ".rs", ".java",
        ".kt", ".kts", ".scala", ".c", ".h", ".cpp", ".cc", ".cxx", ".hpp", ".hh", ".cs",
        ".rb", ".php", ".swift", ".lua", ".pl", ".hs", ".ex", ".exs", ".sol", ".proto",
        ".r", ".ps1", ".sh", ".bash", ".zsh"), _CODE),
    # Sniffed content types: a file whose suffix has no loader.
    "application/pdf": _T + "load_pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
        "ragloom._formats.office:load_docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation":
        "ragloom._formats.office:load_pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
        "ragloom._formats.sheets:load_xlsx",
    "application/vnd.oasis.opendocument.text": "ragloom._formats.office:load_odt",
    "application/epub+zip": "ragloom._formats.epub:load_epub",
    "application/mbox": "ragloom._formats.mail:load_mbox",
    "image/png": _IMAGE, "image/jpeg": _IMAGE, "image/tiff": _IMAGE,
}
"""ragloom's own loaders (also its `ragloom.loaders` entry points)."""
_EXTRAS = {"office": "ragloom._formats.office", "ocr": "ragloom._formats.ocr"}
_SHEETS_OFFICE = {".xlsx", ".xlsm", "application/vnd.openxmlformats-officedocument"
                  ".spreadsheetml.sheet"}

@dataclass(frozen=True)
class LoaderSpec:
    """A registered loader: what it reads, where it lives, who provides it."""

    key: str
    """A suffix (`.docx`) or a MIME type."""
    target: str
    """`module:function`."""
    provider: str = "ragloom"
    """The distribution that registered it."""
    extra: str | None = None
    """The ragloom extra its library comes from, if any."""
    entry: Any = field(default=None, compare=False, repr=False)

    def load(self) -> Loader:
        """The loader callable (its module imported now)."""
        if self.entry is not None:
            try:
                return self.entry.load()  # type: ignore[no-any-return]
            except Exception as exc:
                raise LoadError(f"the loader plugin {self.target!r} from {self.provider}"
                                f" cannot be imported: {type(exc).__name__}: {exc}") from None
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _extra(key: str, target: str) -> str | None:
    if key in _SHEETS_OFFICE:
        return "office"
    return next((extra for extra, module in _EXTRAS.items()
                 if target.startswith(module + ":")), None)


@functools.lru_cache(maxsize=1)
def loaders() -> dict[str, LoaderSpec]:
    """Every loader by suffix or MIME type: built-ins, then entry points (which win)."""
    found = {key: LoaderSpec(key, target, extra=_extra(key, target))
             for key, target in BUILTINS.items()}
    # A distribution's name is read from its METADATA file on every `.name` (an email
    # parse each): once per distribution here, not once per entry point (75 entries of
    # ragloom's own cost 0.05-0.08 s of every ingest that reads a file).
    names: dict[int, str] = {}
    for entry in entry_points(group=GROUP):
        dist = entry.dist
        if dist is None:
            provider = "unknown"
        elif (provider := names.get(id(dist), "")) == "":
            provider = names[id(dist)] = dist.name
        if provider == "ragloom" and entry.name in found:
            continue  # the same as BUILTINS
        key = entry.name.lower()
        found[key] = LoaderSpec(key, entry.value, provider, _extra(key, entry.value), entry)
    return found


def sniff(data: bytes) -> str | None:
    """A MIME type from a file's first bytes, for the kinds ragloom reads; else None.

    Example:
        >>> sniff(b"%PDF-1.7 ..."), sniff(b"hello")
        ('application/pdf', None)

    """
    head = data[:1024]
    if b"%PDF-" in head:
        return "application/pdf"
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"From ") and b"\n" in head:
        return "application/mbox"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(data)
    return None


def _sniff_zip(data: bytes) -> str | None:
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.getinfo("mimetype").file_size < 200:
                return archive.read("mimetype").decode("ascii", "replace").strip() or None
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    office = {"word/document.xml": "wordprocessingml.document",
              "ppt/presentation.xml": "presentationml.presentation",
              "xl/workbook.xml": "spreadsheetml.sheet"}
    for member, kind in office.items():
        if member in names:
            return "application/vnd.openxmlformats-officedocument." + kind
    return None


def loader_for(path: Path, data: bytes) -> LoaderSpec:
    """The loader for a file: by suffix, else by sniffed content type.

    Raises:
        NoLoader: No loader reads it (the message names the suffix).

    """
    table = loaders()
    spec = table.get(path.suffix.lower())
    if spec is None:
        kind = sniff(data)
        spec = table.get(kind) if kind else None
    if spec is None:
        raise NoLoader(f"{path.suffix.lower() or '(no suffix)'} has no loader")
    return spec


def run_loader(spec: LoaderSpec, data: bytes, context: LoadContext) -> list[Section]:
    """Run a loader; a plugin's own errors become a `LoadError` naming it."""
    loader = spec.load()
    try:
        sections = loader(data, context)
    except LoadError:
        raise
    except Exception as exc:  # a library's (or a plugin's) bug must not stop the folder
        raise LoadError(f"the loader {spec.target!r} from {spec.provider} failed:"
                        f" {type(exc).__name__}: {exc}") from None
    if spec.provider == "ragloom":
        return sections
    if not isinstance(sections, list) or not all(
            isinstance(s, tuple) and len(s) == 2 and isinstance(s[0], str)
            and isinstance(s[1], dict) for s in sections):
        raise LoadError(f"the loader {spec.target!r} from {spec.provider} returned something"
                        " other than a list of (text, metadata) pairs")
    return sections
