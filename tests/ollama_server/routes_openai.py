"""Ollama's OpenAI-compatible routes (/v1), following middleware/openai.go and openai/openai.go.

Two error paths exist, as in Ollama. Requests the middleware itself rejects answer with
gin's `AbortWithStatusJSON` (type from the status, `application/json; charset=utf-8`).
Errors raised further in by the native handler pass through `BaseWriter.writeError`,
which keeps the status but always says `"type": "api_error"` and encodes with
`json.Encoder` (`application/json`, trailing newline).
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import wraps
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .core import OllamaCore, show_name
from .models import parse_name
from .wire import JSON_PLAIN, SSE, ApiError, check_types, decode_body, go_float32_array, go_json

__all__ = ["openai_routes"]

Handler = Callable[[Request], Awaitable[Response]]


class MiddlewareError(ApiError):
    """Rejected by the /v1 middleware before reaching Ollama's handler."""


def _error(status: int, message: str, *, middleware: bool) -> Response:
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    if not middleware:
        kind = "api_error"  # writeError always uses NewError(http.StatusInternalServerError)
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    if middleware:
        return Response(go_json(body), status_code=status,
                        media_type="application/json; charset=utf-8")
    return Response(go_json(body, newline=True), status_code=status, media_type=JSON_PLAIN)


def openai_errors(handler: Handler) -> Handler:
    """Map errors to the OpenAI error body the way Ollama's middleware does."""

    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except MiddlewareError as exc:
            return _error(exc.status, exc.message, middleware=True)
        except ApiError as exc:
            return _error(exc.status, exc.message, middleware=False)

    return wrapped


def _v1_body(raw: bytes, struct: str, fields: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    try:
        body = decode_body(raw, struct, empty_message="EOF")  # ShouldBindJSON's io.EOF text
        check_types(body, struct.split(".")[-1], fields)
    except ApiError as exc:
        raise MiddlewareError(400, exc.message) from None
    return body


def _go_type(value: Any) -> str:
    return {type(None): "<nil>", bool: "bool", int: "float64", float: "float64",
            dict: "map[string]interface {}"}.get(type(value), "string")


def _messages(raw: list[Any]) -> list[dict[str, Any]]:
    """FromChatRequest's message conversion (text parts become separate messages)."""
    out: list[dict[str, Any]] = []
    for msg in raw:
        if not isinstance(msg, dict):
            raise MiddlewareError(400, "invalid message format")
        role, content = msg.get("role") or "", msg.get("content")
        if isinstance(content, str):
            out.append({"role": role, "content": content})
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    raise MiddlewareError(400, "invalid message format")
                if part.get("type") == "text" and isinstance(part.get("text"), str):
                    out.append({"role": role, "content": part["text"]})
                elif part.get("type") == "image_url":
                    out.append({"role": role, "content": ""})  # no vision in these models
                else:
                    raise MiddlewareError(400, "invalid message format")
        elif msg.get("tool_calls"):
            out.append({"role": role, "content": ""})
        else:
            raise MiddlewareError(400, f"invalid message content type: {_go_type(content)}")
    return out


def _chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """openai.FromChatRequest: an /api/chat body, with OpenAI's sampling defaults."""
    if not body.get("messages"):
        raise MiddlewareError(400, "[] is too short - 'messages'")
    options: dict[str, Any] = {"temperature": 1.0, "top_p": 1.0}
    stop = body.get("stop")
    if isinstance(stop, str):
        options["stop"] = [stop]
    elif isinstance(stop, list):
        options["stop"] = [s for s in stop if isinstance(s, str)]
    for src, dst in (("max_tokens", "num_predict"), ("seed", "seed"),
                     ("temperature", "temperature"), ("top_p", "top_p"),
                     ("frequency_penalty", "frequency_penalty"),
                     ("presence_penalty", "presence_penalty")):
        if body.get(src) is not None:
            options[dst] = body[src]
    fmt: Any = None
    response_format = body.get("response_format") or {}
    kind = str(response_format.get("type", "")).strip().lower()
    if kind == "json_object":
        fmt = "json"
    elif kind == "json_schema":
        fmt = (response_format.get("json_schema") or {}).get("schema")
    effort = (body.get("reasoning") or {}).get("effort") or body.get("reasoning_effort")
    think: Any = None
    if effort:
        if effort not in ("high", "medium", "low", "none"):
            raise MiddlewareError(400, f"invalid reasoning value: '{effort}' (must be \"high\", "
                                       '"medium", "low", or "none")')
        think = False if effort == "none" else effort
    return {"model": body.get("model") or "", "messages": _messages(body["messages"]),
            "options": options, "stream": bool(body.get("stream")), "format": fmt,
            "tools": body.get("tools") or [], "think": think}


def _chunk(cid: str, model: str, content: str, finish: str | None) -> dict[str, Any]:
    return {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": content},
                         "finish_reason": finish}]}


