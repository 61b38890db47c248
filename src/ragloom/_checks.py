"""`Check`: one outcome of `ragloom doctor`, shared by the doctor and the providers' checks.

Example:
    >>> Check("chat model present", "fail", "nosuch not found", fix="ragloom pull nosuch").symbol
    '✗'

"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ragloom._redact import redact

__all__ = ["SYMBOLS", "Check", "Status", "has_model"]

Status = Literal["ok", "warn", "fail"]
SYMBOLS: dict[str, str] = {"ok": "✓", "warn": "!", "fail": "✗"}
"""How each status is shown on a terminal."""


@dataclass(frozen=True)
class Check:
    """One doctor check and its outcome.

    Example:
        >>> Check("chat model present", "fail", "nosuch not found",
        ...       fix="ragloom pull nosuch").symbol
        '✗'

    """

    name: str
    """What was checked, e.g. `chat model present`."""
    status: Status
    """`ok`, `warn` (works, but worth knowing) or `fail` (will not work)."""
    detail: str
    """What was found."""
    fix: str | None = None
    """The command or setting that fixes a `warn` or `fail`."""

    def __post_init__(self) -> None:
        # A URL with a password (OLLAMA_HOST=http://user:pw@host) is shown masked.
        for name in ("name", "detail", "fix"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, redact(value))

    @property
    def symbol(self) -> str:
        """✓, ! or ✗."""
        return SYMBOLS[self.status]


def has_model(names: list[str], model: str) -> bool:
    """Whether `model` is among `names`, an untagged name meaning `:latest` as Ollama has it.

    Example:
        >>> has_model(["llama3.2:latest"], "llama3.2"), has_model(["a:1b"], "a")
        (True, False)

    """
    wanted = model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"
    return wanted in names or model in names
