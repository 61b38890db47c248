"""Per-query overhead of build_rag_chain against a hand-wired LCEL chain.

Both chains share the same in-memory Qdrant store, retriever, prompt and a
zero-latency fake chat model, so the difference is the chain machinery alone.
"build_rag_chain" runs with guards off and no relevance bar (the fake embeddings are
random, so a bar would abstain); citations are verified as always. The guarded
variant (screen + output check, the defaults for a local Ollama, plus redaction) is
printed for information.
Run: python -m tests.benchmarks.bench_chain [--queries 400]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableParallel, RunnablePassthrough

from ragloom import RagConfig, build_prompt, build_rag_chain, build_retriever, build_vector_store
from ragloom.config import GuardSettings
from ragloom.prompts import format_context


def hand_wired(retriever: Any, prompt: Any, llm: Any) -> Runnable[Any, Any]:
    """The LangChain docs' "RAG with sources" pattern."""
    answer = (
        RunnablePassthrough.assign(context=lambda x: format_context(x["sources"]))
        | prompt
        | llm
        | StrOutputParser()
    )
    return RunnableParallel(sources=retriever, question=RunnablePassthrough()).assign(
        answer=answer
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--docs", type=int, default=2000)
    args = parser.parse_args()

    cfg = RagConfig(qdrant={"location": ":memory:", "collection": "bench_chain"},
                    answer={"min_relevance": None})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=384))
    store.add_documents(
        [Document(f"Document {i} about topic {i % 37}.", metadata={"source": f"d{i}.md"})
         for i in range(args.docs)]
    )
    retriever = build_retriever(cfg, store)
    prompt = build_prompt(cfg)
    llm = FakeListChatModel(responses=["An answer [1]."])
    guarded_cfg = cfg.model_copy(update={"guards": GuardSettings(redact="on")})
    chains = {
        "build_rag_chain": build_rag_chain(cfg, llm=llm, retriever=retriever, prompt=prompt,
                                           guards=[]),
        "hand-wired LCEL": hand_wired(retriever, prompt, llm),
        "guarded": build_rag_chain(guarded_cfg, llm=llm, retriever=retriever, prompt=prompt),
    }
    questions = [f"question about topic {i % 37}" for i in range(args.queries)]
    for chain in chains.values():  # warm up
        for q in questions[:20]:
            chain.invoke(q)
    timings: dict[str, list[float]] = {name: [] for name in chains}
    for q in questions:  # interleaved so drift hits both alike
        for name, chain in chains.items():
            start = time.perf_counter()
            result = chain.invoke(q)
            timings[name].append(time.perf_counter() - start)
            assert result["answer"] and result["sources"]
    medians = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    for name, ms in medians.items():
        print(f"{name:>16}: median {ms:.3f} ms/query over {args.queries} queries")
    ratio = medians["build_rag_chain"] / medians["hand-wired LCEL"]
    print(f"overhead ratio (build_rag_chain / hand-wired): {ratio:.3f}x  (target <= 1.05x)")
    guarded = medians["guarded"] / medians["hand-wired LCEL"]
    print(f"with guards (screen, redact, output check) / hand-wired: {guarded:.3f}x")


if __name__ == "__main__":
    main()
