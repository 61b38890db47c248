"""Redaction at the point where a request leaves: a chat model wrapper that masks secrets.

`RedactingChatModel` wraps whatever chat model ragloom calls (the configured one, one
you pass in, and every auxiliary call: condensing a follow-up, multi-query rewording)
and decides per request, from the model actually called, whether the messages leave
this machine: a model whose server(s) are all loopback (`localhost`, `127.0.0.0/8`,
`::1`) gets them as they are; one with any other server in its `base_url` list, or
whose destination cannot be read (a model class ragloom does not know), gets them
masked. Every content form is masked: strings, content blocks, and so the labels and
file names `format_context` puts into the prompt.

Placeholders look like `[EMAIL_1_k3x9qa]`: the suffix is derived from the user's own
question and history, so a document cannot contain one by chance; a document that does
(`[EMAIL_1]` stays plain text) marks the call as forged and nothing is restored. In the
answer only placeholders for the user's own values are restored, and only in prose
(see `ragloom._restoration`); the rest read `[email withheld]`.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> model = RedactingChatModel(inner=FakeListChatModel(responses=["Done."]))
    >>> model.redacts()  # a fake model has no known destination: treated as remote
    True
    >>> model.invoke("Mail ann@example.com").content
    'Done.'

"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import re
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config

from ragloom._detectors import KINDS, find_secrets
from ragloom._restoration import StreamRestorer, restore

__all__ = ["VAULT_KEY", "RedactingChatModel", "Vault", "destinations", "is_local",
           "redacting", "with_vault"]

VAULT_KEY = "__ragloom_vault"
"""The `configurable` key under which a chain passes its per-call `Vault` to the model."""


class Vault:
    """The placeholders of one call: which value each stands for and whether it is the user's.

    `owned` are the user's own texts (question, history): values found there may be
    restored in the answer. A chain makes one vault per call, so concurrent calls never
    share one.

    Example:
        >>> vault = Vault(owned=["my card 4111 1111 1111 1111"])
        >>> masked = vault.redact("Card 4111 1111 1111 1111 or jo@example.com?")
        >>> vault.counts()
        {'EMAIL': 1, 'CARD': 1}

    """

    def __init__(self, owned: Sequence[str] = (), region: str | None = None) -> None:
        self.region = region
        self._owned = [text for text in owned if text]
        seed = hashlib.sha256("\x00".join(["ragloom", *self._owned]).encode()).digest()
        self.suffix = base64.b32encode(seed).decode().lower()[:6]
        """A suffix the placeholders of this call end with; unknown to document authors."""
        self.placeholder_pattern = re.compile(rf"\[([A-Z_]+)_(\d+)_{self.suffix}\]")
        self.forged = False
        """True once outgoing text already held this call's suffix: nothing is restored."""
        self._values: dict[str, str] = {}
        self._entries: dict[str, tuple[str, str, bool]] = {}
        self._primed = False
        self._lock = threading.RLock()

    def __repr__(self) -> str:  # never the values
        return f"Vault(suffix={self.suffix!r}, placeholders={len(self._entries)})"

    def redact(self, text: str, *, owned: bool = False) -> str:
        """`text` with every secret replaced by its placeholder (one per distinct value)."""
        with self._lock:
            if not self._primed:
                self._primed = True
                for own in self._owned:
                    self.redact(own, owned=True)
            if f"_{self.suffix}]" in text:
                self.forged = True
            for start, end, kind in reversed(find_secrets(text, self.region)):
                text = text[:start] + self._placeholder(kind, text[start:end], owned) + text[end:]
            return text

    def _placeholder(self, kind: str, value: str, owned: bool) -> str:
        key = self._values.get(value)
        if key is None:
            number = sum(1 for k, *_ in self._entries.values() if k == kind) + 1
            key = f"[{kind}_{number}_{self.suffix}]"
            self._values[value] = key
            self._entries[key] = (kind, value, owned)
        elif owned and not self._entries[key][2]:
            self._entries[key] = (*self._entries[key][:2], True)
        return key

    def is_placeholder(self, text: str) -> bool:
        """Whether `text` is exactly one placeholder of this call."""
        return self.placeholder_pattern.fullmatch(text) is not None

    def reveal(self, placeholder: str, unsafe: bool) -> str:
        """The original of `placeholder` if it is the user's and the place is safe, else a mask."""
        entry = self._entries.get(placeholder)
        if entry is not None and entry[2] and not unsafe and not self.forged:
            return entry[1]
        match = self.placeholder_pattern.fullmatch(placeholder)
        kind = entry[0] if entry else (match.group(1) if match else "value")
        return f"[{kind.lower().replace('_', ' ')} withheld]"

    def counts(self) -> dict[str, int]:
        """Placeholders by kind, in the order of `KINDS`."""
        found = [kind for kind, *_ in self._entries.values()]
        return {kind: found.count(kind) for kind in KINDS if kind in found}


