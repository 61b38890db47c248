"""The `ragloom` command line: ingest documents, ask questions, inspect the config.

Example:
    $ ragloom ingest docs/
    $ ragloom ask "How do I rotate the API keys?"
    $ ragloom doctor && ragloom pull
    $ RAGLOOM_LLM__PROVIDER=openai RAGLOOM_LLM__MODEL=gpt-4o-mini ragloom ask "..."

"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from ragloom._redact import mask_url
from ragloom.errors import RagloomError

if TYPE_CHECKING:
    from ragloom.config import RagConfig

__all__ = ["app", "main"]

app = typer.Typer(
    name="ragloom",
    help="Retrieval-augmented generation over your documents: Ollama or OpenAI, Qdrant.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="A .yaml/.toml file (default: RAGLOOM_CONFIG or ./ragloom.yaml)."
    ),
]

T = TypeVar("T")


def load_config(path: Path | None = None, **overrides: Any) -> RagConfig:
    """`ragloom.config.load_config`, imported when a command runs (keeps `--help` fast)."""
    from ragloom.config import load_config as load

    return load(path, **overrides)


@app.callback()
def _global_options(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Retrieval-augmented generation over your documents: Ollama or OpenAI, Qdrant."""
    # `ragloom --config FILE COMMAND` works like `ragloom COMMAND --config FILE`: the file
    # becomes the command's default for --config (given after the command, that one wins).
    if config is not None and ctx.invoked_subcommand is not None:
        ctx.default_map = {ctx.invoked_subcommand: {"config": str(config)}}


def _run(action: Callable[[], T]) -> T:
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


def _sources_table(sources: list[Any]) -> Table:
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


TenantOption = Annotated[str | None, typer.Option(
    help="Ask as a user of this tenant: only its chunks and shared ones are retrieved.")]
GroupOption = Annotated[list[str] | None, typer.Option(
    "--group", help="A group the user belongs to (repeatable).")]


def _user_config(tenant: str | None, groups: list[str] | None) -> dict[str, Any]:
    """The chain's call config naming the user, when --tenant or --group is given."""
    if tenant is None and not groups:
        return {}
    return {"configurable": {"ragloom_user": {"tenant": tenant, "groups": groups or []}}}


_INTERRUPTED = "interrupted: the answer was stopped."


def _interruptible(produce: Callable[[], Iterator[T]]) -> Iterator[T]:
    """The items of `produce()`, made in a worker thread so that Ctrl-C stops at once.

    A model request blocked in the HTTP client would hold the main thread (and Ctrl-C)
    until it ends, up to `timeout_s`. Here the main thread only waits for items: on
    Ctrl-C it says so and leaves with exit code 130, abandoning the request (the
    process ends, so does the connection). Errors from `produce` are raised here.
    """
    import os
    import queue
    import threading

    items: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
            for item in produce():
                items.put(("item", item))
        except BaseException as exc:  # handed to the main thread
            items.put(("error", exc))
        else:
            items.put(("done", None))

    threading.Thread(target=work, name="ragloom-answer", daemon=True).start()
    try:
        while True:
            try:
                kind, value = items.get(timeout=0.1)
            except queue.Empty:
                continue
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    except KeyboardInterrupt:
        console.print()
        err_console.print(f"[yellow]{_INTERRUPTED}[/]", highlight=False)
        console.file.flush()
        err_console.file.flush()
        # Threads still waiting on the model would hold an orderly exit until it answers.
        os._exit(130)


def _stream_answer(cfg: RagConfig, payload: str | dict[str, Any],
                   call: dict[str, Any] | None = None) -> tuple[str, list[Any]]:
    from ragloom.chains import build_rag_chain

    chain = build_rag_chain(cfg)
    answer, sources, tail = "", [], {}
    def stream() -> Iterator[dict[str, Any]]:
        return chain.stream(payload, call) if call else chain.stream(payload)  # type: ignore[arg-type]

    for chunk in _interruptible(stream):
        if "sources" in chunk:
            sources = chunk["sources"]
        if "answer" in chunk:
            answer += chunk["answer"]
            console.print(chunk["answer"], end="", markup=False, highlight=False)
        if "grounded" in chunk:
            tail = chunk
    console.print()
    _print_checks(tail)
    return answer, sources


