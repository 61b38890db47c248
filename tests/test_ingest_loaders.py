"""ragloom._loaders: loading by extension, failure reasons, splitting, discovery, naming."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest

from ragloom._loaders import (
    LoadError,
    Splitter,
    discover,
    glob_regex,
    is_under,
    load_sections,
)
from ragloom._sources import source_id

DATA = Path(__file__).parent / "data" / "docs"


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF: each page shows its text, one Helvetica line per line."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
            " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages))).encode(), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        shown = " ".join(
            "({}) Tj T*".format(line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)"))
            for line in text.splitlines()
        )
        stream = f"BT /F1 11 Tf 14 TL 50 780 Td {shown} ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def test_text_loads_as_one_section() -> None:
    assert load_sections(Path("a.txt"), "héllo\nworld".encode()) == [("héllo\nworld", {})]


@pytest.mark.parametrize(("bom", "encoding"), [
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
])
def test_text_with_a_bom_is_decoded(bom: bytes, encoding: str) -> None:
    [(text, _)] = load_sections(Path("a.txt"), bom + "naïve café".encode(encoding))
    assert text == "naïve café"


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("empty.txt", b"", "empty file"),
    ("blank.md", b"  \n\n\t ", "no text"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    ("latin1.txt", "café".encode("latin-1"), "encoding problem: not UTF-8 (byte 0xe9 at offset 3)"),
    ("broken.pdf", b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog", "corrupt PDF"),
    ("fake.pdf", b"hello, I am not a pdf", "corrupt PDF: no %PDF- header"),
    ("blank.pdf", make_pdf([""]), "PDF without extractable text"),
    ("sheet.xlsx", b"PK\x03\x04", "corrupt XLSX file (not a valid zip container"),
    ("deck.key", b"PK\x03\x04", ".key has no loader"),
    ("page.html", b"<html><body>\x00\x01\x02</body></html>", "binary file"),
])
def test_unusable_files_raise_load_error_with_a_reason(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(LoadError, match="^" + reason.replace("(", r"\(").replace(")", r"\)")):
        load_sections(Path(name), data)


def test_pdf_has_one_section_per_page_numbered_from_one() -> None:
    sections = load_sections(Path("x.pdf"), make_pdf(["first page", "", "third page"]))
    assert [(text.strip(), meta) for text, meta in sections] == [
        ("first page", {"page": 1}), ("third page", {"page": 3}),
    ]


def test_markdown_keeps_headers_in_metadata_and_text() -> None:
    sections = load_sections(Path("x.md"), (DATA / "security" / "api-keys.md").read_bytes())
    metas = [meta for _, meta in sections]
    assert metas == [
        {"h1": "Security handbook"},
        {"h1": "Security handbook", "h2": "Rotating API keys"},
        {"h1": "Security handbook", "h2": "Reporting an incident"},
    ]
    assert sections[1][0].startswith("## Rotating API keys")


def test_html_text_without_scripts_and_styles_title_in_metadata() -> None:
    [(text, meta)] = load_sections(Path("x.html"), (DATA / "onboarding.html").read_bytes())
    assert meta == {"title": "Onboarding guide"}
    assert "laptop from the IT desk" in text
    assert "console.log" not in text and "font-family" not in text


def test_html_declared_charset_is_honoured() -> None:
    html = '<html><head><meta charset="latin-1"><title>Café</title></head><body>crème</body>'
    [(text, meta)] = load_sections(Path("x.htm"), html.encode("latin-1"))
    assert (text, meta) == ("crème", {"title": "Café"})


def test_splitter_keeps_section_metadata_on_each_chunk() -> None:
    chunks = Splitter(chunk_size=20, chunk_overlap=0).split(
        [("one two three four five six seven", {"page": 2})])
    assert len(chunks) > 1
    assert all(c.metadata == {"page": 2} and len(c.text) <= 20 for c in chunks)


def test_discover_sorts_dedupes_and_skips_hidden(tmp_path: Path) -> None:
    for name in ("b.md", "a.txt", "sub/c.pdf", ".git/x.md", "sub/.hidden.txt", "skip.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = list(discover([tmp_path, tmp_path / "a.txt"], ["**/*.md", "**/*.txt", "**/*.pdf"]))
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.txt", "b.md", "sub/c.pdf"]


@pytest.mark.parametrize("pattern", [
    "**/*.md", "*.md", "sub/*.txt", "**/sub/**/*.txt", "**/[ab].txt", "**/[!a].txt", "**/?.pdf",
    "**/*",
])
def test_glob_regex_finds_what_pathlib_glob_finds(tmp_path: Path, pattern: str) -> None:
    for name in ("a.md", "b.txt", "a.txt", "sub/c.md", "sub/d.txt", "sub/deep/sub/e.txt",
                 "sub/f.pdf", "x.pdf"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    expected = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob(pattern)
                      if p.is_file())
    found = list(discover([tmp_path], [pattern]))
    assert [p.relative_to(tmp_path).as_posix() for p in found] == expected
    assert all(glob_regex(pattern).fullmatch(name) for name in expected)


def test_trailing_double_star_finds_files_as_python_3_13_glob_does(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deep").mkdir(parents=True)
    (tmp_path / "sub" / "deep" / "a.md").write_text("x")
    assert [p.name for p in discover([tmp_path], ["sub/**"])] == ["a.md"]


def test_discover_survives_a_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.md").write_text("x")
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    found = [p.relative_to(tmp_path).as_posix() for p in discover([tmp_path], ["**/*.md"])]
    assert found[0] == "d/a.md" and len(found) <= 2


def test_discover_yields_a_named_file_whatever_its_pattern(tmp_path: Path) -> None:
    assert list(discover([tmp_path / "notes.rst"], ["**/*.md"])) == [tmp_path / "notes.rst"]


def test_source_id_relative_under_root_else_absolute(tmp_path: Path) -> None:
    root = os.path.realpath(tmp_path)
    assert source_id(tmp_path / "docs" / ".." / "docs" / "a.md", root) == "docs/a.md"
    assert source_id("docs/a.md", root) == "docs/a.md"  # the test runs in tmp_path
    assert source_id("/opt/x.md", root) == "/opt/x.md"
    assert source_id(tmp_path, root) == "."
    assert source_id(tmp_path / "a.md", None) == Path(root, "a.md").as_posix()


@pytest.mark.parametrize(("source", "root", "expected"), [
    ("docs/a.md", "docs", True), ("docs/a.md", "docs/a.md", True), ("docs2/a.md", "docs", False),
    ("a.md", ".", True), ("/abs/a.md", ".", False), ("/abs/a.md", "/abs", True),
])
def test_is_under(source: str, root: str, expected: bool) -> None:
    assert is_under(source, root) is expected
