"""The redaction pieces one by one: detectors, vault, restoration, the wrapper (no network)."""

from __future__ import annotations

import pytest
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from ragloom._detectors import find_secrets
from ragloom._restoration import StreamRestorer, restore
from ragloom.redaction import RedactingChatModel, Vault, destinations, is_local


def kinds(text: str) -> list[tuple[str, str]]:
    return [(kind, text[s:e]) for s, e, kind in find_secrets(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ('{"password": "hunter2"}', [("SECRET", "hunter2")]),
    ("postgres://app:Sup3rS3cret@db:5432/x", [("SECRET", "Sup3rS3cret")]),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", [("TOKEN", "dXNlcjpwYXNzd29yZA==")]),
    ("IBAN de89 3704 0044 0532 0130 00 EUR 500", [("IBAN", "de89 3704 0044 0532 0130 00")]),
])
def test_detectors_find_the_value_only(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize("text", [
    "The author: Jane wrote basic authentication docs and bearer tokens.",
    "Use a token: see the docs. Version 1.2.3.4 on 10.0.0.1:8080.",
    "A literal placeholder [EMAIL_1] stays as it is.",
])
def test_ordinary_prose_is_left_alone(text: str) -> None:
    assert find_secrets(text) == []


def test_only_the_users_own_values_are_restored_and_only_in_prose() -> None:
    vault = Vault(owned=["I am ann@example.com"])
    user = vault.redact("ann@example.com")
    doc = vault.redact("bob@example.com")
    assert restore(f"Hi {user}; the owner is {doc}.", vault) == (
        "Hi ann@example.com; the owner is [email withheld].")
    for unsafe in (f"[x]({user})", f"`{user}`", f"<a title='{user}'>", f"http://e.x/{user}",
                   f"```\n{user}\n```", f"{user}(http://e.x)", f"[r]: {user}"):
        assert "ann@example.com" not in restore(unsafe, vault), unsafe


def test_a_document_holding_this_calls_suffix_turns_restoration_off() -> None:
    vault = Vault(owned=["ann@example.com"])
    user = vault.redact("ann@example.com")
    vault.redact(f"forged {user}")
    assert restore(user, vault) == "[email withheld]"


def test_streamed_restoration_equals_the_whole() -> None:
    vault = Vault(owned=["ann@example.com and +44 20 7946 0958"])
    masked = vault.redact("ann@example.com and +44 20 7946 0958")
    text = f"Mail {masked} ![i](http://x/{masked}) end"
    for size in (1, 2, 5, 17):
        restorer = StreamRestorer(vault)
        pieces = [restorer.feed(text[i:i + size]) for i in range(0, len(text), size)]
        assert "".join(pieces) + restorer.flush() == restore(text, vault)


def test_each_call_has_its_own_vault() -> None:
    first, second = Vault(owned=["q1"]), Vault(owned=["q2"])
    assert first.suffix != second.suffix
    first.redact("ann@example.com")
    assert "ann" not in repr(first) and first.counts() == {"EMAIL": 1}


def test_a_wrapped_model_without_a_chain_masks_and_restores_by_itself() -> None:
    seen: list[str] = []

    class Recording(FakeListChatModel):
        def _call(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
            seen.append(" ".join(str(m.content) for m in messages))
            return " ".join(w for w in seen[-1].split() if w.startswith("[EMAIL"))

    model = RedactingChatModel(inner=Recording(responses=["unused"]))
    reply = model.invoke([SystemMessage("Owner: eve@example.com"),
                          HumanMessage("I am ann@example.com")])
    assert "eve@example.com" not in seen[0] and "ann@example.com" not in seen[0]
    assert reply.content == "[email withheld] ann@example.com"


def test_destinations_of_a_model_and_loopback() -> None:
    assert destinations(FakeListChatModel(responses=["x"])) is None
    assert is_local("http://[::1]:11434") and not is_local("http://192.168.1.5:11434")
