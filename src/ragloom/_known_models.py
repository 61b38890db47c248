"""What ragloom knows about popular Ollama embedding models: prefixes and a relevance bar.

Some embedding models are trained with a task instruction in front of the text: one for a
search query, another (or none) for a passage to be found. Sending raw text both ways is
using them against their model card. This table gives, per Ollama model name (the tag is
ignored: `nomic-embed-text:v1.5` is `nomic-embed-text`), the query and document prefixes
its authors state, with the source that states them, and, where ragloom measured one, the
relevance bar (`answer.min_relevance: auto`). An unknown model gets no prefixes and the
conservative default bar.

    >>> known_embedding_model("nomic-embed-text:latest").query_prefix
    'search_query: '
    >>> known_embedding_model("my-own-model") is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_RELEVANCE_BAR", "KNOWN_EMBEDDING_MODELS", "KnownEmbeddingModel",
           "known_embedding_model"]

DEFAULT_RELEVANCE_BAR = 0.2
"""`answer.min_relevance: auto` for a model ragloom has not measured: low, so that the bar
rarely refuses an answerable question (a wrong refusal is the failure users see first);
the chat model's own "not in the documents" and `ragloom eval --answers` do the rest."""


@dataclass(frozen=True)
class KnownEmbeddingModel:
    """One embedding model's instructions, where they are stated, and its measured bar.

    Example:
        >>> known_embedding_model("nomic-embed-text").bar_for(("", ""))
        0.4

    """

    query_prefix: str
    """Put in front of a question before it is embedded."""
    document_prefix: str
    """Put in front of each chunk before it is embedded."""
    source: str
    """Where the model's authors state the prefixes (or that none are needed)."""
    relevance_bar: float | None = None
    """Measured `answer.min_relevance` (cosine, with these prefixes); None: not measured."""
    relevance_bar_plain: float | None = None
    """The same, measured with no prefixes at all (cosines shift when they are dropped)."""


    def bar_for(self, prefixes: tuple[str, str]) -> float | None:
        """The measured bar for vectors made with `prefixes`; None if not measured."""
        if prefixes == (self.query_prefix, self.document_prefix):
            return self.relevance_bar
        return self.relevance_bar_plain if prefixes == ("", "") else None


_SNOWFLAKE_V1_QUERY = "Represent this sentence for searching relevant passages: "

KNOWN_EMBEDDING_MODELS: dict[str, KnownEmbeddingModel] = {
    "nomic-embed-text": KnownEmbeddingModel(
        "search_query: ", "search_document: ",
        "https://huggingface.co/nomic-ai/nomic-embed-text-v1.5 (Usage: task instruction "
        "prefixes; search_query for questions, search_document for RAG documents)",
        relevance_bar=0.5, relevance_bar_plain=0.4),
    "mxbai-embed-large": KnownEmbeddingModel(
        _SNOWFLAKE_V1_QUERY, "",
        "https://ollama.com/library/mxbai-embed-large and "
        "https://huggingface.co/mixedbread-ai/mxbai-embed-large-v1 (query prompt; "
        "documents without one)"),
    "snowflake-arctic-embed": KnownEmbeddingModel(
        _SNOWFLAKE_V1_QUERY, "",
        "https://huggingface.co/Snowflake/snowflake-arctic-embed-l (Usage: query_prefix; "
        "documents without one)"),
    "snowflake-arctic-embed2": KnownEmbeddingModel(
        "query: ", "",
        "https://huggingface.co/Snowflake/snowflake-arctic-embed-l-v2.0 (Usage: the "
        "`query` prompt, `query: `; documents without one)"),
    "bge-m3": KnownEmbeddingModel(
        "", "",
        "https://huggingface.co/BAAI/bge-m3 (FAQ: no instruction needs to be added to "
        "queries)"),
    "all-minilm": KnownEmbeddingModel(
        "", "",
        "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2 (symmetric "
        "sentence-transformers model, used without instructions)",
        relevance_bar=0.15),
    "granite-embedding": KnownEmbeddingModel(
        "", "",
        "https://www.ibm.com/granite/docs/models/embedding (examples embed queries and "
        "passages as they are)"),
    "embeddinggemma": KnownEmbeddingModel(
        "task: search result | query: ", "title: none | text: ",
        "https://ai.google.dev/gemma/docs/embeddinggemma/model_card (prompt instructions: "
        "Retrieval query and document)"),
    "qwen3-embedding": KnownEmbeddingModel(
        "Instruct: Given a web search query, retrieve relevant passages that answer the "
        "query\nQuery:", "",
        "https://huggingface.co/Qwen/Qwen3-Embedding-0.6B (Usage: get_detailed_instruct "
        "for queries; no instruction for documents)"),
}
# The e5 family, as published on Ollama under its authors' names.
for _name in ("e5", "e5-small", "e5-base", "e5-large", "multilingual-e5-small",
              "multilingual-e5-base", "multilingual-e5-large"):
    KNOWN_EMBEDDING_MODELS[_name] = KnownEmbeddingModel(
        "query: ", "passage: ",
        "https://huggingface.co/intfloat/multilingual-e5-large (FAQ: use \"query: \" and "
        "\"passage: \" prefixes, even for non-English texts)")


def _base_name(model: str) -> str:
    """`library/nomic-embed-text:v1.5` → `nomic-embed-text`; e5 repos by their last part."""
    name = model.strip().lower()
    name = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    name = name.rsplit("/", 1)[-1]
    return name.removeprefix("intfloat-")


def known_embedding_model(model: str) -> KnownEmbeddingModel | None:
    """The table entry of an embedding model name, or None when ragloom does not know it.

    Example:
        >>> known_embedding_model("library/mxbai-embed-large:335m").document_prefix
        ''

    """
    return KNOWN_EMBEDDING_MODELS.get(_base_name(model))