def _print_checks(tail: dict[str, Any]) -> None:
    """Say what the answer rests on: its citations, abstention, and what the checks found."""
    # Text, not markup: sources and citations come from documents and the model.
    checks = tail.get("checks") or {}
    cited = ", ".join(f"[{d.metadata['citation']}]" for d in tail.get("citations") or [])
    if tail.get("grounded") is False:
        reason = {"empty": "the model gave an empty answer",
                  "repeats_prompt": "the model only repeated the prompt"}.get(
                      str(checks.get("answer")), "no allowed model may read the context"
                      if checks.get("refused") else "no retrieved document is relevant enough")
        console.print(Text.assemble(("grounded: false", "yellow"), f" ({reason})"))
    elif cited:
        console.print(Text(f"cited: {cited}"))
    if checks.get("removed_citations"):
        removed = ", ".join(f"[{n}]" for n in checks["removed_citations"])
        console.print(Text.assemble(("removed citations without a source:", "yellow"),
                                    f" {removed}"))
    for flag in checks.get("flagged") or []:
        console.print(Text.assemble((f"{flag['action']}:", "yellow"),
                                    f" {flag['source']} holds instructions"
                                    f" ({', '.join(flag['rules'])})"))
    if "route_reason" in checks:  # only with `routing`: which model answered, and why
        console.print(Text(f"model: {checks.get('model') or 'none'} ({checks['route_reason']})"),
                      style="dim", highlight=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    config: ConfigOption = None,
    k: Annotated[int | None, typer.Option(min=1, help="Documents to retrieve (>= 1).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    tenant: TenantOption = None,
    group: GroupOption = None,
) -> None:
    """Answer a question from the ingested documents, streaming the answer, then its sources."""
    overrides: dict[str, Any] = {"retrieval": {"k": k}} if k is not None else {}
    cfg = _run(lambda: load_config(config, **overrides))
    call = _user_config(tenant, group)
    if as_json:
        from ragloom.chains import build_rag_chain

        chain = _run(lambda: build_rag_chain(cfg))
        result = _run(lambda: next(_interruptible(lambda: iter(
            [chain.invoke(question, call) if call else chain.invoke(question)]))))  # type: ignore[arg-type]
        print(json.dumps({
            "question": result["question"], "answer": result["answer"],
            "sources": [{"id": d.id, "content": d.page_content, "metadata": d.metadata}
                        for d in result["sources"]],
            "citations": [d.metadata["citation"] for d in result["citations"]],
            "grounded": result["grounded"], "checks": result["checks"],
        }, indent=2, default=str))
        return
    _, sources = _run(lambda: _stream_answer(cfg, question, call))
    if sources:
        console.print(_sources_table(sources))


@app.command()
def chat(config: ConfigOption = None, tenant: TenantOption = None,
         group: GroupOption = None) -> None:
    """Ask follow-up questions in a conversation (empty line or Ctrl-D to quit)."""
    cfg = _run(lambda: load_config(config))
    call = _user_config(tenant, group)
    history: list[tuple[str, str]] = []
    while True:
        try:
            question = console.input("[bold cyan]you>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        payload = {"question": question, "chat_history": list(history)}
        answer, sources = _run(lambda: _stream_answer(cfg, payload, call))  # noqa: B023
        if sources:
            console.print(_sources_table(sources))
        history += [("human", question), ("ai", answer)]


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    config: ConfigOption = None,
    prune: Annotated[
        bool, typer.Option(help="Delete chunks of files no longer under PATHS.")
    ] = False,
    glob: Annotated[
        list[str] | None, typer.Option(help="File pattern inside folders (repeatable).")
    ] = None,
    tenant: Annotated[str | None, typer.Option(
        help="Store the chunks for this tenant only (over ingest.access).")] = None,
    group: Annotated[list[str] | None, typer.Option(
        "--group", help="A group allowed to see the chunks (repeatable).")] = None,
    classification: Annotated[str | None, typer.Option(
        help="public | internal | confidential (confidential stays on local models).")
    ] = None,
) -> None:
    """Load, split, embed and store documents; unchanged files cost nothing."""
    from ragloom._access import Access
    from ragloom.ingestion import ingest as run_ingest

    cfg = _run(lambda: load_config(config))
    given = {key: value for key, value in {"tenant": tenant, "groups": group,
                                            "classification": classification}.items()
             if value is not None}
    access = _run(lambda: Access.parse(given, where="--tenant/--group/--classification")
                  ) if given else None
    with _ingest_progress() as on_progress:
        try:
            report = _run(lambda: run_ingest([str(p) for p in paths], cfg, prune=prune, glob=glob,
                                             on_progress=on_progress, access=access))
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted:[/] files already settled are stored; run the"
                              " same command again to finish (nothing is duplicated).")
            raise typer.Exit(130) from None
    table = Table(title=Text(
        f"Ingested into {cfg.qdrant.collection!r} in {report.duration_s:.1f} s"))
    for column in ("added", "updated", "unchanged", "deleted", "failed", "chunks written",
                   "chunks deleted"):
        table.add_column(column, justify="right")
    table.add_row(str(report.added), str(report.updated), str(report.unchanged),
                  str(report.deleted), str(len(report.failed)), str(report.chunks_written),
                  str(report.chunks_deleted))
    console.print(table)
    if report.rekeyed:
        console.print(Text(f"re-keyed {report.rekeyed} unchanged files to new access metadata"
                           " (no embedding)"), highlight=False)
    for note in report.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    for failure in report.failed:
        err_console.print(f"[red]failed:[/] {escape(f'{failure.path}: {failure.reason}')}",
                          highlight=False)
    if report.failed:
        raise typer.Exit(2)


@contextmanager
def _ingest_progress() -> Iterator[Callable[[Any], None]]:
    """A rich progress bar fed by `IngestProgress` events (files settled, chunks/s)."""
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("ingesting", total=None, rate="")

        def on_progress(event: Any) -> None:
            queued = max(event.chunks_queued, event.chunks_done)
            progress.update(task, total=event.files_total, completed=event.files_done,
                            rate=f"{event.pages_done} pages, {event.chunks_done}/{queued}"
                                 f" chunks embedded, {event.chunks_per_s:.0f}/s")

        yield on_progress


@app.command("config")
def show_config(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of YAML.")] = False,
) -> None:
    """Print the effective configuration (all sources merged), secrets masked.

    Each value says where it came from: `# env RAGLOOM_...`, `# file` or `# default`.
    """
    import yaml

    from ragloom.config import config_file

    cfg = _run(lambda: load_config(config))
    data = cfg.masked()
    if as_json:
        print(json.dumps(data, indent=2))
        return
    source = config if config is not None else _run(config_file)
    console.print(Text(f"# config file: {source or '(none)'}"), style="dim", highlight=False)
    from_file = _file_values(source)
    lines = []
    for section, values in data.items():
        lines.append(f"{section}:")
        for key, value in values.items():
            text = yaml.safe_dump({key: value}, sort_keys=False).rstrip("\n").splitlines()
            origin = _origin(section, key, from_file)
            lines += [f"  {text[0]}  # {origin}", *(f"  {line}" for line in text[1:])]
    print("\n".join(lines))


def _file_values(path: Path | None) -> dict[str, Any]:
    """The config file's sections as written (for `ragloom config`'s origins)."""
    if path is None:
        return {}
    from pydantic_settings import TomlConfigSettingsSource, YamlConfigSettingsSource

    from ragloom.config import RagConfig

    reader = (TomlConfigSettingsSource if Path(path).suffix == ".toml"
              else YamlConfigSettingsSource)
    return dict(reader(RagConfig, Path(path))())


def _origin(section: str, key: str, from_file: dict[str, Any]) -> str:
    """Where a value came from: an environment variable, the config file, or the default."""
    import os

    from ragloom.config import ENV_PREFIX

    env = {name.upper(): value for name, value in os.environ.items()}
    variable = f"{ENV_PREFIX}{section}__{key}".upper()
    if variable in env:
        return f"env {variable}"
    whole = f"{ENV_PREFIX}{section}".upper()
    if whole in env:
        try:
            if key in json.loads(env[whole]):
                return f"env {whole}"
        except (ValueError, TypeError):
            pass
    values = from_file.get(section)
    if isinstance(values, dict) and key in values:
        return "file"
    return "default"


@app.command()
def doctor(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check models, servers and the collection: ✓ ok, ! warning, ✗ failed (exit 1)."""
    from ragloom.doctor import run_doctor

    cfg = _run(lambda: load_config(config))
    report = _run(lambda: run_doctor(cfg))
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


@app.command()
def pull(
    models: Annotated[
        list[str] | None, typer.Argument(help="Models to pull (default: configured, missing).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Pull models (Ollama: through /api/pull) with a progress bar (default: the missing ones)."""
    from ragloom.doctor import _missing
    from ragloom.providers import get_provider

    cfg = _run(lambda: load_config(config))
    targets: list[tuple[Any, str, Any]]
    if models:
        provider = _run(lambda: get_provider(cfg.llm.provider))
        targets = [(provider, model, cfg.llm) for model in models]
    else:
        targets = [(provider, use.settings.model, use.settings)
                   for provider, use, _ in _run(lambda: _missing(cfg, 10.0))]
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

            where = _run(lambda: pull_model(model, settings,  # noqa: B023
                                            on_progress=on_progress))
        console.print(f"[green]✓[/] {escape(f'pulled {model} at {mask_url(where)}')}",
                      highlight=False)


@app.command("eval")
def eval_retrieval(
    dataset: Annotated[Path, typer.Argument(
        help='JSONL of {"question": ..., "relevant_sources": [...]} lines, or with'
             ' --answers an answer set (lines with "passages", "mode").')],
    config: ConfigOption = None,
    k: Annotated[int | None, typer.Option(min=1, help="Cut-off (default: retrieval.k).")] = None,
    mode: Annotated[str | None, typer.Option(help="dense | sparse | hybrid.")] = None,
    search: Annotated[str | None, typer.Option(help="similarity | mmr | threshold.")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Also write the full result (per question too) to this JSON file.")] = None,
    answers: Annotated[bool, typer.Option(
        "--answers", help="Also ask the chat model: citation precision, abstention, time;"
                          " for an answer set, modes, citations, forbidden claims, time.")
    ] = False,
    tenant: TenantOption = None,
    group: GroupOption = None,
) -> None:
    """Score retrieval on a labelled dataset: recall@k, MRR@k, nDCG@k and timings.

    Example: ragloom ingest tests/data/eval/corpus && ragloom eval tests/data/eval/questions.jsonl
    """
    from ragloom.evaluation import evaluate

    if answers:
        from ragloom._cli_answers import eval_answer_set
        from ragloom.answer_set import is_answer_set

        if is_answer_set(dataset):
            if tenant is not None or group:
                _run(lambda: _no_identity_for_answer_sets(dataset))
            eval_answer_set(dataset, _run(lambda: load_config(config)), json_out,
                            console, err_console, _run)
            return

    retrieval = {key: value for key, value in {"mode": mode, "search": search}.items() if value}
    cfg = _run(lambda: load_config(config, **({"retrieval": retrieval} if retrieval else {})))
    if json_out is not None:
        _run(lambda: _check_writable(json_out))
    user = _user_config(tenant, group).get("configurable", {}).get("ragloom_user")
    result = _run(lambda: evaluate(dataset, cfg, k=k, user=user))
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

        result = _run(lambda: evaluate_chain(dataset, cfg, on_progress=on_progress,
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


def main() -> None:
    """Entry point of the `ragloom` console script."""
    from ragloom._exit import exit_quickly

    exit_quickly()
    app(prog_name="ragloom")


if __name__ == "__main__":  # pragma: no cover
    main()
