"""ragloom: composable RAG factories for LangChain over Qdrant, Ollama by default.

Names are resolved on first access (as `langchain_core.runnables` does it), so
``import ragloom`` and the pytest plugin ``ragloom.testing``, which every pytest
run in an environment with ragloom installed loads, cost almost nothing: Qdrant
and the model clients load when a factory that needs them is first used.

Example:
    >>> from ragloom import build_rag_chain
    >>> chain = build_rag_chain()  # doctest: +SKIP
    >>> chain.invoke("What is ragloom?")["answer"]  # doctest: +SKIP

"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ragloom.chains import RagInput, RagOutput, build_rag_chain
    from ragloom.config import RagConfig, load_config
    from ragloom.errors import (
        CollectionMismatch,
        CollectionNotFound,
        ConfigError,
        IdentityRequired,
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
    from ragloom.routing import build_router
    from ragloom.store import build_vector_store, close_clients, copy_collection, get_client

__all__ = [
    "CollectionMismatch",
    "CollectionNotFound",
    "ConfigError",
    "EvalResult",
    "FailedFile",
    "IdentityRequired",
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
    "build_router",
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

_dynamic_imports = {
    "RagInput": "chains",
    "RagOutput": "chains",
    "build_rag_chain": "chains",
    "RagConfig": "config",
    "load_config": "config",
    "CollectionMismatch": "errors",
    "CollectionNotFound": "errors",
    "ConfigError": "errors",
    "IdentityRequired": "errors",
    "IngestError": "errors",
    "InvalidInput": "errors",
    "ModelNotFound": "errors",
    "ProviderTimeout": "errors",
    "ProviderUnavailable": "errors",
    "RagloomError": "errors",
    "StoreLocked": "errors",
    "EvalResult": "evaluation",
    "evaluate_retriever": "evaluation",
    "FailedFile": "ingestion",
    "IngestProgress": "ingestion",
    "IngestReport": "ingestion",
    "aingest": "ingestion",
    "ingest": "ingestion",
    "build_condense_prompt": "prompts",
    "build_prompt": "prompts",
    "format_context": "prompts",
    "Provider": "providers",
    "available_providers": "providers",
    "build_chat_model": "providers",
    "build_embeddings": "providers",
    "get_provider": "providers",
    "register_provider": "providers",
    "MultiQueryRetriever": "retrievers",
    "RagloomRetriever": "retrievers",
    "build_retriever": "retrievers",
    "build_router": "routing",
    "build_vector_store": "store",
    "close_clients": "store",
    "copy_collection": "store",
    "get_client": "store",
}
"""Each public name → the module (under `ragloom.`) that defines it."""


def __getattr__(name: str) -> object:
    module_name = _dynamic_imports.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module_name}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
