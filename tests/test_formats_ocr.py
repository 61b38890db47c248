"""OCR of scanned pages: drawn in the test, wrapped in a PDF, read back by Tesseract."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from ragloom import RagConfig
from ragloom._formats import ocr
from ragloom._loaders import LoadContext, LoadError, load_sections
from ragloom.ingestion import ingest
from ragloom.store import build_vector_store
from tests.test_ingest_loaders import make_pdf

SCANNED = "Invoices are archived for seven years"

# A fresh machine may lack Tesseract (a system package, not a pip one): the tests that
# read pixels skip there, naming the install. CI installs it and sets
# RAGLOOM_REQUIRE_TESSERACT=1, which turns that skip into a failure.
REQUIRED = os.environ.get("RAGLOOM_REQUIRE_TESSERACT") == "1"
needs_tesseract = pytest.mark.skipif(
    not REQUIRED and ocr.tesseract_version() is None,
    reason=f"needs Tesseract: {ocr.INSTALL_HINT}")


def scanned_pdf(text: str = SCANNED) -> bytes:
    """A page with no text layer: the words exist only as pixels."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1400, 300), 255)
    ImageDraw.Draw(image).text((40, 110), text, fill=0, font=ImageFont.load_default(size=48))
    out = io.BytesIO()
    image.save(out, "PDF", resolution=150)
    return out.getvalue()


def mixed_pdf() -> bytes:
    """Page 1 has a text layer, page 2 is a scan."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for data in (make_pdf(["Text layer page about refunds."]), scanned_pdf()):
        writer.add_page(PdfReader(io.BytesIO(data)).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def no_tesseract(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    ocr.tesseract_version.cache_clear()
    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)
    yield
    ocr.tesseract_version.cache_clear()


def words(text: str) -> list[str]:
    return text.lower().split()


@pytest.mark.skipif(not REQUIRED, reason="RAGLOOM_REQUIRE_TESSERACT is not set (.ci/run sets it)")
def test_tesseract_is_installed_for_these_tests() -> None:
    # Without it the OCR tests below would skip and prove nothing.
    assert ocr.tesseract_version() is not None, ocr.INSTALL_HINT


@needs_tesseract
def test_scanned_pdf_is_read_by_ocr() -> None:
    [(text, meta)] = load_sections(Path("scan.pdf"), scanned_pdf())
    assert meta == {"page": 1, "ocr": True}
    assert words(SCANNED) == words(text)


@needs_tesseract
def test_only_pages_without_text_layer_go_to_ocr() -> None:
    context = LoadContext(Path("mixed.pdf"))
    found = load_sections(Path("mixed.pdf"), mixed_pdf(), context)
    assert [m for _, m in found] == [{"page": 1}, {"page": 2, "ocr": True}]
    assert "refunds" in found[0][0] and "seven years" in found[1][0].lower()
    assert context.pages == 2 and context.notes == []


@needs_tesseract
def test_png_image_is_read_by_ocr() -> None:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1400, 200), "white")
    ImageDraw.Draw(image).text((40, 60), "Badges open the north door",
                               fill="black", font=ImageFont.load_default(size=48))
    out = io.BytesIO()
    image.save(out, "PNG")
    [(text, meta)] = load_sections(Path("sign.png"), out.getvalue())
    assert meta == {"ocr": True} and "north door" in text.lower()


def test_ocr_off_leaves_scans_out_with_a_reason() -> None:
    with pytest.raises(LoadError, match=r"ingest\.ocr is off"):
        load_sections(Path("scan.pdf"), scanned_pdf(), LoadContext(Path("scan.pdf"), ocr="off"))
    context = LoadContext(Path("mixed.pdf"), ocr="off")
    assert [m for _, m in load_sections(Path("mixed.pdf"), mixed_pdf(), context)] == [
        {"page": 1}]
    assert context.notes == ["page 2 without a text layer skipped (ingest.ocr is off)"]


@pytest.mark.usefixtures("no_tesseract")
def test_without_tesseract_the_report_names_the_pages_and_the_install(tmp_path: Path) -> None:
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf())
    (tmp_path / "mixed.pdf").write_bytes(mixed_pdf())
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": "ocr_missing"},
                    retrieval={"mode": "sparse"}, ingest={"root": str(tmp_path)})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    report = ingest([tmp_path], cfg, store=store)
    assert report.added == 1  # mixed.pdf: its text page
    [failed] = report.failed
    assert failed.path == "scan.pdf"
    assert "apt-get install tesseract-ocr tesseract-ocr-eng" in failed.reason
    assert report.notes == [
        "mixed.pdf: page 2 without a text layer needs OCR: " + ocr.INSTALL_HINT]


@pytest.mark.usefixtures("no_tesseract")
def test_ocr_on_without_tesseract_fails_the_file() -> None:
    with pytest.raises(LoadError, match="pip install 'ragloom\\[ocr\\]'"):
        load_sections(Path("mixed.pdf"), mixed_pdf(), LoadContext(Path("mixed.pdf"), ocr="on"))
