"""`build_rag_chain`: question → retriever → numbered context → prompt → chat model.

The chain is plain LCEL, so `invoke`, `ainvoke`, `batch`, `abatch`, `stream` and
`astream` all work. Input: a question string, or `{"question": ..., "chat_history":
[...]}` (messages, `(role, text)` pairs or dicts). With history, the chat model first
rewrites the follow-up as a standalone question for retrieval; the answer prompt still
sees the whole conversation. Output: `{"question", "answer", "sources", "citations",
"grounded", "mode", "checks"}`. Retrieved chunks below `answer.min_relevance` do not
count; when none does, the chain answers `answer.abstain_text` without calling the chat
model and says `grounded: False`. The chunks that count are bounded by
`answer.max_context_tokens`, lowest-ranked dropped first. `mode` is `answered`,
`abstained` (nothing relevant, or the model found no answer in the sources) or `disputed`
(the sources disagree), read from the prompt's markers (see `ragloom._modes`);
`checks["mode_by"]` says what decided it. Citations (`[n]`, `[1-2]`, `【1】`; not in
code, not links) without a source are removed from the answer. Guards (`ragloom.guards`)
screen the context, redact secrets and check the answer. Streaming yields `{"question",
"sources"}` first, then `{"answer": token}` chunks, then `{"citations", "grounded",
"mode", "checks"}`; citations are judged alike wherever the tokens are cut.

Example:
    >>> from ragloom import build_rag_chain
    >>> chain = build_rag_chain()                                   # doctest: +SKIP
    >>> result = chain.invoke("How do I rotate the API keys?")      # doctest: +SKIP
    >>> result["answer"], result["sources"]                         # doctest: +SKIP

"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from typing import Any, TypedDict

from langchain_core.documents import Document
from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import BaseMessage, convert_to_messages, get_buffer_string
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import BasePromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableLambda,
    RunnablePassthrough,
)
from typing_extensions import NotRequired

from ragloom._access import User
from ragloom._attribution import attribute
from ragloom._budget import fit_context
from ragloom._citations import AnswerFilter, sources_footer
from ragloom._conflicts import find_conflicts, ungrounded_numbers
from ragloom._cut import answer_piece
from ragloom._identity import resolve_user, user_config
from ragloom._modes import Mode, ModeFilter, abstains_in_words, disputes_in_words
from ragloom._self_check import check_answer
from ragloom.config import AnswerSettings, LLMSettings, RagConfig, load_config
from ragloom.errors import ConfigError, InvalidInput
from ragloom.guards import Guard, build_guards
from ragloom.prompts import (
    DEFAULT_SYSTEM_TEMPLATE,
    build_condense_prompt,
    build_prompt,
    format_context,
)
from ragloom.providers import build_chat_model
from ragloom.redaction import VAULT_KEY, Vault, message_texts, redacting, with_vault
from ragloom.retrievers import build_retriever
from ragloom.routing import Router, build_router

__all__ = ["RagInput", "RagOutput", "build_rag_chain"]


class RagInput(TypedDict):
    """What the chain accepts besides a plain question string.

    Example:
        >>> payload: RagInput = {"question": "And for embeddings?",
        ...                      "chat_history": [("human", "How do I use OpenAI?"),
        ...                                       ("ai", "Set llm.provider: openai [1].")]}
        >>> payload["question"]
        'And for embeddings?'

    """

    question: str
    """The user's question."""
    chat_history: NotRequired[Sequence[BaseMessage | tuple[str, str] | dict[str, Any]]]
    """Earlier turns, oldest first."""


