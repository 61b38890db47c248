"""OCR with Tesseract: PDF pages without a text layer, and images of text.

Used only where there is no text to extract (`ingest.ocr`: `auto` when Tesseract is
installed, `on` to require it, `off` never). Pages are rendered with pypdfium2 at 300
dpi and read by `pytesseract`; every section made here has `ocr: true` in its metadata.
Without Tesseract, the pages that need it are named in the report with the install
command.

Example:
    >>> isinstance(tesseract_version(), (str, type(None)))
    True

"""

from __future__ import annotations

import functools
import io
import shutil
from typing import Any

from ragloom._formats._base import LoadContext, LoadError, Section, need

__all__ = ["INSTALL_HINT", "load_image", "ocr_pdf_pages", "tesseract_version"]

INSTALL_HINT = ("install Tesseract (e.g. apt-get install tesseract-ocr tesseract-ocr-eng,"
                " or brew install tesseract) and pip install 'ragloom[ocr]'")
_DPI = 300


@functools.lru_cache(maxsize=1)
def tesseract_version() -> str | None:
    """Tesseract's version when both the program and `pytesseract` are installed, else None."""
    if shutil.which("tesseract") is None:
        return None
    try:
        import pytesseract
    except ImportError:
        return None
    try:
        return str(pytesseract.get_tesseract_version())
    except Exception:  # an unusable binary: as good as none
        return None


def _pages(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    more = f" and {len(numbers) - 10} more" if len(numbers) > 10 else ""
    return f"page{'s' if len(numbers) > 1 else ''} {shown}{more}"


def ocr_pdf_pages(data: bytes, numbers: list[int], context: LoadContext,
                  whole: bool) -> list[Section]:
    """Sections read by OCR from the PDF pages `numbers` (1-based), per `context.ocr`.

    `whole` says no page had a text layer: then a missing Tesseract fails the file
    instead of leaving a note.
    """
    which = _pages(numbers)
    if context.ocr == "off":
        if whole:
            raise LoadError("PDF without a text layer (a scan?) and ingest.ocr is off:"
                            " set ingest.ocr to auto to read it with Tesseract")
        context.notes.append(f"{which} without a text layer skipped (ingest.ocr is off)")
        return []
    if tesseract_version() is None:
        verb = "needs" if len(numbers) == 1 else "need"
        reason = f"{which} without a text layer {verb} OCR: {INSTALL_HINT}"
        if whole or context.ocr == "on":
            raise LoadError(f"PDF without a text layer (a scan?): {reason}")
        context.notes.append(reason)
        return []
    pdfium = need("pypdfium2", "ocr")
    sections: list[Section] = []
    try:
        document = pdfium.PdfDocument(data)
    except Exception as exc:
        raise LoadError(f"corrupt PDF (pdfium could not open it for OCR: {exc})") from None
    try:
        for number in numbers:
            page = document[number - 1]
            try:
                image = page.render(scale=_DPI / 72).to_pil()
            finally:
                page.close()
            text = _read_image(image, context)
            if text.strip():
                sections.append((text, {"page": number, "ocr": True}))
    finally:
        document.close()
    return sections


def _read_image(image: Any, context: LoadContext) -> str:
    pytesseract = need("pytesseract", "ocr")
    try:
        return str(pytesseract.image_to_string(image, lang=context.ocr_language))
    except pytesseract.TesseractError as exc:
        raise LoadError(f"OCR failed: {exc.message.strip() or exc} (is the"
                        f" '{context.ocr_language}' language data installed?)") from None


def load_image(data: bytes, context: LoadContext) -> list[Section]:
    """An image of text (PNG, JPEG, TIFF…): its words by OCR, one section per frame."""
    if context.ocr == "off":
        raise LoadError("an image: read only by OCR, and ingest.ocr is off")
    if tesseract_version() is None:
        raise LoadError(f"an image: its text needs OCR: {INSTALL_HINT}")
    image_module = need("PIL.Image", "ocr")
    try:
        image = image_module.open(io.BytesIO(data))
        frames = getattr(image, "n_frames", 1)
        sections: list[Section] = []
        for frame in range(min(frames, 500)):
            image.seek(frame)
            text = _read_image(image.convert("RGB"), context)
            if text.strip():
                meta: dict[str, Any] = {"ocr": True}
                if frames > 1:
                    meta["page"] = frame + 1
                sections.append((text, meta))
    except LoadError:
        raise
    except Exception as exc:  # PIL: unreadable, truncated, decompression bomb
        raise LoadError(f"unreadable image: {type(exc).__name__}: {exc}") from None
    context.pages += len(sections)
    return sections
