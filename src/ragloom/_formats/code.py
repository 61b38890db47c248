r"""Source code, split on the language's own boundaries (LangChain's language splitters).

Each section is one chunk of code cut at classes and functions first, with `language`,
`line_start`, `line_end`, `symbol` (the first class or function the chunk defines,
when it defines one) and `location` (`lines 10-42 (def rotate)`).

Example:
    >>> from pathlib import Path
    >>> code = b"def a():\n    return 1\n\n\ndef b():\n    return 2\n"
    >>> [(m["line_start"], m["symbol"]) for _, m in
    ...  load_code(code, LoadContext(Path("m.py"), chunk_size=30, chunk_overlap=0))]
    [(1, 'a'), (5, 'b')]

"""

from __future__ import annotations

import re
from typing import Any

from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

from ragloom._formats._base import LoadContext, Section
from ragloom._formats.text import decode

__all__ = ["CODE_SUFFIXES", "load_code"]

CODE_SUFFIXES: dict[str, Language | None] = {
    ".py": Language.PYTHON, ".pyi": Language.PYTHON,
    ".js": Language.JS, ".mjs": Language.JS, ".cjs": Language.JS, ".jsx": Language.JS,
    ".ts": Language.TS, ".tsx": Language.TS, ".go": Language.GO, ".rs": Language.RUST,
    ".java": Language.JAVA, ".kt": Language.KOTLIN, ".kts": Language.KOTLIN,
    ".scala": Language.SCALA, ".c": Language.C, ".h": Language.C, ".cpp": Language.CPP,
    ".cc": Language.CPP, ".cxx": Language.CPP, ".hpp": Language.CPP, ".hh": Language.CPP,
    ".cs": Language.CSHARP, ".rb": Language.RUBY, ".php": Language.PHP,
    ".swift": Language.SWIFT, ".lua": Language.LUA, ".pl": Language.PERL,
    ".hs": Language.HASKELL, ".ex": Language.ELIXIR, ".exs": Language.ELIXIR,
    ".sol": Language.SOL, ".proto": Language.PROTO, ".r": Language.R,
    ".ps1": Language.POWERSHELL,
    ".sh": None, ".bash": None, ".zsh": None,  # no LangChain splitter: see _SHELL
}
"""Suffixes read as code, with the LangChain language that splits them."""
_SHELL = ["\nfunction ", "\n\n", "\n", " ", ""]
"""Shell scripts (no LangChain language): functions first, then blank lines."""
_SYMBOL = re.compile(
    r"^[ \t]*(?:export\s+|pub(?:\([^)]*\))?\s+|async\s+|static\s+|public\s+|private\s+|"
    r"protected\s+|abstract\s+|final\s+)*"
    r"(?:def|class|func|fn|function|interface|struct|enum|trait|impl|module|object|"
    r"type|sub|defmodule|defp?|contract)\s+(?:\([^)]*\)\s*)?([A-Za-z_][\w.]*)",
    re.MULTILINE)


def load_code(data: bytes, context: LoadContext) -> list[Section]:
    """A source file: chunks cut at the language's definitions, with line ranges."""
    text = decode(data)
    suffix = context.path.suffix.lower()
    language = CODE_SUFFIXES.get(suffix)
    size, overlap = context.chunk_size, context.chunk_overlap
    if language is None:
        splitter = RecursiveCharacterTextSplitter(
            separators=_SHELL, chunk_size=size, chunk_overlap=overlap, add_start_index=True)
        name = "shell" if suffix in (".sh", ".bash", ".zsh") else "text"
    else:
        splitter = RecursiveCharacterTextSplitter.from_language(
            language, chunk_size=size, chunk_overlap=overlap, add_start_index=True)
        name = language.value
    sections: list[Section] = []
    for doc in splitter.create_documents([text]):
        start = int(doc.metadata.get("start_index", 0))
        first = text.count("\n", 0, max(start, 0)) + 1
        last = first + doc.page_content.rstrip("\n").count("\n")
        meta: dict[str, Any] = {"language": name, "line_start": first, "line_end": last}
        label = f"line {first}" if first == last else f"lines {first}\u2013{last}"
        match = _SYMBOL.search(doc.page_content)
        if match:
            meta["symbol"] = match.group(1)
            label += f" ({match.group(1)})"
        meta["location"] = label
        sections.append((doc.page_content, meta))
    context.pages += 1
    return sections
