"""Hide credentials that ride inside URLs and text before anything is shown.

A URL may carry a password (`http://user:pw@host`) or a token as its user part
(`https://TOKEN@host`), and a query string may carry a key (`?api_key=...`). These
helpers are applied wherever a URL reaches a person: config output, doctor checks,
log lines and every `RagloomError` message. The URL used for the real request is
never altered.

Example:
    >>> mask_url("http://alice:s3cret@proxy:11434")
    'http://alice:****@proxy:11434'
    >>> redact("cannot reach https://tok@host/v1?api_key=k1&limit=5")
    'cannot reach https://****@host/v1?api_key=****&limit=5'

"""

from __future__ import annotations

import re

__all__ = ["MASK", "mask_url", "redact"]

MASK = "****"

# scheme://userinfo@ ; userinfo is "user:password" or a lone user/token.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<userinfo>[^/\s@?#]+)@")
_QUERY_SECRET = re.compile(
    r"(?P<name>[?&](?:api[_-]?key|key|token|access[_-]?token|password|secret)=)[^&\s#'\"]+",
    re.IGNORECASE,
)


def _mask_userinfo(match: re.Match[str]) -> str:
    user, sep, _password = match.group("userinfo").partition(":")
    shown = f"{user}:{MASK}" if sep else MASK
    return f"{match.group('scheme')}{shown}@"


def redact(text: str) -> str:
    """`text` with every URL password, URL token and query-string key replaced by `****`.

    Example:
        >>> redact("no url here")
        'no url here'

    """
    return _QUERY_SECRET.sub(rf"\g<name>{MASK}", _USERINFO.sub(_mask_userinfo, text))


def mask_url(url: str | None) -> str | None:
    """`url` safe to show: the password (or lone token) in its user part masked.

    Example:
        >>> mask_url(None) is None, mask_url("http://127.0.0.1:11434")
        (True, 'http://127.0.0.1:11434')

    """
    return None if url is None else redact(url)
