"""EPUB e-books, read with the standard library's `zipfile` and BeautifulSoup.

The chapters are read in spine order; each is cut at its headings (h1-h4), so every
section has `chapter` (its position in the spine, from 1), `heading` (the heading path)
and `location` (`chapter 3, §Title`); the book's title is `title`. Tables become
Markdown tables.

Example:
    >>> from pathlib import Path
    >>> load_epub(b"PK", LoadContext(Path("b.epub")))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ragloom._formats._base.LoadError: corrupt EPUB file (not a valid zip container: ...)

"""

from __future__ import annotations

import posixpath
import warnings
import zipfile
from typing import Any

from langchain_text_splitters import MarkdownHeaderTextSplitter

from ragloom._formats._base import LoadContext, LoadError, Section
from ragloom._formats._zip import check_zip
from ragloom._formats.text import MARKDOWN_HEADERS, html_tables_to_markdown

__all__ = ["load_epub"]


def _xml(archive: zipfile.ZipFile, name: str) -> Any:
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    try:
        with warnings.catch_warnings():  # html.parser reads the package XML well enough
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            return BeautifulSoup(archive.read(name), "html.parser")
    except KeyError:
        raise LoadError(f"corrupt EPUB file: {name!r} is missing") from None


def _spine(archive: zipfile.ZipFile) -> tuple[str, list[str]]:
    container = _xml(archive, "META-INF/container.xml")
    rootfile = container.find("rootfile")
    if rootfile is None or not rootfile.get("full-path"):
        raise LoadError("corrupt EPUB file: META-INF/container.xml names no package file")
    opf_path = str(rootfile["full-path"])
    opf = _xml(archive, opf_path)
    base = posixpath.dirname(opf_path)
    title_tag = opf.find("dc:title")
    title = title_tag.get_text(" ", strip=True) if title_tag is not None else ""
    manifest = {str(item.get("id")): str(item.get("href")) for item in opf.find_all("item")}
    hrefs = [manifest.get(str(ref.get("idref")), "") for ref in opf.find_all("itemref")]
    names = [posixpath.normpath(posixpath.join(base, h.split("#")[0])) for h in hrefs if h]
    return title, names


def _chapter_markdown(html: bytes) -> str:
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head"]):
        tag.decompose()
    html_tables_to_markdown(soup)
    for level in range(1, 5):
        for heading in soup.find_all(f"h{level}"):
            heading.replace_with(f"\n{'#' * level} {heading.get_text(' ', strip=True)}\n")
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    return "\n".join(line for line in lines if line)


def load_epub(data: bytes, context: LoadContext) -> list[Section]:
    """An EPUB book: chapters in reading order, cut at their headings."""
    archive = check_zip(data, "EPUB")
    try:
        title, chapters = _spine(archive)
        splitter = MarkdownHeaderTextSplitter(MARKDOWN_HEADERS, strip_headers=False)
        sections: list[Section] = []
        for number, name in enumerate(chapters, start=1):
            try:
                html = archive.read(name)
            except KeyError:
                context.notes.append(f"chapter {number} ({name}) is missing from the book")
                continue
            for doc in splitter.split_text(_chapter_markdown(html)):
                path = [str(doc.metadata[k]) for _, k in MARKDOWN_HEADERS if k in doc.metadata]
                meta: dict[str, Any] = {"chapter": number, "location": f"chapter {number}"}
                if title:
                    meta["title"] = title
                if path:
                    meta["heading"] = " > ".join(path)
                    meta["location"] += f", §{path[-1]}"
                sections.append((doc.page_content, meta))
    except LoadError:
        raise
    except Exception as exc:  # zlib errors, bad CRC, broken markup
        raise LoadError(f"corrupt EPUB file: {type(exc).__name__}: {exc}") from None
    context.pages += len(chapters)
    return sections
