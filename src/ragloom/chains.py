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

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import get_buffer_string
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import BasePromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableLambda,
    RunnablePassthrough,
)

from ragloom._access import User
from ragloom._answer_reader import _Checker
from ragloom._chain_context import (
    _enforces_identity,
    _guarded_input,
    _restored,
    _routed,
    _with_context,
)
from ragloom._chain_finish import _Finish
from ragloom._chain_input import _prepare, _question_limit
from ragloom._identity import resolve_user, user_config
from ragloom._rag_types import RagInput, RagOutput
from ragloom._self_check import acheck_answer, check_answer
from ragloom.config import RagConfig, load_config
from ragloom.errors import ConfigError
from ragloom.guards import Guard, build_guards
from ragloom.prompts import DEFAULT_SYSTEM_TEMPLATE, build_condense_prompt, build_prompt
from ragloom.providers import build_chat_model
from ragloom.redaction import VAULT_KEY, Vault, message_texts, redacting, with_vault
from ragloom.retrievers import build_retriever
from ragloom.routing import build_router

__all__ = ["RagInput", "RagOutput", "build_rag_chain"]


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
    # Ollama's `format` (JSON schema) only for a model ragloom built from cfg.llm: a model
    # passed in may be any provider, whatever cfg.llm.provider says.
    ollama_built = llm is None and router is None and cfg.llm.provider == "ollama"
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

    def check_call(state: dict[str, Any], answer: str) -> tuple[Any, ...] | None:
        # The self-check's model and arguments: the chain's own model, through the same
        # redacting wrapper (Ollama's `format` only for a model ragloom built); with
        # routing, the first model allowed to read these sources (JSON asked in words).
        config: RunnableConfig = {"configurable": {VAULT_KEY: state["vault"]}}
        model: Any = llm
        structured = ollama_built
        if router is not None:
            if state["route"].refused:
                return None
            model, structured = router.models[state["route"].models[0]], False
        return model, state["question"], state["context"], answer, config, structured

    def self_check(state: dict[str, Any], answer: str) -> dict[str, bool] | None:
        call = check_call(state, answer)
        return None if call is None else check_answer(*call[:5], structured=call[5])

    async def aself_check(state: dict[str, Any], answer: str) -> dict[str, bool] | None:
        call = check_call(state, answer)
        return None if call is None else await acheck_answer(*call[:5], structured=call[5])

    chain = (
        RunnableLambda(retrieve, afunc=aretrieve, name="retrieve")
        | RunnablePassthrough.assign(answer=RunnableLambda(answer_or_abstain, name="answer"))
        | _Finish(guards=guards, settings=cfg.answer,
                  checker=(_Checker(self_check, aself_check) if cfg.answer.self_check
                           else None))
    )
    return chain.with_config(run_name="rag_chain")
