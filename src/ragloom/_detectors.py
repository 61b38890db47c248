"""Find personal data and secrets in text: the spans redaction replaces.

`find_secrets(text, region)` returns non-overlapping `(start, end, kind)` spans. The
kinds, in the order they win an overlap: `API_KEY` (keys of common services, Slack
webhooks, JWTs), `TOKEN` (bearer and basic credentials), `SECRET` (the value of a
`password=`/`*_SECRET*:`/`*_TOKEN=` assignment, a URL password), `EMAIL` (Unicode
addresses too), `IBAN` (checksum valid; spaces, dashes, lower case), `CARD` (Luhn valid;
spaces, NBSP, dots, dashes, full-width digits), `PHONE` (libphonenumber: `+` numbers
always, national ones for `region`).

Example:
    >>> [(kind, "DB_PASSWORD=hunter2"[s:e]) for s, e, kind in find_secrets("DB_PASSWORD=hunter2")]
    [('SECRET', 'hunter2')]

"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator

__all__ = ["KINDS", "find_secrets", "valid_region"]

KINDS = ("API_KEY", "TOKEN", "SECRET", "EMAIL", "IBAN", "CARD", "PHONE")

_API_KEY = re.compile(
    r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[0-9A-Z]{16}"
    r"|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20}|hf_[A-Za-z0-9]{30,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"
    r"|https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"
    r"|https://discord(?:app)?\.com/api/webhooks/[A-Za-z0-9/_-]+"
)
# A credential after `Bearer`/`Basic`: it holds a digit or a symbol, which words do not.
_TOKEN = re.compile(r"(?i)\b(?:bearer|basic)\s+((?=[A-Za-z._~+/=-]*[\d._~+/=-])"
                    r"[A-Za-z0-9._~+/=-]{8,})")
# The name of an assignment holding a secret: `password`, `DB_PASSWORD`, `client_secret`,
# `AWS_SECRET_ACCESS_KEY`, `api-key`, `GITHUB_TOKEN`, `passwd`, `pwd`, `private_key` ...
_SECRET_NAME = (r"[A-Za-z0-9_.-]*(?:passw(?:or)?d|passphrase|\bpwd|secret|token|api[_-]?key"
                r"|access[_-]?key|private[_-]?key|credentials?)[A-Za-z0-9_.-]*")
_ASSIGNMENT = re.compile(
    rf"(?i)(?<![\w-])[\"']?{_SECRET_NAME}[\"']?\s*(?::|=|=>|:=)\s*[\"']?([^\s\"',;]{{4,}})")
_URL_PASSWORD = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]+:([^/\s@]+)@")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}\b")
_SEP = "[ \u00a0\u202f\u2009.-]"
_IBAN = re.compile(rf"(?<![\w])[A-Za-z]{{2}}\d{{2}}(?:{_SEP}?[A-Za-z0-9]){{11,32}}")
_CARD = re.compile(rf"(?<![\d.-])\d(?:{_SEP}?\d){{12,18}}(?!\d)")
_PLACEHOLDER_LIKE = re.compile(r"^\[[A-Z_]+_\d+_[a-z0-9]+\]")


def _digits(text: str) -> str:
    return "".join(str(unicodedata.digit(ch)) for ch in text if unicodedata.digit(ch, None)
                   is not None)


def _iban_end(text: str, start: int, end: int) -> int | None:
    """The end of the longest valid IBAN in `text[start:end]` (a match may run into `BIC`)."""
    from stdnum import iban

    for stop in range(end, start + 14, -1):
        if not text[stop - 1].isalnum():
            continue
        candidate = re.sub(r"[^A-Za-z0-9]", "", text[start:stop]).upper()
        if iban.is_valid(candidate):
            return stop
    return None


def _is_card(text: str) -> bool:
    from stdnum import luhn

    digits = _digits(text)
    return 13 <= len(digits) <= 19 and bool(luhn.is_valid(digits))


def _phone_spans(text: str, region: str | None) -> Iterator[tuple[int, int]]:
    # libphonenumber knows every country's numbering plan; a regex would either miss
    # formats or match dates, versions and ports.
    import phonenumbers

    for match in phonenumbers.PhoneNumberMatcher(text, region or "ZZ"):
        yield match.start, match.end


def valid_region(region: str) -> str:
    """`region` as libphonenumber's upper-case ISO 3166 alpha-2 code; ValueError if unknown.

    Example:
        >>> valid_region("de")
        'DE'

    """
    import phonenumbers

    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{region!r} is not a two-letter ISO 3166 region code such as US, DE"
                         " or GB")
    return code


def find_secrets(text: str, region: str | None = None) -> list[tuple[int, int, str]]:
    """Non-overlapping `(start, end, kind)` spans of what looks secret in `text`, in order.

    Example:
        >>> text = "Mail jörg@exämple.de, IBAN de89-3704-0044-0532-0130-00 BIC COBADEFFXXX"
        >>> [(kind, text[s:e]) for s, e, kind in find_secrets(text)]
        [('EMAIL', 'jörg@exämple.de'), ('IBAN', 'de89-3704-0044-0532-0130-00')]

    """
    spans: list[tuple[int, int, str]] = []

    def add(start: int, end: int, kind: str) -> None:
        if start < end and not any(s < end and start < e for s, e, _ in spans):
            spans.append((start, end, kind))

    def scan(pattern: re.Pattern[str], kind: str, group: int = 0,
             valid: Callable[[str], bool] | None = None) -> None:
        for match in pattern.finditer(text):
            value = match.group(group)
            if _PLACEHOLDER_LIKE.match(text, match.start(group)):
                continue
            if valid is None or valid(value):
                add(match.start(group), match.end(group), kind)

    scan(_API_KEY, "API_KEY")
    scan(_TOKEN, "TOKEN", 1)
    scan(_URL_PASSWORD, "SECRET", 1)
    scan(_ASSIGNMENT, "SECRET", 1)
    scan(_EMAIL, "EMAIL")
    position = 0  # a candidate may run into the next IBAN: go on from where one ends
    while (match := _IBAN.search(text, position)) is not None:
        end = _iban_end(text, match.start(), match.end())
        if end is not None:
            add(match.start(), end, "IBAN")
        position = end if end is not None else match.start() + 1
    scan(_CARD, "CARD", valid=_is_card)
    for start, end in _phone_spans(text, region):
        add(start, end, "PHONE")
    return sorted(spans)
