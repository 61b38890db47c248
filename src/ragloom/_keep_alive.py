"""Ollama's `keep_alive`: checked as Ollama reads it, and converted to seconds.

Example:
    >>> from ragloom.config import keep_alive_seconds
    >>> keep_alive_seconds("1h30m")
    5400

"""

from __future__ import annotations

import re

# Ollama reads keep_alive as a number of seconds or a Go duration ("5m", "1h30m", "-1m");
# any negative value keeps the model loaded for ever.
_GO_DURATION = re.compile(r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")
_NUMBER = re.compile(r"^[-+]?\d+(\.\d*)?$")
_GO_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                    "h": 3600.0}
_KEEP_ALIVE_FORMS = ("a duration such as '30m', '1h30m' or '90s', a number of seconds"
                     " such as 300, 0 to unload at once, or -1 to keep the model loaded")


def parse_keep_alive(value: str | int | float | None) -> str | int | None:
    """Check an Ollama `keep_alive`; a number written as text ("-1") becomes a number.

    Raises:
        ValueError: Not a form Ollama accepts (the message lists them).

    Example:
        >>> parse_keep_alive("1h30m"), parse_keep_alive("-1"), parse_keep_alive(300)
        ('1h30m', -1, 300)

    """
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _bounded_seconds(value)
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER.match(text):
            return _bounded_seconds(float(text))
        if _GO_DURATION.match(text):
            return text
    raise ValueError(
        f"keep_alive {value!r} is not a duration Ollama accepts: use {_KEEP_ALIVE_FORMS}")


_MAX_KEEP_ALIVE_S = 9_223_372_036
"""Go's longest duration (2**63 ns, about 292 years): Ollama reads nothing longer."""


def _bounded_seconds(value: float) -> int:
    if value != value or abs(value) > _MAX_KEEP_ALIVE_S:  # NaN, infinite, or too long
        raise ValueError(
            f"keep_alive {str(value)[:24]} is out of range: at most {_MAX_KEEP_ALIVE_S:,} seconds"
            " (Ollama's longest duration); use -1 to keep the model loaded for ever")
    return int(value)


def keep_alive_seconds(value: str | int | None) -> int | None:
    """`keep_alive` in whole seconds (negative: for ever), for clients that want a number.

    Example:
        >>> keep_alive_seconds("1h30m"), keep_alive_seconds("-1m"), keep_alive_seconds(None)
        (5400, -1, None)

    """
    value = parse_keep_alive(value)
    if not isinstance(value, str):
        return value
    sign = -1 if value.startswith("-") else 1
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", value)
    seconds = sum(float(number) * _GO_UNIT_SECONDS[unit] for number, unit in parts)
    return -1 if sign < 0 and seconds > 0 else int(seconds)
