"""What every `ragloom` command shares: the consoles, the error line, the sources table.

The commands' bodies (`_cli_*.py`) import this when they run; `cli.py` itself holds
only the command signatures, so `ragloom --help` loads none of them.

Example:
    >>> from ragloom._cli_common import user_config
    >>> user_config("acme", ["ops"])
    {'configurable': {'ragloom_user': {'tenant': 'acme', 'groups': ['ops']}}}

"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ragloom.errors import RagloomError

if TYPE_CHECKING:
    from ragloom.config import RagConfig

console = Console()
err_console = Console(stderr=True)

T = TypeVar("T")


def load_config(path: Path | None = None, **overrides: Any) -> RagConfig:
    """`ragloom.config.load_config`, imported when a command runs (keeps `--help` fast)."""
    from ragloom.config import load_config as load

    return load(path, **overrides)


def run(action: Callable[[], T]) -> T:
    """Run `action`, turning ragloom's errors into a red line and exit code 1."""
    try:
        return action()
    except RagloomError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False,
                          soft_wrap=True)
        raise typer.Exit(1) from None


def where(meta: dict[str, Any]) -> str:
    """Where in its file a chunk is: `page 3`, `sheet Q3, rows 2-41`, `§Pricing`, or ''."""
    if meta.get("location"):
        return str(meta["location"])
    return "" if meta.get("page") is None else f"page {meta['page']}"


def sources_table(sources: list[Any]) -> Table:
    """The retrieved chunks as a table: number, file, where in it, score."""
    table = Table(title="Sources", show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("source")
    table.add_column("where", justify="right")
    table.add_column("score", justify="right")
    for n, doc in enumerate(sources, start=1):
        meta = doc.metadata
        score = meta.get("score")
        # A file name is data, not markup: "[/bold] a.txt" must print as is.
        table.add_row(str(n), Text(str(meta.get("source", doc.id or ""))),
                      Text(where(meta)),
                      "" if score is None else f"{score:.3f}")
    return table


def user_config(tenant: str | None, groups: list[str] | None) -> dict[str, Any]:
    """The chain's call config naming the user, when --tenant or --group is given."""
    if tenant is None and not groups:
        return {}
    return {"configurable": {"ragloom_user": {"tenant": tenant, "groups": groups or []}}}
