"""ragloom: composable RAG factories for LangChain over Qdrant, Ollama by default."""

from ragloom.config import RagConfig, load_config
from ragloom.errors import (
    CollectionMismatch,
    ConfigError,
    IngestError,
    ModelNotFound,
    ProviderTimeout,
    ProviderUnavailable,
    RagloomError,
    StoreLocked,
)

__all__ = [
    "CollectionMismatch",
    "ConfigError",
    "IngestError",
    "ModelNotFound",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RagConfig",
    "RagloomError",
    "StoreLocked",
    "load_config",
]