def is_local(url: str) -> bool:
    """Whether `url` (or a bare `host:port`) is on this machine's loopback interface.

    Example:
        >>> is_local("http://127.0.0.1:11434"), is_local("localhost:8000"), is_local("10.0.0.2")
        (True, True, False)

    """
    host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _transport_urls(transport: Any, depth: int = 0) -> list[str]:
    router = getattr(transport, "router", None)
    if router is not None and isinstance(getattr(router, "servers", None), list):
        return [str(server.url) for server in router.servers]
    inner = getattr(transport, "inner", None)
    return _transport_urls(inner, depth + 1) if inner is not None and depth < 5 else []


def destinations(model: Any) -> list[str] | None:
    """Every server `model` may send a request to; None when that cannot be told.

    Reads the URL fields of the common chat models (`base_url`, `openai_api_base`, ...)
    and the server lists of ragloom's own transports (a `base_url` list spreads
    requests over all of its servers).

    Example:
        >>> from ragloom import RagConfig, build_chat_model
        >>> destinations(build_chat_model(RagConfig(llm={
        ...     "base_url": "http://127.0.0.1:11434,http://gpu.example:11434"})))
        ['http://127.0.0.1:11434', 'http://gpu.example:11434']

    """
    bound = getattr(model, "bound", None)  # a RunnableBinding (llm.bind(...))
    if isinstance(bound, Runnable):
        return destinations(bound)
    urls: list[str] = []
    for name in ("base_url", "openai_api_base", "api_base", "azure_endpoint", "endpoint"):
        value = getattr(model, name, None)
        if isinstance(value, str) and value:
            urls.extend(part.strip() for part in value.split(",") if part.strip())
    for name in ("sync_client_kwargs", "async_client_kwargs"):
        kwargs = getattr(model, name, None)
        if isinstance(kwargs, dict):
            urls.extend(_transport_urls(kwargs.get("transport")))
    for name in ("http_client", "http_async_client"):
        urls.extend(_transport_urls(getattr(getattr(model, name, None), "_transport", None)))
    if not urls and any(cls.__name__ == "ChatOllama" for cls in type(model).__mro__):
        urls.append(os.environ.get("OLLAMA_HOST") or "127.0.0.1:11434")
    return list(dict.fromkeys(urls)) or None


# The inner model runs without callbacks: the wrapper's own run already reports the
# call (tokens included), and a second run would stream every token twice to listeners.
_UNTRACED: RunnableConfig = {"callbacks": []}


def _active_vault() -> Vault | None:
    config = var_child_runnable_config.get() or {}
    vault = (config.get("configurable") or {}).get(VAULT_KEY)
    return vault if isinstance(vault, Vault) else None


def with_vault(config: RunnableConfig | None, vault: Vault) -> RunnableConfig:
    """`config` carrying `vault` to every `RedactingChatModel` called under it.

    Example:
        >>> with_vault({}, Vault())["configurable"][VAULT_KEY].suffix.isalnum()
        True

    """
    merged: dict[str, Any] = dict(config or {})
    merged["configurable"] = {**(merged.get("configurable") or {}), VAULT_KEY: vault}
    return cast(RunnableConfig, merged)


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [text for block in content for text in _texts(
            block.get("text") if isinstance(block, dict) else block)]
    return []


def message_texts(messages: Sequence[BaseMessage]) -> list[str]:
    """The text of every message (string content and text blocks alike).

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> message_texts([HumanMessage([{"type": "text", "text": "hi"}, "there"])])
        ['hi', 'there']

    """
    return [text for message in messages for text in _texts(message.content)]


def _masked_content(content: Any, vault: Vault) -> Any:
    if isinstance(content, str):
        return vault.redact(content)
    if isinstance(content, list):
        return [_masked_content(block, vault) for block in content]
    if isinstance(content, dict):
        return {key: _masked_content(value, vault) if key in ("text", "content") else value
                for key, value in content.items()}
    return content