class RagOutput(TypedDict):
    """What the chain returns.

    Example:
        >>> result: RagOutput = {"question": "Who?", "answer": "No idea.", "sources": [],
        ...                      "citations": [], "grounded": False, "mode": "abstained",
        ...                      "checks": {}}
        >>> sorted(result)
        ['answer', 'checks', 'citations', 'grounded', 'mode', 'question', 'sources']

    """

    question: str
    """The question as asked."""
    answer: str
    """The model's answer, citing sources as [n] (only numbers that have a source)."""
    sources: list[Document]
    """The documents that counted, [1] first, with source/page/score/relevance metadata."""
    citations: list[Document]
    """The sources the answer cites, in order of first citation; `metadata["citation"]`
    holds each one's number."""
    grounded: bool
    """False when the chain abstained (nothing relevant) or the answer check failed."""
    mode: Mode
    """`answered`, `abstained` (the sources do not hold the answer) or `disputed` (the
    sources the answer rests on disagree; the answer says so and cites each side)."""
    checks: dict[str, Any]
    """What the checks found: `top_relevance` (the best retrieved chunk's relevance,
    before the bar), `below_relevance` (chunks under the bar), `context_tokens` and
    `context_dropped` (the sources' estimated tokens in the prompt, and the chunks left
    out by `answer.max_context_tokens`), `mode_by` (what decided `mode`: `relevance_bar`,
    `conflict_check`, `marker`, `words`, `number_check`, `self_check`, `answer_check`,
    `routing` or `model`), `decision_s` (seconds the mode decision took, the self-check
    call included), `conflicts` (the sides the conflict check found), `self_check` (the
    self-check's reply), `attributed` (citation numbers added after the fact,
    `answer.attribute_citations`),
    `removed_citations` (numbers without a source), `flagged` (chunks with planted
    instructions), `redacted` (placeholders by kind), `answer` (`empty`,
    `repeats_prompt` or None), `cut` (True when a length cap such as `num_predict`
    stopped the answer before its end); with `routing.models`: `model` (the one that
    answered), `route_reason` (why it was allowed) and `refused` (no allowed model)."""


_INPUT_FORMS = ("a question string, or {'question': str, 'chat_history': [...]} where each"
                " turn is a message, a (role, text) pair or a {'role': ..., 'content': ...} dict")


def _question_limit(cfg: RagConfig) -> tuple[int, str]:
    """Longest question accepted (characters), and the setting that sets it.

    A question may take half the chat model's context (about 4 characters a token);
    the rest is for the documents and the answer. With `routing`, any of its models
    may answer, so the smallest context among them sets the limit.
    """
    if cfg.routing.models:
        return min((_context_limit(m, f"routing.models[{m.name}]") for m in cfg.routing.models),
                   key=lambda limit: limit[0])
    return _context_limit(cfg.llm, "llm")


def _context_limit(llm: LLMSettings, where: str) -> tuple[int, str]:
    """Half the context of the chat model of `llm` (characters), and the setting."""
    if llm.provider == "ollama":
        tokens = llm.num_ctx or 2048
        return tokens * 2, f"{where}.num_ctx = {tokens} tokens"
    return 128_000 * 2, "128,000 tokens, the largest context of common hosted models"


def _prepare(value: str | dict[str, Any], limit: tuple[int, str] | None = None) -> dict[str, Any]:
    question = value if isinstance(value, str) else (
        value.get("question") if isinstance(value, dict) else None)
    if limit is not None and isinstance(question, str) and len(question) > limit[0]:
        raise InvalidInput(
            f"the question is {len(question):,} characters (about {len(question) // 4:,}"
            f" tokens): more than half of the chat model's context ({limit[1]}), which must"
            " also hold the documents and the answer. Shorten the question (put long text"
            " in a file and ingest it), or raise that num_ctx if the model allows")
    if isinstance(value, str):
        return {"question": value, "chat_history": []}
    if not isinstance(value, dict) or not isinstance(value.get("question"), str):
        raise InvalidInput(
            f"the chain takes {_INPUT_FORMS}; got {type(value).__name__}"
            + (f" with keys {sorted(value)}" if isinstance(value, dict) else "")
        )
    history = value.get("chat_history") or []
    # A string is a Sequence too: convert_to_messages would read each character as a turn.
    if isinstance(history, str | bytes) or not isinstance(history, Sequence):
        raise InvalidInput(
            f"chat_history must be a list of turns, oldest first; got {type(history).__name__}"
            f" ({str(history)[:40]!r}). Pass e.g. [('human', 'Hi'), ('ai', 'Hello.')]"
        )
    try:
        messages = convert_to_messages(history)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise InvalidInput(
            f"chat_history holds a turn that is not a message: {str(exc).splitlines()[0]}"
            ". Each turn is a"
            " message, a (role, text) pair or a {'role': ..., 'content': ...} dict"
        ) from None
    return {"question": value["question"], "chat_history": messages}


