"""`ragloom eval --answers SET.jsonl`: an answer set, with progress from the first case.

Example:
    ragloom eval --answers tests/data/answers/dev.jsonl --json dev.json

"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ragloom.answer_set import AnswerSetResult, CaseResult, evaluate_answer_set
from ragloom.config import RagConfig


def _f(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _tables(result: AnswerSetResult) -> list[Table]:
    s = result.settings
    head = Table(title=f"{result.cases} cases, {s['llm']}, {s['embeddings']},"
                       f" min_relevance={s['min_relevance']}")
    # Short headers: the table fits an 80-column terminal (CI logs) unwrapped.
    for column in ("mode", "c.prec", "c.rec", "ans.", "facts", "forb.", "med s", "p95 s",
                   "dec."):
        head.add_column(column, justify="right")
    head.add_row(_f(result.mode_accuracy), _f(result.citation_precision),
                 _f(result.citation_recall), _f(result.answered_when_answerable),
                 _f(result.facts), _f(result.forbidden_rate), _f(result.median_s, 2),
                 _f(result.p95_s, 2),
                 "n/a" if result.decision_share is None else f"{result.decision_share:.1%}")
    modes = Table(title="per mode")
    for column in ("mode", "expected", "chosen", "precision", "recall"):
        modes.add_column(column, justify="right")
    for mode, row in result.per_mode.items():
        modes.add_row(mode, str(row["expected"]), str(row["chosen"]), _f(row["precision"]),
                      _f(row["recall"]))
    return [head, modes]


def eval_answer_set(dataset: Path, cfg: RagConfig, json_out: Path | None, console: Console,
                    err_console: Console,
                    run: Callable[[Callable[[], Any]], Any]) -> None:
    """Evaluate the answer set, print its tables and write the JSON if asked."""
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(f"answering ({cfg.llm.model})", total=None)

        def on_case(done: int, total: int, case: CaseResult) -> None:
            mark = "✓" if case.mode_right else "✗"
            progress.update(task, completed=done, total=total)
            progress.console.print(Text(
                f"{mark} {case.id}: {case.mode} (expected {case.expected_mode},"
                f" by {case.mode_by}) {case.seconds:.1f} s"), style="dim", highlight=False)

        result: AnswerSetResult = run(
            lambda: evaluate_answer_set(dataset, cfg, progress=on_case))
    for table in _tables(result):
        console.print(table)
    if result.attributed:
        console.print(Text(f"citations attributed after the fact (answer.attribute_citations):"
                           f" {result.attributed}, precision"
                           f" {_f(result.attributed_precision)}"), highlight=False)
    if json_out is not None:
        data: dict[str, Any] = {"answers": result.to_dict()}
        json_out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        console.print(Text(f"wrote {json_out}"), style="dim", highlight=False)
