"""`ragloom ask` and `ragloom chat`: stream an answer, then what it rests on.

Example:
    ragloom ask "How do I rotate the API keys?" --k 6
    ragloom chat --tenant acme

"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rich.text import Text

from ragloom._cli_common import console, err_console, load_config, run, sources_table, user_config

if TYPE_CHECKING:
    from ragloom.config import RagConfig

T = TypeVar("T")

_INTERRUPTED = "interrupted: the answer was stopped."


def ask(question: str, config: Path | None, k: int | None, as_json: bool,
        tenant: str | None, group: list[str] | None) -> None:
    """Answer a question from the ingested documents, streaming the answer, then its sources."""
    overrides: dict[str, Any] = {"retrieval": {"k": k}} if k is not None else {}
    cfg = run(lambda: load_config(config, **overrides))
    call = user_config(tenant, group)
    if as_json:
        from ragloom.chains import build_rag_chain

        chain = run(lambda: build_rag_chain(cfg))
        result = run(lambda: next(_interruptible(lambda: iter(
            [chain.invoke(question, call) if call else chain.invoke(question)]))))  # type: ignore[arg-type]
        print(json.dumps({
            "question": result["question"], "answer": result["answer"],
            "sources": [{"id": d.id, "content": d.page_content, "metadata": d.metadata}
                        for d in result["sources"]],
            "citations": [d.metadata["citation"] for d in result["citations"]],
            "grounded": result["grounded"], "checks": result["checks"],
        }, indent=2, default=str))
        return
    _, sources = run(lambda: _stream_answer(cfg, question, call))
    if sources:
        console.print(sources_table(sources))


def chat(config: Path | None, tenant: str | None, group: list[str] | None) -> None:
    """Ask follow-up questions in a conversation (empty line or Ctrl-D to quit)."""
    cfg = run(lambda: load_config(config))
    call = user_config(tenant, group)
    history: list[tuple[str, str]] = []
    while True:
        try:
            question = console.input("[bold cyan]you>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        payload = {"question": question, "chat_history": list(history)}
        answer, sources = run(lambda: _stream_answer(cfg, payload, call))  # noqa: B023
        if sources:
            console.print(sources_table(sources))
        history += [("human", question), ("ai", answer)]


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
