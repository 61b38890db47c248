"""Helpers shared by the failure tests (fault injection while recording, statuses)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

CASSETTES = Path(__file__).parent / "cassettes"
SECRET = "sk-test-secret-not-recorded"


def faults(server: Any) -> Any:
    """The fault rules while recording, else a stand-in that ignores them (replay)."""
    class _Ignored:
        def add(self, *args: Any, **kwargs: Any) -> None:
            return None

    return server.faults if server is not None else _Ignored()


def statuses(cassette: Any, path: str) -> list[int]:
    return [resp["status"]["code"] for req, resp in zip(cassette.requests, cassette.responses,
                                                        strict=True)
            if req.path == path]



class Capture(BaseCallbackHandler):
    """Records the messages sent to the chat model."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.seen.extend(messages)
