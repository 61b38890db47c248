"""MkDocs hook: API entries for modules that may not exist in every version.

A line `<!-- optional-modules: ragloom.a ragloom.b -->` in a page becomes one
`::: ragloom.a` block per module that can be imported, so the strict build neither
fails on a module that is absent nor forgets one that is present.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any

_MARKER = re.compile(r"^<!-- optional-modules: (.+?) -->$", re.MULTILINE)
_TITLES = {"ragloom.evaluation": "Evaluation", "ragloom.doctor": "Doctor and pull"}


def _blocks(match: re.Match[str]) -> str:
    out = []
    for name in match.group(1).split():
        if importlib.util.find_spec(name) is not None:
            out.append(f"## {_TITLES.get(name, name)}\n\n::: {name}\n")
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Expand the optional-modules marker."""
    return _MARKER.sub(_blocks, markdown)
