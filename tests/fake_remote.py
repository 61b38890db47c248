"""A fake OpenAI-compatible chat server on host names that are not this machine.

Nothing listens on a socket (the replay tier runs with the network disabled): requests
are answered at the httpx2 transport the openai client uses, either one given to a
`ChatOpenAI` (`FakeRemote.model()`), or, for models ragloom builds from a config with a
`base_url` list, the transport every ragloom server pool ends in (`FakeRemote.install`).
Either way the model's destination reads as the remote host, which is what redaction
decides on, and every request body is kept in `bodies` (with its host in `hosts`).

The reply is a function of the request: by default it repeats every placeholder the
request carried (`[EMAIL_1_x7k2qa]`), so a test sees what restoration does with them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx2
import openai
import pytest
from langchain_openai import ChatOpenAI

REMOTE_V1 = "http://gpu.remote.example/v1"
LOCAL_V1 = "http://127.0.0.1:11434/v1"
PLACEHOLDER = re.compile(r"\[[A-Z_]+_\d+(?:_[a-z0-9]+)?\]")  # ragloom's, or older ones


def echo_placeholders(body: dict[str, Any]) -> str:
    """A reply naming every placeholder of the request (or a plain one without any)."""
    found = list(dict.fromkeys(PLACEHOLDER.findall(json.dumps(body["messages"]))))
    return ("Contact " + ", ".join(found) + " [1].") if found else "Nightly at 02:00 [1]."


class FakeRemote:
    """Answer OpenAI chat-completion requests, keeping each request body and host."""

    def __init__(self, reply: Callable[[dict[str, Any]], str] = echo_placeholders) -> None:
        self.reply = reply
        self.bodies: list[str] = []
        self.hosts: list[str] = []

    def handle(self, request: Any) -> httpx2.Response:
        body = request.read().decode()
        self.bodies.append(body)
        self.hosts.append(request.url.host)
        data = json.loads(body)
        text = self.reply(data)
        if not data.get("stream"):
            return httpx2.Response(200, json={
                "id": "c1", "object": "chat.completion", "created": 0, "model": data["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
        pieces = [text[i:i + 3] for i in range(0, len(text), 3)]
        events = [{"id": "c1", "object": "chat.completion.chunk", "created": 0,
                   "model": data["model"], "choices": [{"index": 0, "finish_reason": None,
                                                        "delta": {"content": piece}}]}
                  for piece in pieces]
        events.append({"id": "c1", "object": "chat.completion.chunk", "created": 0,
                       "model": data["model"],
                       "choices": [{"index": 0, "finish_reason": "stop", "delta": {}}]})
        stream = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx2.Response(200, content=stream.encode(),
                               headers={"content-type": "text/event-stream"})

    async def ahandle(self, request: Any) -> httpx2.Response:
        await request.aread()
        return self.handle(request)

    def model(self, base_url: str = REMOTE_V1) -> ChatOpenAI:
        """A stock `ChatOpenAI` talking to this fake at `base_url`."""
        return ChatOpenAI(
            model="remote-model", api_key="sk-not-a-real-key-000000", base_url=base_url,
            http_client=openai.DefaultHttpxClient(transport=httpx2.MockTransport(self.handle)),
            http_async_client=openai.DefaultAsyncHttpxClient(
                transport=httpx2.MockTransport(self.ahandle)))

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Answer every request any httpx2 transport would send (ragloom's server pools)."""
        monkeypatch.setattr(httpx2.HTTPTransport, "handle_request",
                            lambda _self, request: self.handle(request))

        async def handle_async(_self: Any, request: Any) -> httpx2.Response:
            return await self.ahandle(request)

        monkeypatch.setattr(httpx2.AsyncHTTPTransport, "handle_async_request", handle_async)

    def leaked(self, secrets: list[str]) -> list[str]:
        """The secrets found in any request body, as sent (JSON) or decoded."""
        seen = [body + json.dumps(json.loads(body), ensure_ascii=False) for body in self.bodies]
        return [secret for secret in secrets if any(secret in body for body in seen)]
