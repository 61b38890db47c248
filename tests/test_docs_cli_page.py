"""docs/cli.md lists every command of `ragloom` and every option each one takes."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from ragloom.cli import app

PAGE = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
GLOBAL = {"--config", "-c", "--help"}  # described once, above the table


def table_rows() -> dict[str, str]:
    """Command name → the synopsis in its table row (`ragloom NAME ...`)."""
    rows = {}
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`ragloom (\w+)([^`]*)`\s*\|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_every_command_and_option_is_on_the_cli_page() -> None:
    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    rows = table_rows()
    assert set(rows) == set(commands), "commands on the page != commands of ragloom"
    missing = [
        f"ragloom {name} {option}"
        for name, command in commands.items()
        for param in command.params if param.param_type_name == "option"
        for option in [*param.opts, *param.secondary_opts]
        if option.startswith("--") and option not in GLOBAL
        and not re.search(re.escape(option) + r"(?![\w-])", rows[name])
    ]
    assert not missing, f"options missing from docs/cli.md: {missing}"
    assert "--config/-c FILE" in PAGE.read_text(encoding="utf-8")
