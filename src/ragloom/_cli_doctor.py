"""`ragloom doctor` and `ragloom pull`: check the models, servers and store; fetch models.

Example:
    ragloom doctor || ragloom pull

"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from ragloom._cli_common import console, err_console, load_config, run
from ragloom._redact import mask_url


def doctor(config: Path | None, as_json: bool) -> None:
    """Check models, servers and the collection: ✓ ok, ! warning, ✗ failed (exit 1)."""
    from ragloom.doctor import run_doctor

    cfg = run(lambda: load_config(config))
    report = run(lambda: run_doctor(cfg))
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        raise typer.Exit(report.exit_code)
    styles = {"ok": "green", "warn": "yellow", "fail": "bold red"}
    for check in report.checks:
        console.print(f"[{styles[check.status]}]{check.symbol}[/]"
                      f" {escape(f'{check.name}: {check.detail}')}",
                      highlight=False, soft_wrap=True)
        if check.fix and check.status != "ok":
            console.print(Text(f"    fix: {check.fix}"), style="dim", highlight=False,
                          soft_wrap=True)
    raise typer.Exit(report.exit_code)


def pull(models: list[str] | None, config: Path | None) -> None:
    """Pull models (Ollama: through /api/pull) with a progress bar (default: the missing ones)."""
    from ragloom.doctor import _missing
    from ragloom.providers import get_provider

    cfg = run(lambda: load_config(config))
    targets: list[tuple[Any, str, Any]]
    if models:
        provider = run(lambda: get_provider(cfg.llm.provider))
        targets = [(provider, model, cfg.llm) for model in models]
    else:
        targets = [(provider, use.settings.model, use.settings)
                   for provider, use, _ in run(lambda: _missing(cfg, 10.0))]
        if not targets:
            console.print("[green]✓[/] every configured model is present", highlight=False)
            return
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
               DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn())
    for provider, model, settings in targets:
        pull_model = getattr(provider, "pull_model", None)
        if pull_model is None:
            err_console.print("[bold red]error:[/] " + escape(
                f"the {provider.name} provider cannot pull models; make {model!r} available"
                " on its server another way"), highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        with Progress(*columns, console=err_console, transient=True) as progress:
            tasks: dict[str, TaskID] = {}

            def on_progress(p: Any, progress: Progress = progress,
                            tasks: dict[str, TaskID] = tasks, model: str = model) -> None:
                key = p.digest or "status"
                if key not in tasks:
                    tasks[key] = progress.add_task(f"{model}: {p.status}", total=p.total)
                progress.update(tasks[key], description=f"{model}: {p.status}",
                                total=p.total, completed=p.completed or 0)

            where = run(lambda: pull_model(model, settings,  # noqa: B023
                                            on_progress=on_progress))
        console.print(f"[green]✓[/] {escape(f'pulled {model} at {mask_url(where)}')}",
                      highlight=False)
