"""Griffe extension: render ragloom's `Example:` docstring sections as examples.

ragloom's docstrings use Google style with a singular `Example:` heading, which Griffe
treats as a plain admonition and renders as Markdown (so `>>>` lines become nested
quotes and `x["a"]["b"]` looks like a link). This renames the heading to `Examples:`,
Griffe's examples section, where `>>>` blocks are rendered as Python console code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename `Example:` to `Examples:` in every docstring before it is parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the docstring of each loaded object."""
        if obj.docstring is not None:
            obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
