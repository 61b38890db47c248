"""Ingestion: files → chunks → embeddings → Qdrant, repeating nothing and losing nothing.

Each chunk's point id is UUIDv5 of its source (the file's path relative to a source
root that does not depend on the working directory: `source_root`), index and content
hash, and its payload records the source, the file's sha256 and the chunk count:
Qdrant itself is the record of what was ingested. So a rerun skips files whose hash
and chunks are all there (no embedding call, no write), a changed file gets its new
chunks written before its old ones are deleted (a run killed in between leaves both
until the next run over the file, which deletes the old ones), an emptied file loses
its chunks, and `prune=True` removes files the filesystem reports as gone.

Files stream through a bounded queue: batches of `embeddings.batch_size` texts,
at most `embeddings.max_concurrency` embedding requests in flight, batched upserts.

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from ragloom import RagConfig
    >>> from ragloom.store import build_vector_store
    >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_ingest"})
    >>> store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    >>> import tempfile
    >>> notes = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> _ = notes.write_text("Rotate the API keys monthly.")
    >>> ingest([notes], cfg, store=store).added
    1
    >>> ingest([notes], cfg, store=store).unchanged
    1

"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragloom._access import Access
from ragloom._ingest_report import FailedFile, IngestProgress, IngestReport, ProgressCallback
from ragloom._ingest_run import IngestRun
from ragloom._loaders import CHUNK_NAMESPACE, INGEST_KEY, LoadContext, LoadError, chunk_id
from ragloom._target import Target, open_target
from ragloom.config import RagConfig, load_config
from ragloom.errors import ConfigError

if TYPE_CHECKING:
    from langchain_qdrant import QdrantVectorStore

__all__ = ["CHUNK_NAMESPACE", "INGEST_KEY", "FailedFile", "IngestProgress", "IngestReport",
           "LoadContext", "LoadError", "ProgressCallback", "aingest", "chunk_id", "ingest"]

Paths = str | Path | Sequence[str | Path]


def ingest(
    paths: Paths,
    cfg: RagConfig | None = None,
    *,
    store: QdrantVectorStore | None = None,
    prune: bool = False,
    glob: str | Sequence[str] | None = None,
    on_progress: ProgressCallback | None = None,
    access: Access | Mapping[str, Any] | None = None,
) -> IngestReport:
    """Ingest files and folders into the configured Qdrant collection.

    The pipeline of `aingest`, but the embedding requests go through the model's sync
    API from `embeddings.max_concurrency` threads: an async HTTP client is bound to the
    event loop it first ran on, and each call here runs a loop of its own (in a worker
    thread when one is already running, as in Jupyter).

    Args:
        paths: Files (taken whatever their name) and folders (searched with `glob`).
        cfg: Configuration; default `load_config()`.
        store: The vector store; default the collection `build_vector_store(cfg)`
            would open (the `VectorStore` itself is not built: without `store`, an
            ingest into the Edge engine imports neither langchain-qdrant nor
            qdrant-client).
        prune: Also delete the chunks of files under `paths` that no longer exist
            (the filesystem says so: a file it cannot check is kept).
        glob: Patterns for folders; default `cfg.ingest.glob`.
        on_progress: Called with an `IngestProgress` as the run advances.
        access: Access metadata for every file of this run (`tenant`, `groups`,
            `classification`), over what `ingest.access` patterns give; stored on
            each chunk. A file whose access changed is re-keyed, not re-embedded.

    Returns:
        The `IngestReport`: unusable files are in `failed`, all others landed.

    Raises:
        ConfigError: `ingest.chunk_overlap` is not smaller than `ingest.chunk_size`.
        IngestError: The embeddings model returned the wrong number of vectors.
        ProviderUnavailable: The embedding server could not be reached (after retries).
        ModelNotFound: The embedding model is not pulled.

    Example:
        >>> import tempfile
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from ragloom.store import build_vector_store
        >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_ingest_fn"})
        >>> store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "hr.md").write_text("Salary bands are reviewed in May.")
        >>> report = ingest(folder, cfg, store=store, access={"groups": ["hr"]})
        >>> report.added, report.failed
        (1, [])

    """

    def run() -> IngestReport:
        return asyncio.run(_ingest(paths, cfg, store, prune, glob, on_progress, access,
                                   threads=True))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with ThreadPoolExecutor(1, thread_name_prefix="ragloom-ingest") as pool:
        return pool.submit(run).result()


async def aingest(
    paths: Paths,
    cfg: RagConfig | None = None,
    *,
    store: QdrantVectorStore | None = None,
    prune: bool = False,
    glob: str | Sequence[str] | None = None,
    on_progress: ProgressCallback | None = None,
    access: Access | Mapping[str, Any] | None = None,
) -> IngestReport:
    """Async `ingest`, embedding with `aembed_documents`.

    Takes the same arguments, returns the same `IngestReport` and raises the same
    errors as `ingest`.

    Example:
        >>> import asyncio, tempfile
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from ragloom.store import build_vector_store
        >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_aingest"})
        >>> store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "notes.txt").write_text("Rotate the API keys monthly.")
        >>> asyncio.run(aingest([folder], cfg, store=store)).added
        1

    """
    return await _ingest(paths, cfg, store, prune, glob, on_progress, access, threads=False)


async def _ingest(paths: Paths, cfg: RagConfig | None, store: QdrantVectorStore | None,
                  prune: bool, glob: str | Sequence[str] | None,
                  on_progress: ProgressCallback | None,
                  access: Access | Mapping[str, Any] | None, *, threads: bool) -> IngestReport:
    cfg = cfg if cfg is not None else load_config()
    given = Access.parse(access) if access is not None else None
    if cfg.ingest.chunk_overlap >= cfg.ingest.chunk_size:
        raise ConfigError(f"ingest.chunk_overlap ({cfg.ingest.chunk_overlap}) must be smaller"
                          f" than ingest.chunk_size ({cfg.ingest.chunk_size})")
    target = open_target(cfg) if store is None else Target.of_store(store)
    roots = [paths] if isinstance(paths, str | Path) else list(paths)
    patterns = [glob] if isinstance(glob, str) else list(glob or cfg.ingest.glob)
    run = IngestRun(cfg, target, on_progress, given, threaded=threads)
    return await run.execute(roots, patterns, prune)
