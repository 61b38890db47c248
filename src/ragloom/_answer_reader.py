"""Reading the model's answer and deciding its mode (`answered`, `abstained`, `disputed`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ragloom._citations import AnswerFilter
from ragloom._conflicts import ungrounded_numbers
from ragloom._modes import Mode, ModeFilter, abstains_in_words, disputes_in_words

_Checker = Callable[[dict[str, Any], str], "dict[str, bool] | None"]


class _Reader:
    """The model's answer through the mode markers, then the citation check."""

    def __init__(self, modes: ModeFilter, cites: AnswerFilter, number_check: bool,
                 checker: _Checker | None = None) -> None:
        self.modes = modes
        self.cites = cites
        self.number_check = number_check
        self.checker = checker
        self.prefix = ""
        self.decision_s = 0.0

    def start(self) -> str:
        """What the chain says before the model: the sides of a dispute it found."""
        return self.cites.feed(self.prefix) if self.prefix else ""

    def _timed_modes(self, token: str | None) -> str:
        started = time.perf_counter()
        piece = self.modes.flush() if token is None else self.modes.feed(token)
        self.decision_s += time.perf_counter() - started
        return piece

    def feed(self, token: str) -> str:
        piece = self._timed_modes(token)
        return self.cites.feed(piece) if piece else ""

    def flush(self) -> str:
        piece = self._timed_modes(None)
        return (self.cites.feed(piece) if piece else "") + self.cites.flush()

    def decide(self, state: dict[str, Any]) -> tuple[Mode, str]:
        started = time.perf_counter()
        checks = state["checks"]
        if not state["sources"]:
            decision: tuple[Mode, str] = ("abstained", "relevance_bar")
        elif checks.get("answer"):
            decision = ("abstained", "answer_check")
        elif checks.get("refused"):
            decision = ("abstained", "routing")
        elif checks.get("conflicts"):
            decision = ("disputed", "conflict_check")
        elif self.modes.marker is not None:
            decision = (self.modes.marker, "marker")
        elif disputes_in_words(self.modes.raw):
            decision = ("disputed", "words")
        elif abstains_in_words(self.modes.raw, len(self.cites.cited)):
            decision = ("abstained", "words")
        elif self.number_check and (invented := ungrounded_numbers(
                self.modes.raw, state["sources"])):
            checks["ungrounded_numbers"] = invented
            decision = ("abstained", "number_check")
        elif self.checker is not None and (verdict := self._self_check(state)) is not None:
            decision = verdict
        else:
            decision = ("answered", "model")
        self.decision_s += time.perf_counter() - started
        checks["mode_by"] = decision[1]
        checks["decision_s"] = round(checks.get("decision_s", 0.0) + self.decision_s, 6)
        return decision

    def _self_check(self, state: dict[str, Any]) -> tuple[Mode, str] | None:
        assert self.checker is not None
        verdict = self.checker(state, self.modes.raw)
        state["checks"]["self_check"] = verdict
        if verdict is None:
            return None
        if not verdict["answer_is_stated"]:
            return ("abstained", "self_check")
        return ("answered", "self_check")
