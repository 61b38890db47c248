"""pytest plugin: the code blocks of README.md and docs/*.md run as tests (issue 16).

pytest-codeblocks (`--codeblocks`) turns each ```python / ```bash / ```sh block into a
test item and reads the markers written as HTML comments above a block (invisible on the
rendered site): `<!--pytest.mark.skip(reason="...")-->` for a block that cannot run,
`<!--pytest-codeblocks:cont-->` to continue the block before it, and
`<!--pytest-codeblocks:expected-output-ignore-whitespace-->` to compare a block's output
with the next block (how quoted error messages are checked against the code). This
plugin adds what a reader's situation needs:

- every page runs in a fresh working folder of its own holding a copy of `docs/` (the
  corpus the examples ingest, with the data files under `docs/examples/`), blocks in
  page order, so a page works as a reader follows it from the top;
- ragloom's embedded Qdrant clients are closed after each block, so a shell block's
  `ragloom ...` can open the folder a Python block used;
- every runnable-looking block is accounted for: a block in a language the tool would
  silently ignore (```py, ```shell, ```console...) or a skip without a reason fails the run;
- the log ends with the list of blocks run and their count.

Why pytest-codeblocks (0.18, MIT, pure Python, depends on pytest only): it runs both
Python and shell blocks (pytest-markdown-docs runs Python only), each block is a pytest
item, so the log names every block and pytest's marks, reasons and xfail apply (mktestdocs
leaves the parametrizing and skipping to hand-written code), its markers are HTML comments
that the rendered site does not show, and its expected-output blocks check the error
messages the docs quote.

Run (needs the Ollama-API test server; see .ci/docs-and-notebooks):
    python -m pytest -p tests.doc_examples --codeblocks README.md docs/ -o addopts=""
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RUNNABLE = {"python", "bash", "sh"}
# Languages a reader would run but pytest-codeblocks would skip without a word.
UNSUPPORTED = {"py", "python3", "pycon", "shell", "console", "zsh", "ipython"}
FENCE = re.compile(r"^\s*(`{3,})\s*([\w+-]*)")


def _fences(path: Path) -> list[tuple[int, str]]:
    """(line number, language) of every fenced block that opens in `path`."""
    found, closing = [], ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = FENCE.match(line)
        if not match:
            continue
        if closing:
            if match.group(1) == closing and not match.group(2):
                closing = ""
            continue
        closing = match.group(1)
        found.append((number, match.group(2).lower()))
    return found


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def _is_doc_block(item: pytest.Item) -> bool:
    return type(item).__name__ == "TestBlock" and item.path.suffix == ".md"


class _Pages:
    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="ragloom-doc-examples-"))
        self.folders: dict[Path, Path] = {}
        self.results: list[tuple[str, str, str]] = []  # (block, outcome, reason)
        self.fences = 0  # python/bash/sh blocks in the pages, hidden ones included

    def folder(self, page: Path) -> Path:
        """The page's working folder, made fresh the first time: a copy of docs/."""
        if page not in self.folders:
            folder = self.base / page.relative_to(ROOT).as_posix().replace("/", "__")
            shutil.copytree(DOCS, folder / "docs",
                            ignore=shutil.ignore_patterns("_hooks", "notebooks"))
            self.folders[page] = folder
        return self.folders[page]


_pages = _Pages()


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    problems = []
    pages = sorted({item.path for item in items if _is_doc_block(item)})
    for page in pages:
        for line, language in _fences(page):
            _pages.fences += language in RUNNABLE
            if language in UNSUPPORTED:
                problems.append(f"{page.relative_to(ROOT)}:{line}: ```{language} is not run;"
                                " write ```python or ```bash (or mark the block skipped)")
    for item in items:
        if not _is_doc_block(item):
            continue
        for mark in item.iter_markers("skip"):
            if not (mark.kwargs.get("reason") or mark.args):
                problems.append(f"{item.nodeid}: skipped without a reason; write"
                                ' <!--pytest.mark.skip(reason="why it cannot run")-->')
    if problems:
        raise pytest.UsageError("doc examples:\n  " + "\n  ".join(problems))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    if not _is_doc_block(item):
        yield
        return
    previous = Path.cwd()
    os.chdir(_pages.folder(item.path))
    try:
        outcome = yield
        error = outcome.exception
        if isinstance(error, subprocess.CalledProcessError):
            # pytest-codeblocks would report only the exit status: show what the shell said.
            outcome.force_exception(RuntimeError(
                f"{item.name}: the shell block exited with status {error.returncode}:\n"
                f"```\n{error.cmd}```\nstdout:\n{_text(error.stdout)}\n"
                f"stderr:\n{_text(error.stderr)}"))
    finally:
        if "ragloom.store" in __import__("sys").modules:
            from ragloom.store import close_clients

            close_clients()  # release the embedded folder for the next block's subprocess
        os.chdir(previous)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.nodeid.split("::")[0].endswith(".md"):
        return
    if report.when == "call" or (report.when == "setup" and report.skipped):
        reason = ""
        if hasattr(report, "wasxfail"):
            _pages.results.append((report.nodeid, "xfailed", report.wasxfail))
            return
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        _pages.results.append((report.nodeid, report.outcome, reason))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _pages.results:
        return
    write = terminalreporter.write_line
    terminalreporter.section("doc examples")
    ran = [r for r in _pages.results if r[1] in ("passed", "failed")]
    for nodeid, outcome, _ in ran:
        write(f"  ran      {nodeid}  {outcome.upper()}")
    for nodeid, _, reason in (r for r in _pages.results if r[1] == "xfailed"):
        write(f"  xfail    {nodeid}  ({reason})")
    skipped = [r for r in _pages.results if r[1] == "skipped"]
    for nodeid, _, reason in skipped:
        write(f"  not run  {nodeid}  ({reason})")
    failed = sum(1 for r in ran if r[1] == "failed")
    xfailed = sum(1 for r in _pages.results if r[1] == "xfailed")
    pages = len({r[0].split("::")[0] for r in _pages.results})
    write(f"doc examples: {len(ran)} blocks run ({failed} failed, {xfailed} more expected to"
          f" fail), {len(skipped)} marked not runnable, in {pages} pages;"
          f" working folders under {_pages.base}")
    write(f"({_pages.fences} python/bash/sh fenced blocks in all, hidden checks included;"
          " blocks joined by pytest-codeblocks:cont run as one)")