def _usage(final: dict[str, Any]) -> dict[str, int]:
    prompt, completion = final.get("prompt_eval_count", 0), final.get("eval_count", 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def openai_routes(core: OllamaCore) -> list[Any]:
    """The /v1 routes, bound to one core."""
    from starlette.routing import Route

    @openai_errors
    async def chat_completions(request: Request) -> Response:
        started = time.perf_counter_ns()
        body = _v1_body(await request.body(), "openai.ChatCompletionRequest", {
            "model": (str, "string"), "messages": (list, "[]openai.Message"),
            "stream": (bool, "bool"), "stream_options": (dict, "openai.StreamOptions"),
            "max_tokens": (int, "int"), "seed": (int, "int"),
            "temperature": ((int, float), "float64"), "top_p": ((int, float), "float64"),
            "response_format": (dict, "openai.ResponseFormat"), "tools": (list, "[]api.Tool"),
        })
        native = _chat_request(body)
        cid = f"chatcmpl-{random.randrange(999)}"
        run = await core.chat(native, started)
        model = native["model"]
        if not native["stream"]:
            parts: list[str] = []
            final: dict[str, Any] = {}
            async for event in run.events():
                if "error" in event:
                    raise ApiError(event["status"], event["error"])
                parts.append(event["message"]["content"])
                final = event
            completion = {
                "id": cid, "object": "chat.completion", "created": int(time.time()),
                "model": model, "system_fingerprint": "fp_ollama",
                "choices": [{"index": 0,
                             "message": {"role": "assistant", "content": "".join(parts)},
                             "finish_reason": final.get("done_reason") or None}],
                "usage": _usage(final),
            }
            return Response(go_json(completion, newline=True), media_type=JSON_PLAIN)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def stream() -> AsyncIterator[bytes]:
            try:
                async for event in run.events():
                    if "error" in event:
                        err = {"error": {"message": event["error"], "type": "api_error",
                                         "param": None, "code": None}}
                        yield b"data: " + go_json(err) + b"\n\n"
                        return
                    done = event["done"]
                    chunk = _chunk(cid, model, event["message"]["content"],
                                   event.get("done_reason") if done else None)
                    yield b"data: " + go_json(chunk) + b"\n\n"
                    if done:
                        if include_usage:
                            chunk["choices"] = []
                            chunk["usage"] = _usage(event)
                            yield b"data: " + go_json(chunk) + b"\n\n"
                        yield b"data: [DONE]\n\n"
            finally:
                run.cancel()

        # Exactly "text/event-stream": Starlette would append a charset to a text/* media type.
        return StreamingResponse(stream(), headers={"content-type": SSE})

    @openai_errors
    async def embeddings(request: Request) -> Response:
        started = time.perf_counter_ns()
        body = _v1_body(await request.body(), "openai.EmbedRequest", {
            "model": (str, "string"), "dimensions": (int, "int"),
            "encoding_format": (str, "string"),
        })
        fmt = body.get("encoding_format") or ""
        if fmt and fmt.lower() not in ("float", "base64"):
            raise MiddlewareError(400, f"Invalid value for 'encoding_format' = {fmt}. "
                                       "Supported values: ['float', 'base64'].")
        raw = body.get("input")
        if raw == "":
            raw = [""]
        if raw is None or raw == []:
            raise MiddlewareError(400, "invalid input")
        result = await core.embed({"model": body.get("model") or "", "input": raw,
                                   "dimensions": body.get("dimensions")}, started)
        vectors = result.vectors if result is not None else np.zeros((0, 0), np.float32)
        data = [{"object": "embedding",
                 "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode()
                 if fmt.lower() == "base64" else go_float32_array(v),
                 "index": i} for i, v in enumerate(vectors)]
        tokens = result.prompt_eval_count if result is not None else 0
        out = {"object": "list", "data": data, "model": body.get("model") or "",
               "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        return Response(go_json(out, newline=True), media_type=JSON_PLAIN)

    async def models(request: Request) -> Response:
        infos = sorted(core.registry.models.values(), key=lambda m: m.modified_ns, reverse=True)
        data = [{"id": m.name, "object": "model", "created": m.modified_ns // 1_000_000_000,
                 "owned_by": "library"} for m in infos]
        return Response(go_json({"object": "list", "data": data}, newline=True),
                        media_type=JSON_PLAIN)

    @openai_errors
    async def model(request: Request) -> Response:
        name = request.path_params["model"]
        if parse_name(name) is None:
            raise ApiError(400, "invalid model name")
        info = core.registry.resolve(name)
        if info is None:
            raise ApiError(404, f"model '{show_name(name)}' not found")
        parsed = parse_name(name)
        owner = parsed[1] if parsed else "library"
        out = {"id": name, "object": "model", "created": info.modified_ns // 1_000_000_000,
               "owned_by": owner}
        return Response(go_json(out, newline=True), media_type=JSON_PLAIN)

    return [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{model}", model, methods=["GET"]),
    ]
