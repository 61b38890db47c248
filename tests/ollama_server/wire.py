"""Byte-level details of Ollama's HTTP answers: Go's JSON encoding, times, durations, errors.

Ollama is a Go (gin) server. Its bodies come from `encoding/json`: compact, HTML characters
escaped (`<` → `\\u003c`), float32 vectors in their shortest float32 form, times in
RFC 3339 with nanoseconds. Reproducing those keeps recorded cassettes byte-compatible with
ones recorded against a real Ollama.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

import numpy as np
from starlette.responses import Response

# The Ollama release whose source (docs/api.md, api/types.go, server/routes.go,
# openai/openai.go, middleware/openai.go) this server follows.
OLLAMA_VERSION = "0.33.0"

JSON_UTF8 = "application/json; charset=utf-8"  # gin's c.JSON
JSON_PLAIN = "application/json"  # json.NewEncoder paths (OpenAI middleware, waitForStream)
NDJSON = "application/x-ndjson"
SSE = "text/event-stream"

_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                 "\u2029": "\\u2029"}
_HTML_RE = re.compile("[<>&\u2028\u2029]")


class Raw:
    """Pre-encoded JSON text spliced into a document by `go_json` (used for vectors)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def go_json(obj: Any, newline: bool = False) -> bytes:
    """Encode like Go's json.Marshal (or json.Encoder.Encode when `newline`)."""
    raws: list[str] = []

    def default(o: Any) -> Any:
        if isinstance(o, Raw):
            raws.append(o.text)
            return f"\x00RAW{len(raws) - 1}\x00"
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")

    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                      default=default)
    text = _HTML_RE.sub(lambda m: _HTML_ESCAPES[m.group(0)], text)
    for i, raw in enumerate(raws):
        text = text.replace(f'"\\u0000RAW{i}\\u0000"', raw, 1)
    return (text + "\n" if newline else text).encode()


def go_float(value: float, bits: int = 32) -> str:
    """strconv.AppendFloat as encoding/json calls it: shortest digits, 'e' only when tiny/huge."""
    num = np.float32(value) if bits == 32 else np.float64(value)
    a = abs(float(num))
    if a != 0 and (a < 1e-6 or a >= 1e21):
        text = np.format_float_scientific(num, unique=True, trim="-")
        mant, _, exp = text.partition("e")
        if exp.startswith("-0") and len(exp) == 3:  # Go cleans e-07 up to e-7
            exp = "-" + exp[2]
        return f"{mant}e{exp}"
    return np.format_float_positional(num, unique=True, trim="-")


def go_float32_array(vec: np.ndarray) -> Raw:
    """A float32 vector as Go encodes []float32 (shortest round-trip text per element)."""
    arr = np.asarray(vec, dtype=np.float32)
    out = arr.astype(str).tolist()  # numpy's repr: already the shortest float32 digits
    for i, s in enumerate(out):
        if "e" in s or s.endswith(".0"):  # exponent or integral forms differ from Go's
            out[i] = go_float(float(arr[i]), 32)
    return Raw("[" + ",".join(out) + "]")


def go_float64_array(vec: np.ndarray) -> Raw:
    """float32 values widened to float64, as the legacy /api/embeddings encodes them."""
    out = []
    for v in np.asarray(vec, dtype=np.float32).astype(np.float64).tolist():
        s = repr(v)
        out.append(go_float(v, 64) if ("e" in s or s.endswith(".0")) else s)
    return Raw("[" + ",".join(out) + "]")


def go_time(ts_ns: int | None = None, utc: bool = True) -> str:
    """RFC 3339 with up to nine fractional digits, trailing zeros trimmed (Go's RFC3339Nano)."""
    ts_ns = time.time_ns() if ts_ns is None else ts_ns
    secs, nanos = divmod(ts_ns, 1_000_000_000)
    moment = dt.datetime.fromtimestamp(secs, dt.timezone.utc)
    if not utc:
        moment = moment.astimezone()
    frac = f".{nanos:09d}".rstrip("0").rstrip(".")
    if moment.utcoffset() == dt.timedelta(0) and utc:
        zone = "Z"
    else:
        zone = moment.strftime("%z")
        zone = "Z" if zone == "+0000" else f"{zone[:3]}:{zone[3:]}"
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + frac + zone


def json_response(obj: Any, status: int = 200, content_type: str = JSON_UTF8,
                  newline: bool = False) -> Response:
    """A complete JSON answer (gin's c.JSON by default)."""
    return Response(go_json(obj, newline=newline), status_code=status, media_type=content_type)


def error_response(message: str, status: int, content_type: str = JSON_UTF8) -> Response:
    """Ollama's native error body: {"error": "..."}."""
    return json_response({"error": message}, status=status, content_type=content_type)


def openai_error_body(message: str, status: int) -> dict[str, Any]:
    """openai.NewError: type from the status, param and code always null."""
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class ApiError(Exception):
    """A handler's early exit with Ollama's error status and text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- request bodies, decoded the way gin's ShouldBindJSON fails -------------------------

def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def decode_body(raw: bytes, struct: str, empty_message: str = "missing request body"
                ) -> dict[str, Any]:
    """Parse a JSON object body or raise ApiError(400) with Go's wording."""
    if not raw.strip():
        raise ApiError(400, empty_message)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        text = exc.doc
        if exc.pos >= len(text.rstrip()):
            raise ApiError(400, "unexpected EOF") from None
        char = text[exc.pos]
        where = "looking for beginning of value" if exc.msg.startswith("Expecting value") \
            else "after object key" if "':'" in exc.msg or "delimiter" in exc.msg \
            else "looking for beginning of object key string"
        raise ApiError(400, f"invalid character {char!r} {where}") from None
    if not isinstance(value, dict):
        raise ApiError(400, f"json: cannot unmarshal {_json_kind(value)} into Go value of type "
                            f"{struct}")
    return value


def check_types(body: dict[str, Any], struct: str, fields: dict[str, tuple[type, str]]) -> None:
    """Reject fields of the wrong JSON type like encoding/json does (null always passes)."""
    for name, (pytype, gotype) in fields.items():
        value = body.get(name)
        if value is None:
            continue
        ok = isinstance(value, pytype) and not (pytype in (int, float, (int, float))
                                                 and isinstance(value, bool))
        if not ok:
            raise ApiError(400, f"json: cannot unmarshal {_json_kind(value)} into Go struct "
                                f"field {struct}.{name} of type {gotype}")


_DURATION_RE = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_keep_alive(value: Any) -> float | None:
    """api.Duration: a number of seconds or a Go duration string; negative means forever.

    Returns seconds (float('inf') for negative) or None when absent.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ApiError(400, "json: cannot unmarshal bool into Go struct field .keep_alive of "
                            "type api.Duration")
    if isinstance(value, (int, float)):
        seconds = float(int(value)) if value >= 0 else -1.0  # Go: int(t) * time.Second
    elif isinstance(value, str):
        text = value.strip()
        sign = -1.0 if text.startswith("-") else 1.0
        body = text.lstrip("+-")
        if body == "0":
            return 0.0
        parts = _DURATION_RE.findall(body)
        if re.fullmatch(r"[0-9]*\.?[0-9]+", body):
            raise ApiError(400, f'time: missing unit in duration "{value}"')
        if not parts or "".join(n + u for n, u in parts) != body:
            raise ApiError(400, f'time: invalid duration "{value}"')
        seconds = sign * sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise ApiError(400, f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
                            ".keep_alive of type api.Duration")
    return float("inf") if seconds < 0 else seconds
