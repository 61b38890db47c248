"""`ragloom eval`: score retrieval (and with `--answers` the answers) on a labelled set.

Example:
    ragloom ingest tests/data/eval/corpus && ragloom eval tests/data/eval/questions.jsonl

"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ragloom._cli_common import console, err_console, load_config, run, user_config

if TYPE_CHECKING:
    from ragloom.config import RagConfig


def eval_retrieval(dataset: Path, config: Path | None, k: int | None, mode: str | None,
                   search: str | None, json_out: Path | None, answers: bool,
                   tenant: str | None, group: list[str] | None) -> None:
    """Score retrieval on a labelled dataset: recall@k, MRR@k, nDCG@k and timings."""
    from ragloom.evaluation import evaluate

    if answers:
        from ragloom._cli_answers import eval_answer_set
        from ragloom.answer_set import is_answer_set

        if is_answer_set(dataset):
            if tenant is not None or group:
                run(lambda: _no_identity_for_answer_sets(dataset))
            eval_answer_set(dataset, run(lambda: load_config(config)), json_out,
                            console, err_console, run)
            return

    retrieval = {key: value for key, value in {"mode": mode, "search": search}.items() if value}
    cfg = run(lambda: load_config(config, **({"retrieval": retrieval} if retrieval else {})))
    if json_out is not None:
        run(lambda: _check_writable(json_out))
    user = user_config(tenant, group).get("configurable", {}).get("ragloom_user")
    result = run(lambda: evaluate(dataset, cfg, k=k, user=user))
    s = result.settings
    table = Table(title=f"{result.questions} questions, {s['mode']}/{s['search']},"
                        f" k={result.k}, {s['embeddings']}")
    for column in (f"recall@{result.k}", f"MRR@{result.k}", f"nDCG@{result.k}",
                   "median ms", "p95 ms"):
        table.add_column(column, justify="right")
    table.add_row(f"{result.recall:.3f}", f"{result.mrr:.3f}", f"{result.ndcg:.3f}",
                  f"{result.median_ms:.1f}", f"{result.p95_ms:.1f}")
    console.print(table)
    data = result.to_dict()
    if answers:
        data["answers"] = _eval_answers(dataset, cfg, user)
    if json_out is not None:
        json_out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        console.print(Text(f"wrote {json_out}"), style="dim", highlight=False)


def _check_writable(path: Path) -> None:
    """Refuse, before a long run, a `--json` file that could not be written after it."""
    from ragloom.errors import InvalidInput

    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InvalidInput(f"--json {str(path)!r} is a folder: give a file name, e.g."
                           f" {str(path / 'eval.json')!r}")
    if not folder.is_dir():
        raise InvalidInput(f"--json {str(path)!r}: the folder {str(folder)!r} does not exist;"
                           " create it first (mkdir -p), or write the file elsewhere")


def _no_identity_for_answer_sets(dataset: Path) -> None:
    from ragloom.errors import InvalidInput

    raise InvalidInput(f"{dataset} is an answer set, which builds its own collection per"
                       " case: --tenant/--group do not apply. Evaluate a tenant with a"
                       " retrieval dataset (question + relevant_sources) instead")


def _eval_answers(dataset: Path, cfg: RagConfig,
                  user: dict[str, Any] | None = None) -> dict[str, Any]:
    from ragloom.answer_eval import evaluate_chain

    columns = (TextColumn("asking the chat model"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("answers", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = run(lambda: evaluate_chain(dataset, cfg, on_progress=on_progress,
                                             user=user))
    table = Table(title=f"answers: {result.answerable} answerable + {result.unanswerable}"
                        f" unanswerable, {result.settings['llm']},"
                        f" min_relevance={result.settings['min_relevance']}")
    # Short headers: the table must fit an 80-column terminal (CI logs) unwrapped.
    for column in ("cite prec. (n)", "citing", "abstain acc.", "abstained unans.",
                   "answered ans.", "median s", "p95 s", "bar hint"):
        table.add_column(column, justify="right")
    precision = result.citation_precision
    bar = result.suggested_min_relevance
    answered = sum(r.grounded for r in result.per_question)
    table.add_row("n/a" if precision is None else f"{precision:.2f} ({result.citations})",
                  f"{result.citing_answers}/{answered}",
                  f"{result.abstention_accuracy:.3f}", f"{result.abstained_when_unanswerable:.3f}",
                  f"{result.answered_when_answerable:.3f}", f"{result.median_s:.2f}",
                  f"{result.p95_s:.2f}", "n/a" if bar is None else f"{bar:.3f}")
    console.print(table)
    return result.to_dict()
