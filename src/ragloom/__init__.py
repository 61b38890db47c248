"""ragloom: composable RAG factories for LangChain over Qdrant, Ollama by default.

Example:
    >>> from ragloom import build_rag_chain
    >>> chain = build_rag_chain()  # doctest: +SKIP
    >>> chain.invoke("What is ragloom?")["answer"]  # doctest: +SKIP

"""

from ragloom.chains import RagInput, RagOutput, build_rag_chain
from ragloom.config import RagConfig, load_config
from ragloom.errors import (
    CollectionMismatch,
    CollectionNotFound,
    ConfigError,
    IngestError,
    InvalidInput,
    ModelNotFound,
    ProviderTimeout,
    ProviderUnavailable,
    RagloomError,
    StoreLocked,
)
from ragloom.evaluation import EvalResult, evaluate_retriever
from ragloom.ingestion import FailedFile, IngestProgress, IngestReport, aingest, ingest
from ragloom.prompts import build_condense_prompt, build_prompt, format_context
from ragloom.providers import (
    Provider,
    available_providers,
    build_chat_model,
    build_embeddings,
    get_provider,
    register_provider,
)
from ragloom.retrievers import MultiQueryRetriever, RagloomRetriever, build_retriever
from ragloom.store import build_vector_store, close_clients, copy_collection, get_client

__all__ = [
    "CollectionMismatch",
    "CollectionNotFound",
    "ConfigError",
    "EvalResult",
    "FailedFile",
    "IngestError",
    "IngestProgress",
    "IngestReport",
    "InvalidInput",
    "ModelNotFound",
    "MultiQueryRetriever",
    "Provider",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RagConfig",
    "RagInput",
    "RagOutput",
    "RagloomError",
    "RagloomRetriever",
    "StoreLocked",
    "aingest",
    "available_providers",
    "build_chat_model",
    "build_condense_prompt",
    "build_embeddings",
    "build_prompt",
    "build_rag_chain",
    "build_retriever",
    "build_vector_store",
    "close_clients",
    "copy_collection",
    "evaluate_retriever",
    "format_context",
    "get_client",
    "get_provider",
    "ingest",
    "load_config",
    "register_provider",
]
