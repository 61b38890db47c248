"""The answer sections: `prompt`, `answer` (grounding) and `guards`.

Example:
    >>> from ragloom.config import AnswerSettings
    >>> AnswerSettings(min_relevance=0.4).min_relevance
    0.4

"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from ragloom._section import _Section


class PromptSettings(_Section):
    """The prompts sent to the chat model."""

    template: str | None = None
    """Answer prompt template text or a path to a file; null means the built-in one."""
    condense_template: str | None = None
    """Prompt that turns a follow-up plus chat history into a standalone question."""


class AnswerSettings(_Section):
    """What counts as grounded, and what the chain says when nothing does."""

    min_relevance: Annotated[float, Field(ge=-1.0, le=1.0)] | Literal["auto"] | None = "auto"
    """Lowest cosine similarity of a chunk's dense vector to the question's for the chunk
    to count, the same in every retrieval mode (not the mode's own score). When none
    counts the chain abstains without calling the chat model. `auto`: the bar measured for
    the embedding model and its prefixes (nomic-embed-text 0.5, or 0.4 without prefixes;
    all-minilm 0.15), 0.2 for a model ragloom has not measured; `ragloom eval --answers`
    suggests one for your data. Null: off."""
    abstain_text: str = "The documents do not contain the answer to this question."
    """The answer given, without calling the chat model, when no chunk counts."""
    sources_footer: bool = False
    """Append `[Sources: a.md, b.md]` listing the cited files to the answer."""
    max_context_tokens: int | None = Field(1500, ge=1)
    """Bound on the sources' tokens in the prompt (estimated, 4 characters a token), so
    prefill time on a CPU stays predictable; chunks that do not fit are dropped lowest-
    ranked first (the best one is always kept) and counted in `checks`. null: no bound."""
    disputed_text: str = "The sources disagree."
    """Put before the answer when the sources it rests on disagree (`mode: disputed`)."""
    conflict_check: bool = True
    """Call the answer `disputed` when two sources give different values for what the
    question asks: quantities with the same unit, years, versions, a setting's value, yes
    or no (a check on the retrieved text before the model is called, no model call); the
    answer then starts by naming each side with its citation."""
    number_check: bool = True
    """Call the answer `abstained` when it states a number no source gives (a price or a
    date the model made up); `invoke` then returns `abstain_text` instead."""
    self_check: bool = False
    """Ask the chat model, in a second short call with the sources, whether they state the
    answer (JSON held to a schema by Ollama's `format`); when they do not, the answer is
    `abstained` (`checks["mode_by"]: self_check`) and `invoke` returns `abstain_text`.
    Costs a second prefill of the sources (its time is in `checks["decision_s"]`)."""
    attribute_citations: bool = True
    """Cite the source of answer sentences the model left uncited: the one source holding
    most of the sentence's own words and numbers (no model call). Such citations carry
    `metadata["attributed"]` and are listed in `checks["attributed"]`; the answer text is
    not changed."""


class GuardSettings(_Section):
    """Checks around the chat model (see docs/chains.md)."""

    redact: Literal["auto", "on", "off"] = "auto"
    """Mask e-mails, phones, IBANs, card numbers, keys, tokens and passwords in every chat
    model request; `auto`: decided per request, on when any server of the model called is
    not loopback (or unknown), off for a local Ollama. Only the user's own values come back
    in the answer, and never inside URLs, links, HTML or code (docs/security.md)."""
    screen: Literal["off", "fence", "drop"] = "fence"
    """Retrieved chunks that carry instructions: `fence` keeps them marked as untrusted,
    `drop` removes them; either way they are reported in the output's `checks`."""
    screen_level: Literal["standard", "strict"] = "standard"
    """How eagerly `screen` flags: `strict` catches more planted instructions and flags
    more ordinary text about prompts (measured rates: docs/security.md, "Screening")."""
    phone_region: str | None = None
    """Redaction: ISO 3166 two-letter region (`US`, `DE`, ...; any case) for phone numbers
    written without `+country`."""

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from ragloom._detectors import valid_region

        return valid_region(value)
    check_output: bool = True
    """Report an empty answer, or one that only repeats the prompt, instead of returning it."""