def _restored_message(reply: Any, vault: Vault | None) -> BaseMessage:
    message: BaseMessage = reply if isinstance(reply, BaseMessage) else AIMessage(str(reply))
    if vault is None:
        return message
    content: Any = message.content
    if isinstance(content, str):
        content = restore(content, vault)
    elif isinstance(content, list):
        content = [{**b, "text": restore(b["text"], vault)}
                   if isinstance(b, dict) and isinstance(b.get("text"), str)
                   else restore(b, vault) if isinstance(b, str) else b for b in content]
    return message.model_copy(update={"content": content})


class RedactingChatModel(BaseChatModel):
    """A chat model that masks secrets in what it sends when its server is not this machine.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> RedactingChatModel(inner=FakeListChatModel(responses=["ok"]), mode="off").redacts()
        False

    """

    inner: Runnable[Any, Any]
    """The chat model that really answers."""
    mode: Literal["auto", "on", "off"] = "auto"
    """`auto`: redact when a destination is not loopback or is unknown; `on`/`off`: always/never."""
    phone_region: str | None = None
    """Region for national phone numbers, for calls made outside a chain's vault."""

    @property
    def _llm_type(self) -> str:
        return "ragloom-redacting"

    def redacts(self) -> bool:
        """Whether requests are masked: by `mode`, else by the inner model's destinations."""
        if self.mode != "auto":
            return self.mode == "on"
        urls = destinations(self.inner)
        return urls is None or not all(is_local(url) for url in urls)

    def _outgoing(self, messages: list[BaseMessage]) -> tuple[list[BaseMessage], Vault | None]:
        if not self.redacts():
            return messages, None
        vault = _active_vault() or Vault(
            owned=message_texts([m for m in messages if m.type in ("human", "ai")]),
            region=self.phone_region)
        return [m.model_copy(update={"content": _masked_content(m.content, vault)})
                for m in messages], vault

    @staticmethod
    def _call_kwargs(stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, "stop": stop} if stop is not None else kwargs

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        sent, vault = self._outgoing(messages)
        config = _UNTRACED
        reply = self.inner.invoke(sent, config, **self._call_kwargs(stop, kwargs))
        return ChatResult(generations=[ChatGeneration(message=_restored_message(reply, vault))])

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None,
                         **kwargs: Any) -> ChatResult:
        sent, vault = self._outgoing(messages)
        config = _UNTRACED
        reply = await self.inner.ainvoke(sent, config, **self._call_kwargs(stop, kwargs))
        return ChatResult(generations=[ChatGeneration(message=_restored_message(reply, vault))])

    @staticmethod
    def _chunk(piece: Any, restorer: StreamRestorer | None) -> ChatGenerationChunk:
        message = piece if isinstance(piece, BaseMessageChunk) else AIMessageChunk(
            content=str(piece))
        if restorer is not None and isinstance(message.content, str):
            message = message.model_copy(update={"content": restorer.feed(message.content)})
        return ChatGenerationChunk(message=message)

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        sent, vault = self._outgoing(messages)
        restorer = StreamRestorer(vault) if vault is not None else None
        config = _UNTRACED
        for piece in self.inner.stream(sent, config, **self._call_kwargs(stop, kwargs)):
            yield self._chunk(piece, restorer)
        if restorer is not None and (rest := restorer.flush()):
            yield ChatGenerationChunk(message=AIMessageChunk(content=rest))

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        sent, vault = self._outgoing(messages)
        restorer = StreamRestorer(vault) if vault is not None else None
        config = _UNTRACED
        async for piece in self.inner.astream(sent, config, **self._call_kwargs(stop, kwargs)):
            yield self._chunk(piece, restorer)
        if restorer is not None and (rest := restorer.flush()):
            yield ChatGenerationChunk(message=AIMessageChunk(content=rest))


def redacting(model: Any, mode: Literal["auto", "on", "off"] = "auto",
              phone_region: str | None = None) -> RedactingChatModel:
    """`model` wrapped in a `RedactingChatModel` (once: a wrapped model is returned as is).

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> wrapped = redacting(FakeListChatModel(responses=["ok"]))
        >>> redacting(wrapped) is wrapped
        True

    """
    if isinstance(model, RedactingChatModel):
        return model
    return RedactingChatModel(inner=model, mode=mode, phone_region=phone_region)
