"""The `ragloom` command line: ingest documents, ask questions, inspect the config.

Example:
    $ ragloom ingest docs/
    $ ragloom ask "How do I rotate the API keys?"
    $ ragloom doctor && ragloom pull
    $ RAGLOOM_LLM__PROVIDER=openai RAGLOOM_LLM__MODEL=gpt-4o-mini ragloom ask "..."

"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# Each command's body lives in a `_cli_*.py` module (`_cli_ask`, `_cli_ingest`, ...),
# imported when the command runs: `ragloom --help` loads typer and these signatures only.

__all__ = ["app", "main"]

app = typer.Typer(
    name="ragloom",
    help="Retrieval-augmented generation over your documents: Ollama or OpenAI, Qdrant.",
    no_args_is_help=True,
    add_completion=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="A .yaml/.toml file (default: RAGLOOM_CONFIG or ./ragloom.yaml)."
    ),
]


@app.callback()
def _global_options(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Retrieval-augmented generation over your documents: Ollama or OpenAI, Qdrant."""
    # `ragloom --config FILE COMMAND` works like `ragloom COMMAND --config FILE`: the file
    # becomes the command's default for --config (given after the command, that one wins).
    if config is not None and ctx.invoked_subcommand is not None:
        ctx.default_map = {ctx.invoked_subcommand: {"config": str(config)}}


TenantOption = Annotated[str | None, typer.Option(
    help="Ask as a user of this tenant: only its chunks and shared ones are retrieved.")]

GroupOption = Annotated[list[str] | None, typer.Option(
    "--group", help="A group the user belongs to (repeatable).")]


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
    from ragloom._cli_ask import ask as command

    command(question=question, config=config, k=k, as_json=as_json, tenant=tenant, group=group)


@app.command()
def chat(config: ConfigOption = None, tenant: TenantOption = None,
         group: GroupOption = None) -> None:
    """Ask follow-up questions in a conversation (empty line or Ctrl-D to quit)."""
    from ragloom._cli_ask import chat as command

    command(config=config, tenant=tenant, group=group)


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
    from ragloom._cli_ingest import ingest as command

    command(paths=paths, config=config, prune=prune, glob=glob, tenant=tenant, group=group,
            classification=classification)


@app.command("config")
def show_config(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of YAML.")] = False,
) -> None:
    """Print the effective configuration (all sources merged), secrets masked.

    Each value says where it came from: `# env RAGLOOM_...`, `# file` or `# default`.
    """
    from ragloom._cli_config import show_config as command

    command(config=config, as_json=as_json)


@app.command()
def doctor(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check models, servers and the collection: ✓ ok, ! warning, ✗ failed (exit 1)."""
    from ragloom._cli_doctor import doctor as command

    command(config=config, as_json=as_json)


@app.command()
def pull(
    models: Annotated[
        list[str] | None, typer.Argument(help="Models to pull (default: configured, missing).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Pull models (Ollama: through /api/pull) with a progress bar (default: the missing ones)."""
    from ragloom._cli_doctor import pull as command

    command(models=models, config=config)


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
    from ragloom._cli_eval import eval_retrieval as command

    command(dataset=dataset, config=config, k=k, mode=mode, search=search, json_out=json_out,
            answers=answers, tenant=tenant, group=group)


def main() -> None:
    """Entry point of the `ragloom` console script."""
    from ragloom._exit import exit_quickly

    exit_quickly()
    app(prog_name="ragloom")


if __name__ == "__main__":  # pragma: no cover
    main()
