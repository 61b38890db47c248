"""Access enforced in retrieval: tenants and groups kept apart on every path.

No HTTP: a deterministic bag-of-words embedder (so a question naming a document ranks
it first when nothing filters) and fake chat models. Engines: edge (a folder) and
local (`:memory:`).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import FakeListChatModel

from ragloom import RagConfig, build_rag_chain, build_retriever, build_vector_store, ingest
from ragloom._access import Access, User, visible
from ragloom.errors import IdentityRequired, InvalidInput
from ragloom.retrievers import MultiQueryRetriever

DIM = 64


class WordEmbeddings(Embeddings):
    """Each word adds 1 to a hashed dimension: shared words mean similar vectors."""

    def _vector(self, text: str) -> list[float]:
        v = [0.0] * DIM
        for word in text.lower().replace("?", " ").replace(".", " ").split():
            v[int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIM] += 1.0
        norm = sum(x * x for x in v) ** 0.5 or 1.0
        return [x / norm for x in v]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


DOCS = [
    Document("Acme salary bands for engineers are 90k to 140k.",
             metadata={"source": "acme/hr/salaries.md", "tenant": "acme", "groups": ["hr"],
                       "classification": "confidential"}),
    Document("Acme holiday policy: 30 days of leave per year.",
             metadata={"source": "acme/handbook.md", "tenant": "acme"}),
    Document("Globex salary bands for engineers are 70k to 120k.",
             metadata={"source": "globex/hr/salaries.md", "tenant": "globex",
                       "groups": ["hr"]}),
    Document("Globex holiday policy: 25 days of leave per year.",
             metadata={"source": "globex/handbook.md", "tenant": "globex"}),
    Document("Public office hours are nine to five.", metadata={"source": "public.md"}),
]
ACME_HR = User(tenant="acme", groups=["hr"])
ACME_STAFF = User(tenant="acme", groups=["sales"])
ENGINES = ["edge", "local"]
# (mode, search): every retrieval path the retriever offers.
PATHS = [("dense", "similarity"), ("dense", "mmr"), ("dense", "threshold"),
         ("sparse", "similarity"), ("sparse", "threshold"), ("hybrid", "similarity")]


def config(engine: str, tmp_path: Path, **retrieval: Any) -> RagConfig:
    location = str(tmp_path / "q") if engine == "edge" else ":memory:"
    name = "ten_" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:10]
    retrieval.setdefault("k", 10)
    return RagConfig(qdrant={"engine": engine, "location": location, "collection": name},
                     retrieval=retrieval, answer={"min_relevance": None})


def seeded(engine: str, tmp_path: Path, docs: list[Document] = DOCS, **retrieval: Any,
           ) -> tuple[RagConfig, Any]:
    if retrieval.get("search") == "threshold":
        retrieval.setdefault("score_threshold", -1.0)
    cfg = config(engine, tmp_path, **retrieval)
    store = build_vector_store(cfg, embeddings=WordEmbeddings())
    store.add_documents(docs, ids=[f"d{i}" for i in range(len(docs))])
    finish = getattr(store.client, "finish_writes", None)
    if finish is not None:
        finish(cfg.qdrant.collection)
    return cfg, store


def sources(docs: list[Document]) -> set[str]:
    return {d.metadata["source"] for d in docs}


def as_config(user: User) -> dict[str, Any]:
    return {"configurable": {"ragloom_user": user.model_dump()}}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("mode", "search"), PATHS)
def test_every_path_keeps_tenants_and_groups_apart(engine: str, mode: str, search: str,
                                                   tmp_path: Path) -> None:
    cfg, store = seeded(engine, tmp_path, mode=mode, search=search)
    retriever = build_retriever(cfg, store)
    # The question names the other tenant's HR document.
    question = "Globex salary bands for engineers, policy, hours"
    anonymous = sources(retriever.invoke(question))
    assert "globex/hr/salaries.md" in anonymous  # unfiltered, it is found (today's behaviour)
    for user in (ACME_HR, ACME_STAFF, User(), User(tenant="globex")):
        got = retriever.invoke(question, as_config(user))
        assert got, user
        assert all(visible(d.metadata, user) for d in got), (user, sources(got))
    assert sources(retriever.invoke(question, as_config(ACME_HR))) == {
        "acme/hr/salaries.md", "acme/handbook.md", "public.md"}
    assert sources(retriever.invoke(question, as_config(ACME_STAFF))) == {
        "acme/handbook.md", "public.md"}
    assert sources(retriever.invoke(question, as_config(User(tenant="globex")))) == {
        "globex/handbook.md", "public.md"}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_user_filter_only_narrows(engine: str, tmp_path: Path) -> None:
    cfg, store = seeded(engine, tmp_path, mode="hybrid")
    retriever = build_retriever(cfg, store)
    widen = [
        {"tenant": "globex"},
        {"should": [{"key": "metadata.tenant", "match": {"value": "globex"}},
                    {"key": "metadata.tenant", "match": {"value": "acme"}}]},
        {"must_not": [{"key": "metadata.tenant", "match": {"value": "acme"}}]},
        {"groups": ["hr", "sales", "it"]},
    ]
    for spec in widen:
        got = retriever.invoke("salary bands", as_config(ACME_STAFF), filter=spec)
        assert all(visible(d.metadata, ACME_STAFF) for d in got), (spec, sources(got))
    narrowed = retriever.invoke("policy", as_config(ACME_HR), filter={"groups": ["hr"]})
    assert sources(narrowed) == {"acme/hr/salaries.md"}


@pytest.mark.parametrize("engine", ENGINES)
def test_multi_query_and_follow_up_are_filtered(engine: str, tmp_path: Path) -> None:
    cfg, store = seeded(engine, tmp_path, mode="hybrid", k=3)
    llm = FakeListChatModel(responses=["Globex salary bands\nGlobex engineers pay"])
    mq = MultiQueryRetriever(retriever=build_retriever(cfg, store), llm=llm, k=5)
    got = mq.invoke("Globex salaries?", as_config(ACME_STAFF))
    assert got and all(visible(d.metadata, ACME_STAFF) for d in got)
    # A follow-up: the condensed question names the other tenant; the answer is faked.
    chat = FakeListChatModel(responses=["What are the Globex salary bands?", "An answer."])
    chain = build_rag_chain(cfg, llm=chat, retriever=build_retriever(cfg, store), guards=[])
    result = chain.invoke({"question": "And theirs?",
                           "chat_history": [("human", "Acme salaries?"), ("ai", "90k")]},
                          as_config(ACME_STAFF))
    assert result["sources"]
    assert all(visible(d.metadata, ACME_STAFF) for d in result["sources"])
    assert "globex/hr/salaries.md" not in sources(result["sources"])


@pytest.mark.parametrize("engine", ENGINES)
def test_identity_bound_at_build_time(engine: str, tmp_path: Path) -> None:
    cfg, store = seeded(engine, tmp_path, mode="dense")
    retriever = build_retriever(cfg, store, user={"tenant": "globex"})
    assert sources(retriever.invoke("salary bands")) == {"globex/handbook.md", "public.md"}
    with pytest.raises(InvalidInput, match="built for one user"):
        retriever.invoke("salary", as_config(ACME_HR))
    chain = build_rag_chain(cfg, llm=FakeListChatModel(responses=["ok"]),
                            retriever=build_retriever(cfg, store), user=ACME_STAFF, guards=[])
    assert all(visible(d.metadata, ACME_STAFF)
               for d in chain.invoke("Globex salary bands")["sources"])


def test_require_user_refuses_anonymous_calls(tmp_path: Path) -> None:
    cfg, store = seeded("local", tmp_path, mode="dense")
    llm = FakeListChatModel(responses=["ok"])
    chain = build_rag_chain(cfg, llm=llm, retriever=build_retriever(cfg, store),
                            require_user=True, guards=[])
    with pytest.raises(IdentityRequired, match="requires a user"):
        chain.invoke("salary bands")
    with pytest.raises(IdentityRequired):
        build_retriever(cfg, store, require_user=True).invoke("salary bands")
    assert chain.invoke("salary bands", as_config(ACME_HR))["sources"]
    with pytest.raises(InvalidInput, match="groups"):
        chain.invoke("x", {"configurable": {"ragloom_user": {"tenant": "a", "groups": 3}}})


def test_a_foreign_retriever_cannot_take_an_identity(tmp_path: Path) -> None:
    from langchain_core.retrievers import BaseRetriever

    class Plain(BaseRetriever):
        def _get_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
            return []

    cfg = config("local", tmp_path)
    from ragloom.errors import ConfigError

    with pytest.raises(ConfigError, match="retriever ragloom builds"):
        build_rag_chain(cfg, llm=FakeListChatModel(responses=["x"]), retriever=Plain(),
                        require_user=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_randomized_users_groups_and_documents(engine: str, tmp_path: Path) -> None:
    rng = random.Random(23)
    tenants, groups = ["t0", "t1", "t2", "t3"], ["g0", "g1", "g2", "g3", "g4"]
    words = [f"w{i}" for i in range(40)]
    docs = []
    for i in range(150):
        meta: dict[str, Any] = {"source": f"doc{i}.md"}
        if rng.random() < 0.8:
            meta["tenant"] = rng.choice(tenants)
        if rng.random() < 0.6:
            meta["groups"] = rng.sample(groups, rng.randint(1, 2))
        docs.append(Document(" ".join(rng.choices(words, k=8)), metadata=meta))
    cfg, store = seeded(engine, tmp_path, docs, mode="hybrid", k=200, fetch_k=200)
    retriever = build_retriever(cfg, store)
    for _ in range(25):
        user = User(tenant=rng.choice([*tenants, None]),
                    groups=rng.sample(groups, rng.randint(0, 3)))
        got = retriever.invoke(" ".join(rng.choices(words, k=4)), as_config(user))
        expected = {d.metadata["source"] for d in docs if visible(d.metadata, user)}
        assert sources(got) <= expected
        # Everything visible that matches a word is found (k covers the collection).
        assert all(visible(d.metadata, user) for d in got)
        assert got or not expected


def test_access_validation_names_the_problem() -> None:
    with pytest.raises(InvalidInput, match="classification"):
        Access.parse({"classification": "secret"})
    with pytest.raises(InvalidInput, match="tenant"):
        User.parse({"tenant": ""})
    with pytest.raises(InvalidInput, match="Keys"):
        User.parse({"tennant": "acme"})


@pytest.mark.parametrize("engine", ENGINES)
def test_ingest_stores_access_and_rekeys_without_embedding(engine: str, tmp_path: Path,
                                                            ) -> None:
    docs = tmp_path / "docs"
    (docs / "hr").mkdir(parents=True)
    (docs / "hr" / "pay.md").write_text("Salary bands are 90k to 140k.")
    (docs / "handbook.md").write_text("Holidays: 30 days of leave.")

    class Counting(WordEmbeddings):
        calls = 0

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            Counting.calls += len(texts)
            return super().embed_documents(texts)

    cfg = config(engine, tmp_path).model_copy(update={"ingest": RagConfig(
        ingest={"root": str(docs), "access": [{"glob": "hr/**", "groups": ["hr"]}]}).ingest})
    store = build_vector_store(cfg, embeddings=Counting())
    report = ingest([docs], cfg, store=store, access={"tenant": "acme"})
    assert report.added == 2 and Counting.calls == 2

    def stored() -> dict[str, dict[str, Any]]:
        records, _ = store.client.scroll(cfg.qdrant.collection, limit=100, with_payload=True)
        return {r.payload["metadata"]["source"]: r.payload["metadata"] for r in records}

    meta = stored()
    assert meta["hr/pay.md"]["tenant"] == "acme" and meta["hr/pay.md"]["groups"] == ["hr"]
    assert meta["handbook.md"]["tenant"] == "acme" and "groups" not in meta["handbook.md"]
    # Change access: the chunks are re-keyed, nothing is embedded again.
    report = ingest([docs], cfg, store=store,
                    access={"tenant": "globex", "classification": "confidential"})
    assert Counting.calls == 2 and report.unchanged == 2 and report.rekeyed == 2
    meta = stored()
    assert {m["tenant"] for m in meta.values()} == {"globex"}
    assert meta["hr/pay.md"]["classification"] == "confidential"
    # Removing the access keys removes them from the payload.
    plain = cfg.model_copy(update={"ingest": RagConfig(ingest={"root": str(docs)}).ingest})
    report = ingest([docs], plain, store=store)
    assert Counting.calls == 2 and report.rekeyed == 2
    assert all("tenant" not in m and "groups" not in m for m in stored().values())
    report = ingest([docs], plain, store=store)
    assert report.rekeyed == 0 and report.unchanged == 2


@pytest.mark.parametrize("engine", ENGINES)
async def test_async_paths_are_filtered(engine: str, tmp_path: Path) -> None:
    cfg, store = seeded(engine, tmp_path, mode="hybrid")
    retriever = build_retriever(cfg, store)
    got = await retriever.ainvoke("Globex salary bands", as_config(ACME_STAFF))
    assert got and all(visible(d.metadata, ACME_STAFF) for d in got)
    chain = build_rag_chain(cfg, llm=FakeListChatModel(responses=["ok"]), retriever=retriever,
                            require_user=True, guards=[])
    with pytest.raises(IdentityRequired):
        await chain.ainvoke("Globex salary bands")
    result = await chain.ainvoke("Globex salary bands", as_config(ACME_STAFF))
    assert all(visible(d.metadata, ACME_STAFF) for d in result["sources"])


def test_access_indexes_exist_and_copy_collection_keeps_them(tmp_path: Path) -> None:
    from ragloom import copy_collection

    cfg, store = seeded("edge", tmp_path, mode="hybrid")
    schema = store.client.get_collection(cfg.qdrant.collection).payload_schema
    assert {"metadata.tenant", "metadata.groups", "metadata.classification"} <= set(schema)
    target = RagConfig(qdrant={"engine": "edge", "location": str(tmp_path / "copy"),
                               "collection": "copied"})
    assert copy_collection(cfg, target) == len(DOCS)
    from ragloom.store import get_client

    copied = get_client(target).get_collection("copied").payload_schema
    assert {"metadata.tenant", "metadata.groups", "metadata.classification"} <= set(copied)


@pytest.mark.parametrize("engine", ENGINES)
def test_prune_for_a_tenant_never_touches_another_tenant(engine: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "acme.md").write_text("Acme notes.")
    (docs / "globex.md").write_text("Globex notes.")
    cfg = config(engine, tmp_path).model_copy(
        update={"ingest": RagConfig(ingest={"root": str(docs)}).ingest})
    store = build_vector_store(cfg, embeddings=WordEmbeddings())
    ingest([docs / "globex.md"], cfg, store=store, access={"tenant": "globex"})
    ingest([docs / "acme.md"], cfg, store=store, access={"tenant": "acme"})
    (docs / "globex.md").unlink()  # gone from acme's view of the folder too
    report = ingest([docs], cfg, store=store, prune=True, access={"tenant": "acme"})
    assert report.deleted == 0 and report.chunks_deleted == 0
    records, _ = store.client.scroll(cfg.qdrant.collection, limit=10, with_payload=True)
    assert sorted(r.payload["metadata"]["tenant"] for r in records) == ["acme", "globex"]
    report = ingest([docs], cfg, store=store, prune=True, access={"tenant": "globex"})
    assert report.deleted == 1  # globex's own run prunes globex's file
