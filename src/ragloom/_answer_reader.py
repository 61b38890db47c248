"""Reading the model's answer and deciding its mode (`answered`, `abstained`, `disputed`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ragloom._citations import AnswerFilter
from ragloom._conflicts import ungrounded_numbers
from ragloom._modes import Mode, ModeFilter, abstains_in_words, disputes_in_words

_Verdict = dict[str, bool] | None


@dataclass(frozen=True)
class _Checker:
    """The self-check as two calls: `check` (invoke, stream) and `acheck` (the async API)."""

    check: Callable[[dict[str, Any], str], _Verdict]
    acheck: Callable[[dict[str, Any], str], Awaitable[_Verdict]]


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

    def _ruled(self, state: dict[str, Any]) -> tuple[Mode, str] | None:
        """The decision every rule before the self-check makes, or None (no I/O)."""
        checks = state["checks"]
        if not state["sources"]:
            return ("abstained", "relevance_bar")
        if checks.get("answer"):
            return ("abstained", "answer_check")
        if checks.get("refused"):
            return ("abstained", "routing")
        if checks.get("conflicts"):
            return ("disputed", "conflict_check")
        if self.modes.marker is not None:
            return (self.modes.marker, "marker")
        if disputes_in_words(self.modes.raw):
            return ("disputed", "words")
        if abstains_in_words(self.modes.raw, len(self.cites.cited)):
            return ("abstained", "words")
        if self.number_check and (invented := ungrounded_numbers(
                self.modes.raw, state["sources"])):
            checks["ungrounded_numbers"] = invented
            return ("abstained", "number_check")
        return None

    def wants_check(self, state: dict[str, Any]) -> bool:
        """Whether the self-check would decide: it is on and no earlier rule has."""
        started = time.perf_counter()
        ruled = self._ruled(state)
        self.decision_s += time.perf_counter() - started
        return self.checker is not None and ruled is None

    def check(self, state: dict[str, Any]) -> _Verdict:
        """The self-check's verdict, asked through the sync API (None when not wanted)."""
        if self.checker is None or not self.wants_check(state):
            return None
        started = time.perf_counter()
        verdict = self.checker.check(state, self.modes.raw)
        self.decision_s += time.perf_counter() - started
        return verdict

    async def acheck(self, state: dict[str, Any]) -> _Verdict:
        """`check` through the model's async API."""
        if self.checker is None or not self.wants_check(state):
            return None
        started = time.perf_counter()
        verdict = await self.checker.acheck(state, self.modes.raw)
        self.decision_s += time.perf_counter() - started
        return verdict

    def decide(self, state: dict[str, Any], verdict: _Verdict = None) -> tuple[Mode, str]:
        """The answer's mode and the rule that chose it; `verdict` from `check`/`acheck`."""
        started = time.perf_counter()
        ruled = self._ruled(state)
        decision: tuple[Mode, str] = ruled or ("answered", "model")
        if ruled is None and self.checker is not None:
            state["checks"]["self_check"] = verdict
            if verdict is not None:
                decision = (("answered" if verdict["answer_is_stated"] else "abstained"),
                            "self_check")
        self.decision_s += time.perf_counter() - started
        checks = state["checks"]
        checks["mode_by"] = decision[1]
        checks["decision_s"] = round(checks.get("decision_s", 0.0) + self.decision_s, 6)
        return decision