def _guarded_input(
    inputs: dict[str, Any], guards: Sequence[Guard], config: RunnableConfig
) -> dict[str, Any]:
    checks: dict[str, Any] = {"top_relevance": None, "below_relevance": 0,
                              "context_tokens": 0, "context_dropped": 0,
                              "removed_citations": [], "flagged": [], "redacted": {},
                              "answer": None, "mode_by": None, "decision_s": 0.0,
                              "cut": False}
    state = {**inputs, "original_question": inputs["question"], "sources": [], "checks": checks}
    for guard in guards:  # the question and history, before any of it reaches a model
        state = guard.invoke(state, config)
    return state


def _restored(text: str, state: dict[str, Any], guards: Sequence[Guard]) -> str:
    for guard in guards:
        text = guard.restore(text, state)
    return text


def _with_context(
    state: dict[str, Any], documents: list[Document], cfg: RagConfig,
    guards: Sequence[Guard], config: RunnableConfig,
) -> dict[str, Any]:
    known = [doc.metadata["relevance"] for doc in documents if "relevance" in doc.metadata]
    state["checks"]["top_relevance"] = max(known) if known else None
    bar = cfg.relevance_bar()
    if bar is not None:
        # A document without a relevance (a sparse-only collection, a retriever of your
        # own) cannot be judged, so it counts.
        kept = [doc for doc in documents if doc.metadata.get("relevance", bar) >= bar]
        state["checks"]["below_relevance"] = len(documents) - len(kept)
        documents = kept
    state = {**state, "sources": documents}
    for guard in guards:  # the retrieved context
        state = guard.invoke(state, config)
    kept, dropped, tokens = fit_context(state["sources"], cfg.answer.max_context_tokens)
    state["checks"]["context_tokens"], state["checks"]["context_dropped"] = tokens, dropped
    state["sources"] = kept
    state["context"] = format_context(kept)
    if cfg.answer.conflict_check and len(kept) > 1:
        started = time.perf_counter()
        conflicts = find_conflicts(state["question"], kept)
        state["checks"]["conflicts"] = [
            {"sources": [c.first_source + 1, c.second_source + 1], "values": [c.first, c.second]}
            for c in conflicts]
        state["checks"]["decision_s"] += time.perf_counter() - started
    return state


_Checker = Callable[[dict[str, Any], str], "dict[str, bool] | None"]


