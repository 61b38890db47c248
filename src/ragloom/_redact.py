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

import logging
import re

__all__ = ["MASK", "REDACTED_LOGGERS", "RedactingFilter", "mask_url", "redact"]

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


class RedactingFilter(logging.Filter):
    """Masks URL credentials in a log record's final message.

    httpx logs every request URL at INFO (`HTTP Request: GET http://user:pw@host/...`);
    a filter on its logger rewrites the record before any handler sees it.

    Example:
        >>> record = logging.LogRecord("httpx", logging.INFO, "", 0, "GET %s", ("http://u:p@h",),
        ...                            None)
        >>> RedactingFilter().filter(record), record.getMessage()
        (True, 'GET http://u:****@h')

    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


# The loggers that may print a URL ragloom was configured with. A filter on a logger
# applies to the records logged there (not to its children), hence each one by name.
REDACTED_LOGGERS = ("httpx", "httpcore", "openai", "openai._base_client", "ragloom",
                    "ragloom.ollama", "ragloom.retry")


def _install() -> None:
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())


_install()
