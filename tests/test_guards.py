"""The guards and the citation filter, unit by unit (no model, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.messages import HumanMessage

from ragloom import RagConfig
from ragloom._citations import AnswerFilter
from ragloom.guards import RedactSecrets, build_guards, leaves_the_machine, screen_text
from ragloom.providers import build_chat_model
from ragloom.redaction import redacting

SCREENING = Path(__file__).parent / "data" / "screening"


def redact(text: str, **kwargs: str) -> tuple[str, dict[str, str]]:
    vault: dict[str, str] = {}
    return RedactSecrets(**kwargs).redact(text, vault), vault


@pytest.mark.parametrize(("text", "kind", "secret"), [
    ("mail bob.smith+ops@mail.example.co.uk today", "EMAIL", "bob.smith+ops@mail.example.co.uk"),
    ("call +44 20 7946 0958 now", "PHONE", "+44 20 7946 0958"),
    ("pay to DE89 3704 0044 0532 0130 00 please", "IBAN", "DE89 3704 0044 0532 0130 00"),
    ("card 4111 1111 1111 1111 expires", "CARD", "4111 1111 1111 1111"),
    ("key sk-proj-AbCdEfGhIjKlMnOpQrStUv123 here", "API_KEY", "sk-proj-AbCdEfGhIjKlMnOpQrStUv123"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 x", "API_KEY",
     "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("AWS AKIAIOSFODNN7EXAMPLE key", "API_KEY", "AKIAIOSFODNN7EXAMPLE"),
    ("Authorization: Bearer abc.DEF-123_456~xyz", "TOKEN", "abc.DEF-123_456~xyz"),
    ("api_key = 'q8Wz0pLm3NvB'", "SECRET", "q8Wz0pLm3NvB"),
])
def test_each_kind_is_masked_and_restorable(text: str, kind: str, secret: str) -> None:
    masked, vault = redact(text)
    assert secret not in masked
    assert f"[{kind}_1]" in masked and vault[f"[{kind}_1]"] == secret
    state = {"redactions": vault}
    assert RedactSecrets().restore(masked, state) == text


@pytest.mark.parametrize("text", [
    "card 4111 1111 1111 1112 fails Luhn",          # one digit off
    "IBAN DE89 3704 0044 0532 0130 01 is invalid",   # bad checksum
    "version 1.2.3 on port 8080, 2026-12-01",        # no phone in dates and versions
    "see docs/ragloom.md and the sk- prefix",        # too short for a key
])
def test_lookalikes_are_left_alone(text: str) -> None:
    masked, vault = redact(text)
    assert masked == text and vault == {}


def test_national_phone_numbers_need_a_region() -> None:
    assert redact("call (415) 555-2671")[1] == {}
    masked, vault = redact("call (415) 555-2671", phone_region="US")
    assert vault == {"[PHONE_1]": "(415) 555-2671"} and masked == "call [PHONE_1]"


def test_same_value_same_placeholder_across_question_history_and_context() -> None:
    state = RedactSecrets().invoke({
        "question": "Is bob@example.com the owner?",
        "chat_history": [HumanMessage("I wrote to bob@example.com")],
        "sources": [Document("Owner: bob@example.com, backup: eve@example.com")],
        "checks": {},
    })
    assert state["question"] == "Is [EMAIL_1] the owner?"
    assert state["chat_history"][0].content == "I wrote to [EMAIL_1]"
    assert state["sources"][0].page_content == "Owner: [EMAIL_1], backup: [EMAIL_2]"
    assert state["checks"]["redacted"] == {"EMAIL": 2}


@pytest.mark.parametrize(("llm", "leaves"), [
    ({"provider": "openai"}, True),
    ({"provider": "openai", "base_url": "https://api.example.com/v1"}, True),
    ({"provider": "openai", "base_url": "http://127.0.0.1:11434/v1"}, False),
    ({"provider": "openai", "base_url": "http://localhost:8000/v1"}, False),
    ({"provider": "ollama"}, False),
    ({"provider": "ollama", "base_url": "http://gpu-box.lan:11434"}, True),
    ({"provider": "ollama", "base_url": "http://[::1]:11434"}, False),
    ({"provider": "ollama", "base_url": "http://127.0.0.1:11434,http://gpu-box.lan:11434"}, True),
])
def test_what_leaves_the_machine(llm: dict[str, str], leaves: bool,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    cfg = RagConfig(llm={**llm, "api_key": "sk-test"})
    if "," not in llm.get("base_url", ""):
        assert leaves_the_machine(cfg) is leaves
    # The decision is the redacting model's, from the servers of the model it wraps.
    assert redacting(build_chat_model(cfg)).redacts() is leaves
    assert "RedactSecrets" not in [type(g).__name__ for g in build_guards(cfg)]


def test_redaction_can_be_forced_either_way() -> None:
    def redacts(redact: str, provider: str) -> bool:
        cfg = RagConfig(llm={"provider": provider, "api_key": "sk-test"},
                        guards={"redact": redact})
        return redacting(build_chat_model(cfg), cfg.guards.redact).redacts()

    assert redacts("on", "ollama") is True
    assert redacts("off", "openai") is False
    assert redacts("auto", "ollama") is False
    cfg = RagConfig(guards={"screen": "off", "check_output": False})
    assert build_guards(cfg) == []


def load(name: str) -> list[str]:
    return [json.loads(line)["text"] for line in (SCREENING / name).read_text().splitlines()
            if line.strip()]


def test_screen_meets_its_targets_on_the_labelled_set() -> None:
    planted, ordinary = load("planted.jsonl"), load("ordinary.jsonl")
    assert len(planted) >= 40 and len(ordinary) >= 40
    detection = sum(bool(screen_text(t)) for t in planted) / len(planted)
    false_positives = sum(bool(screen_text(t)) for t in ordinary) / len(ordinary)
    assert detection >= 0.90, detection
    assert false_positives <= 0.05, false_positives


def test_citation_split_over_tokens_is_judged_whole() -> None:
    answer = AnswerFilter(n_sources=2)
    shown = [answer.feed(t) for t in ["Keys rotate", " [", "1", "] monthly", " [", "7", "]."]]
    shown.append(answer.flush())
    assert "".join(shown) == answer.text == "Keys rotate [1] monthly."
    assert answer.cited == [1] and answer.removed == [7]
    assert shown[1] == shown[2] == ""  # held back until the bracket closed


def test_grouped_citations_keep_the_valid_numbers_in_order_of_first_citation() -> None:
    answer = AnswerFilter(n_sources=3)
    answer.feed("A [3, 9] then [2][3] and [0].")
    answer.flush()
    assert answer.text == "A [3] then [2][3] and."
    assert answer.cited == [3, 2] and answer.removed == [9, 0]
    sources = [Document(str(n), metadata={"source": f"{n}.md"}) for n in (1, 2, 3)]
    assert [d.metadata["citation"] for d in answer.citations(sources)] == [3, 2]


def test_an_unclosed_bracket_is_released_at_the_end() -> None:
    answer = AnswerFilter(n_sources=1)
    assert answer.feed("see [note") == "see"
    assert answer.flush() == " [note"
    assert answer.text == "see [note"