class _Reader:
    """The model's answer through the mode markers, then the citation check."""

    def __init__(self, modes: ModeFilter, cites: AnswerFilter, number_check: bool,
                 checker: _Checker | None = None) -> None:
        self.modes = modes
        self.cites = cites
        self.number_check = number_check
        self.checker = checker
        self.prefix = ""
        self.decision_s = 0.0

    def start(self) -> str:
        """What the chain says before the model: the sides of a dispute it found."""
        return self.cites.feed(self.prefix) if self.prefix else ""

    def _timed_modes(self, token: str | None) -> str:
        started = time.perf_counter()
        piece = self.modes.flush() if token is None else self.modes.feed(token)
        self.decision_s += time.perf_counter() - started
        return piece

    def feed(self, token: str) -> str:
        piece = self._timed_modes(token)
        return self.cites.feed(piece) if piece else ""

    def flush(self) -> str:
        piece = self._timed_modes(None)
        return (self.cites.feed(piece) if piece else "") + self.cites.flush()

    def decide(self, state: dict[str, Any]) -> tuple[Mode, str]:
        started = time.perf_counter()
        checks = state["checks"]
        if not state["sources"]:
            decision: tuple[Mode, str] = ("abstained", "relevance_bar")
        elif checks.get("answer"):
            decision = ("abstained", "answer_check")
        elif checks.get("refused"):
            decision = ("abstained", "routing")
        elif checks.get("conflicts"):
            decision = ("disputed", "conflict_check")
        elif self.modes.marker is not None:
            decision = (self.modes.marker, "marker")
        elif disputes_in_words(self.modes.raw):
            decision = ("disputed", "words")
        elif abstains_in_words(self.modes.raw, len(self.cites.cited)):
            decision = ("abstained", "words")
        elif self.number_check and (invented := ungrounded_numbers(
                self.modes.raw, state["sources"])):
            checks["ungrounded_numbers"] = invented
            decision = ("abstained", "number_check")
        elif self.checker is not None and (verdict := self._self_check(state)) is not None:
            decision = verdict
        else:
            decision = ("answered", "model")
        self.decision_s += time.perf_counter() - started
        checks["mode_by"] = decision[1]
        checks["decision_s"] = round(checks.get("decision_s", 0.0) + self.decision_s, 6)
        return decision

    def _self_check(self, state: dict[str, Any]) -> tuple[Mode, str] | None:
        assert self.checker is not None
        verdict = self.checker(state, self.modes.raw)
        state["checks"]["self_check"] = verdict
        if verdict is None:
            return None
        if not verdict["answer_is_stated"]:
            return ("abstained", "self_check")
        return ("answered", "self_check")


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

    def _tail(self, state: dict[str, Any], head: dict[str, Any],
              reader: _Reader) -> dict[str, Any]:
        answer = reader.cites
        checks = state["checks"]
        checks["removed_citations"] = answer.removed
        vault = state.get("vault")
        if isinstance(vault, Vault) and vault.counts():
            checks["redacted"] = vault.counts()
        final = {**state, "answer": answer.text}
        for guard in self.guards:
            final = guard.after_model(final)
        mode, _ = reader.decide(state)
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

    def _run(self, state: dict[str, Any]) -> dict[str, Any]:
        head = self._head(state)
        reader = self._filter(state)
        reader.start()
        text, cut = answer_piece(state["answer"])
        state["checks"]["cut"] = cut
        reader.feed(text)
        reader.flush()
        tail = self._tail(state, head, reader)
        text = ("" if tail["checks"].get("answer")
                else self.settings.abstain_text
                if tail["checks"]["mode_by"] in ("number_check", "self_check")
                and tail["mode"] == "abstained"
                else reader.cites.text + tail.pop("footer"))
        tail.pop("footer", None)
        return {**head, "answer": text, **tail}

    def invoke(self, input: dict[str, Any], config: RunnableConfig | None = None,
               **kwargs: Any) -> dict[str, Any]:
        return self._call_with_config(self._run, input, config)

    async def ainvoke(self, input: dict[str, Any], config: RunnableConfig | None = None,
                      **kwargs: Any) -> dict[str, Any]:
        return self.invoke(input, config)

    def _steps(self) -> Generator[list[dict[str, Any]], dict[str, Any] | None, None]:
        """Takes chunks by `send` (None at the end) and answers with what to yield."""
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
            yield []
            return
        piece = answer.flush()
        tail = self._tail(state, head, answer)
        piece += tail.pop("footer")
        yield ([{"answer": piece}] if piece else []) + [tail]

    def _stream(self, chunks: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        steps = self._steps()
        next(steps)
        for chunk in chunks:
            yield from steps.send(chunk)
        yield from steps.send(None)

    async def _astream(
        self, chunks: AsyncIterator[dict[str, Any]]
    ) -> AsyncIterator[dict[str, Any]]:
        steps = self._steps()
        next(steps)
        async for chunk in chunks:
            for out in steps.send(chunk):
                yield out
        for out in steps.send(None):
            yield out

    def transform(self, input: Iterator[dict[str, Any]], config: RunnableConfig | None = None,
                  **kwargs: Any) -> Iterator[dict[str, Any]]:
        yield from self._transform_stream_with_config(input, self._stream, config)

    async def atransform(self, input: AsyncIterator[dict[str, Any]],
                         config: RunnableConfig | None = None,
                         **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        async for out in self._atransform_stream_with_config(input, self._astream, config):
            yield out


def build_rag_chain(
    cfg: RagConfig | None = None,
    *,
    llm: BaseLanguageModel[Any] | None = None,
    retriever: BaseRetriever | None = None,
    prompt: BasePromptTemplate[Any] | str | None = None,
    guards: Sequence[Guard] | None = None,
    user: User | dict[str, Any] | None = None,
    require_user: bool = False,
) -> Runnable[str | dict[str, Any], dict[str, Any]]:
    """Build the retrieval-augmented answer chain.

    Args:
        cfg: Configuration; default `load_config()` (ragloom.yaml, environment, defaults).
        llm: A ready chat model; default `build_chat_model(cfg)`.
        retriever: A ready retriever; default `build_retriever(cfg)`.
        prompt: A ready prompt or template text; default `build_prompt(cfg)`.
        guards: Checks around the model (see `ragloom.guards`); default
            `build_guards(cfg)`, what `cfg.guards` switches on. `[]` runs none.
        user: The user every call is made for (`{"tenant": ..., "groups": [...]}`);
            default: each call's `config["configurable"]["ragloom_user"]`, if any.
        require_user: Refuse a call without a user (`IdentityRequired`).

    Returns:
        A Runnable from a question (or `RagInput`) to `RagOutput`.

    Raises:
        ConfigError: Invalid configuration or prompt template.
        InvalidInput: (when called) a payload that is not a question or `RagInput`.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from ragloom import RagConfig, build_retriever, build_vector_store
        >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_chain"},
        ...                 answer={"min_relevance": None})  # fake vectors: no bar
        >>> store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
        >>> _ = store.add_texts(["Keys are rotated monthly."], ids=["k"],
        ...                     metadatas=[{"source": "ops.md"}])
        >>> chain = build_rag_chain(cfg, llm=FakeListChatModel(responses=["Monthly [1]."]),
        ...                         retriever=build_retriever(cfg, store))
        >>> result = chain.invoke("How often are keys rotated?")
        >>> result["answer"], result["grounded"]
        ('Monthly [1].', True)
        >>> [d.metadata["source"] for d in result["citations"]]
        ['ops.md']

    """
    cfg = cfg if cfg is not None else load_config()
    bound = User.parse(user, where="user") if user is not None else None
    router = build_router(cfg) if llm is None and cfg.routing.models else None
    if router is not None:
        # Question-only steps (condensing, multi-query) see the chat history, which may
        # hold earlier answers from confidential context: a local model when there is one.
        llm = router.models[router.first_local or router.order[0]]
    # One place decides redaction for every model call below (answer, condense,
    # multi-query): the wrapper, from the destination of the model actually called.
    # The router's models are wrapped the same way (`build_router`).
    llm = redacting(llm if llm is not None else build_chat_model(cfg), cfg.guards.redact,
                    cfg.guards.phone_region)
    if retriever is None:
        retriever = build_retriever(cfg, llm=llm, require_user=require_user)
    elif (bound is not None or require_user) and not _enforces_identity(retriever):
        raise ConfigError(
            f"user= and require_user= need a retriever ragloom builds (got"
            f" {type(retriever).__name__}, which cannot apply the access filter): pass"
            " build_retriever(cfg), or leave the retriever out")
    answer_prompt = prompt if isinstance(prompt, BasePromptTemplate) else build_prompt(cfg, prompt)
    guards = list(guards) if guards is not None else build_guards(
        cfg, instructions=DEFAULT_SYSTEM_TEMPLATE)
    limit = _question_limit(cfg)
    condense = (build_condense_prompt(cfg) | llm | StrOutputParser()).with_config(
        run_name="condense_question"
    )

    def _condense_inputs(inputs: dict[str, Any]) -> dict[str, str]:
        return {"question": inputs["question"],
                "chat_history": get_buffer_string(inputs["chat_history"])}

    # One step prepares the input, retrieves and runs the guards: every Runnable in the
    # chain costs a traced run per call, and this keeps build_rag_chain as cheap as a
    # hand-wired chain.
    def _start(value: str | dict[str, Any], config: RunnableConfig,
               ) -> tuple[dict[str, Any], RunnableConfig]:
        inputs = _prepare(value, limit)
        # One vault per call: the user's own texts decide what may be restored.
        vault = Vault(owned=[inputs["question"], *message_texts(inputs["chat_history"])],
                      region=cfg.guards.phone_region)
        state = _guarded_input(inputs, guards, config)
        return {**state, "vault": vault}, with_vault(config, vault)

    def retrieve(value: str | dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        config = user_config(config, resolve_user(config, bound, require=require_user))
        state, config = _start(value, config)
        query = state["question"]
        if state["chat_history"]:
            query = condense.invoke(_condense_inputs(state), config).strip() or query
        documents = retriever.invoke(_restored(query, state, guards), config)
        return _routed(_with_context(state, documents, cfg, guards, config), router, guards)

    async def aretrieve(value: str | dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        config = user_config(config, resolve_user(config, bound, require=require_user))
        state, config = _start(value, config)
        query = state["question"]
        if state["chat_history"]:
            query = (await condense.ainvoke(_condense_inputs(state), config)).strip() or query
        documents = await retriever.ainvoke(_restored(query, state, guards), config)
        return _routed(_with_context(state, documents, cfg, guards, config), router, guards)

    model_answer = answer_prompt | llm  # messages: _Finish reads the text and `cut`
    abstain_text = cfg.answer.abstain_text

    def answer_or_abstain(state: dict[str, Any]) -> Runnable[Any, Any] | str:
        # No source counts: answer without calling the chat model.
        if not state["sources"]:
            return abstain_text
        if router is None:
            return model_answer.with_config(configurable={VAULT_KEY: state["vault"]})
        route = state["route"]
        if route.refused:  # no allowed model: none is called
            state["checks"]["refused"] = True
            return cfg.routing.refuse_text
        routed = answer_prompt | router.runnable(route, state["checks"])
        return routed.with_config(configurable={VAULT_KEY: state["vault"]})

    def self_check(state: dict[str, Any], answer: str) -> dict[str, bool] | None:
        # The model's own text (placeholders intact), through the same redacting model;
        # with routing, the first model allowed to read these sources (JSON asked in words).
        config: RunnableConfig = {"configurable": {VAULT_KEY: state["vault"]}}
        if router is None:
            return check_answer(llm, state["question"], state["context"], answer, config,
                                structured=cfg.llm.provider == "ollama")
        route = state["route"]
        if route.refused:
            return None
        return check_answer(router.models[route.models[0]], state["question"],
                            state["context"], answer, config)

    chain = (
        RunnableLambda(retrieve, afunc=aretrieve, name="retrieve")
        | RunnablePassthrough.assign(answer=RunnableLambda(answer_or_abstain, name="answer"))
        | _Finish(guards=guards, settings=cfg.answer,
                  checker=self_check if cfg.answer.self_check else None)
    )
    return chain.with_config(run_name="rag_chain")


def _routed(state: dict[str, Any], router: Router | None,
            guards: Sequence[Guard]) -> dict[str, Any]:
    """Pick the models allowed to read this context (`routing`); say which and why."""
    if router is None:
        return state
    texts = [_restored(doc.page_content, state, guards) for doc in state["sources"]]
    route = router.route(state["sources"], texts)
    state["checks"].update(model=None, route_reason=route.reason, refused=route.refused)
    return {**state, "route": route}


def _enforces_identity(retriever: BaseRetriever) -> bool:
    from ragloom.retrievers import MultiQueryRetriever, RagloomRetriever

    if isinstance(retriever, MultiQueryRetriever):
        return _enforces_identity(retriever.retriever)
    return isinstance(retriever, RagloomRetriever)
