"""The chain's last step: citations, answer guards and the output, invoked or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig

from ragloom._answer_reader import _Checker, _Reader, _Verdict
from ragloom._attribution import attribute
from ragloom._chain_context import _restored
from ragloom._citations import AnswerFilter, sources_footer
from ragloom._cut import answer_piece
from ragloom._modes import ModeFilter
from ragloom.config import AnswerSettings
from ragloom.guards import Guard
from ragloom.redaction import Vault

# What the end of a stream hands on: the state, the head, the reader and the last piece.
_Ended = tuple[dict[str, Any], dict[str, Any], _Reader, str] | None


class _Finish(Runnable[dict[str, Any], dict[str, Any]]):
    """Verify citations, run the guards on the answer, and shape the output.

    Streaming passes the answer tokens through as they come (holding back only what a
    later token could still change, see `ragloom._citations`), so the sources chunk comes
    first, the citations chunk last, and the citations are judged as `invoke` judges them.
    """

    def __init__(self, guards: Sequence[Guard], settings: AnswerSettings,
                 checker: _Checker | None = None) -> None:
        self.guards = list(guards)
        self.settings = settings
        self.checker = checker

    def _head(self, state: dict[str, Any]) -> dict[str, Any]:
        sources = state["sources"]
        if state.get("redactions"):
            sources = [doc.model_copy(update={
                "page_content": _restored(doc.page_content, state, self.guards)})
                for doc in sources]
        return {"question": state["original_question"], "sources": sources}

    def _filter(self, state: dict[str, Any]) -> _Reader:
        rewrite = (lambda text: _restored(text, state, self.guards)) if self.guards else None
        settings = self.settings
        reader = _Reader(ModeFilter(settings.abstain_text, settings.disputed_text),
                         AnswerFilter(len(state["sources"]), rewrite), settings.number_check,
                         self.checker)
        conflicts = state["checks"].get("conflicts")
        if conflicts:
            # Said first, by the chain: the model's own NOT FOUND or CONFLICT: adds nothing.
            reader.modes.abstain_text = reader.modes.disputed_text = ""
            sides = ", ".join(dict.fromkeys(
                f"{value} [{n}]" for conflict in conflicts
                for value, n in zip(conflict["values"], conflict["sources"], strict=True)))
            reader.prefix = f"{settings.disputed_text.rstrip('.')}: {sides}. "
        return reader

    def _guarded(self, state: dict[str, Any], reader: _Reader) -> None:
        """Run the answer guards on the finished answer.

        Before the self-check, which they may make needless (an empty answer, one that
        repeats the prompt).
        """
        final = {**state, "answer": reader.cites.text}
        for guard in self.guards:
            final = guard.after_model(final)

    def _verdict(self, state: dict[str, Any], reader: _Reader) -> _Verdict:
        self._guarded(state, reader)
        return reader.check(state)

    async def _averdict(self, state: dict[str, Any], reader: _Reader) -> _Verdict:
        self._guarded(state, reader)
        return await reader.acheck(state)

    def _tail(self, state: dict[str, Any], head: dict[str, Any],
              reader: _Reader, verdict: _Verdict) -> dict[str, Any]:
        answer = reader.cites
        checks = state["checks"]
        checks["removed_citations"] = answer.removed
        vault = state.get("vault")
        if isinstance(vault, Vault) and vault.counts():
            checks["redacted"] = vault.counts()
        mode, _ = reader.decide(state, verdict)
        grounded = bool(state["sources"]) and not checks.get("answer") and mode != "abstained"
        citations = answer.citations(head["sources"]) if mode != "abstained" else []
        if self.settings.attribute_citations and mode != "abstained":
            added = [n for n in attribute(answer.text, state["original_question"],
                                          head["sources"]) if n not in answer.cited]
            checks["attributed"] = added
            citations += [head["sources"][n - 1].model_copy(update={"metadata": {
                **head["sources"][n - 1].metadata, "citation": n, "attributed": True}})
                for n in added]
        footer = sources_footer(citations) if self.settings.sources_footer and grounded else ""
        return {"citations": citations, "grounded": grounded, "mode": mode,
                "checks": checks, "footer": footer}

    def _read(self, state: dict[str, Any]) -> tuple[dict[str, Any], _Reader]:
        head = self._head(state)
        reader = self._filter(state)
        reader.start()
        text, cut = answer_piece(state["answer"])
        state["checks"]["cut"] = cut
        reader.feed(text)
        reader.flush()
        return head, reader

    def _output(self, state: dict[str, Any], head: dict[str, Any], reader: _Reader,
                verdict: _Verdict) -> dict[str, Any]:
        tail = self._tail(state, head, reader, verdict)
        text = ("" if tail["checks"].get("answer")
                else self.settings.abstain_text
                if tail["checks"]["mode_by"] in ("number_check", "self_check")
                and tail["mode"] == "abstained"
                else reader.cites.text + tail.pop("footer"))
        tail.pop("footer", None)
        return {**head, "answer": text, **tail}

    def _run(self, state: dict[str, Any]) -> dict[str, Any]:
        head, reader = self._read(state)
        return self._output(state, head, reader, self._verdict(state, reader))

    async def _arun(self, state: dict[str, Any]) -> dict[str, Any]:
        head, reader = self._read(state)
        return self._output(state, head, reader, await self._averdict(state, reader))

    def invoke(self, input: dict[str, Any], config: RunnableConfig | None = None,
               **kwargs: Any) -> dict[str, Any]:
        return self._call_with_config(self._run, input, config)

    async def ainvoke(self, input: dict[str, Any], config: RunnableConfig | None = None,
                      **kwargs: Any) -> dict[str, Any]:
        return await self._acall_with_config(self._arun, input, config)

    def _steps(self) -> Generator[list[dict[str, Any]], dict[str, Any] | None, _Ended]:
        """Takes chunks by `send` (None at the end) and answers with what to yield.

        Returns what the last chunk needs once the self-check (sync or async) is asked.
        """
        state: dict[str, Any] = {}
        head: dict[str, Any] | None = None
        answer: _Reader | None = None
        out: list[dict[str, Any]] = []
        while (chunk := (yield out)) is not None:
            out = []
            state.update((key, value) for key, value in chunk.items() if key != "answer")
            if head is None and "sources" in state:
                head, answer = self._head(state), self._filter(state)
                out.append(head)
                if first := answer.start():
                    out.append({"answer": first})
            if "answer" in chunk and answer is not None:
                text, cut = answer_piece(chunk["answer"])
                if cut:
                    state["checks"]["cut"] = True
                if piece := answer.feed(text):
                    out.append({"answer": piece})
        if head is None or answer is None:
            return None
        return state, head, answer, answer.flush()

    def _last(self, ended: _Ended, verdict: _Verdict) -> list[dict[str, Any]]:
        assert ended is not None
        state, head, answer, piece = ended
        tail = self._tail(state, head, answer, verdict)
        piece += tail.pop("footer")
        return ([{"answer": piece}] if piece else []) + [tail]

    @staticmethod
    def _ended(steps: Generator[Any, Any, _Ended]) -> _Ended:
        try:
            steps.send(None)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        raise AssertionError("_steps must end after None")

    def _stream(self, chunks: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        steps = self._steps()
        next(steps)
        for chunk in chunks:
            yield from steps.send(chunk)
        if (ended := self._ended(steps)) is not None:
            yield from self._last(ended, self._verdict(ended[0], ended[2]))

    async def _astream(
        self, chunks: AsyncIterator[dict[str, Any]]
    ) -> AsyncIterator[dict[str, Any]]:
        steps = self._steps()
        next(steps)
        async for chunk in chunks:
            for out in steps.send(chunk):
                yield out
        if (ended := self._ended(steps)) is not None:
            for out in self._last(ended, await self._averdict(ended[0], ended[2])):
                yield out

    def transform(self, input: Iterator[dict[str, Any]], config: RunnableConfig | None = None,
                  **kwargs: Any) -> Iterator[dict[str, Any]]:
        yield from self._transform_stream_with_config(input, self._stream, config)

    async def atransform(self, input: AsyncIterator[dict[str, Any]],
                         config: RunnableConfig | None = None,
                         **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        async for out in self._atransform_stream_with_config(input, self._astream, config):
            yield out
