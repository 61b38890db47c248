"""Ollama's own API: /api/chat, /api/embed, /api/embeddings, /api/tags, /api/show, /api/pull, ..."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from .core import OllamaCore, go_quote, show_name
from .models import ModelInfo, parse_name
from .wire import (
    JSON_PLAIN,
    NDJSON,
    ApiError,
    check_types,
    decode_body,
    error_response,
    go_float32_array,
    go_float64_array,
    go_json,
    go_time,
    json_response,
)

__all__ = ["native_routes"]

Handler = Callable[[Request], Awaitable[Response]]


def ollama_errors(handler: Handler) -> Handler:
    """Turn ApiError into Ollama's `{"error": ...}` answer."""

    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc.message, exc.status)

    return wrapped


def _sorted_models(core: OllamaCore) -> list[ModelInfo]:
    # ListHandler orders by modification time, newest first.
    return sorted(core.registry.models.values(), key=lambda m: m.modified_ns, reverse=True)


def native_routes(core: OllamaCore) -> list[Route]:
    """The /api routes, bound to one core."""

    async def root(request: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    async def version(request: Request) -> Response:
        return json_response({"version": core.behaviour.version})

    async def tags(request: Request) -> Response:
        models = [m.tag_entry(go_time(m.modified_ns, utc=False)) for m in _sorted_models(core)]
        return json_response({"models": models})

    async def ps(request: Request) -> Response:
        models = []
        for info, runner in core.runners():
            until = runner.loaded_until()
            if until is None:
                continue
            expires = "2318-08-28T00:00:00Z" if until == float("inf") \
                else go_time(int(until * 1e9), utc=False)  # far future stands in for "forever"
            models.append({"name": info.name, "model": info.name, "size": info.size,
                           "digest": info.digest, "details": info.details(),
                           "expires_at": expires, "size_vram": 0,
                           "context_length": info.context_length})
        return json_response({"models": models})

    @ollama_errors
    async def show(request: Request) -> Response:
        body = decode_body(await request.body(), "api.ShowRequest")
        check_types(body, "ShowRequest", {"model": (str, "string"), "name": (str, "string"),
                                          "verbose": (bool, "bool")})
        name = body.get("model") or body.get("name") or ""
        if not name:
            raise ApiError(400, "model is required")
        if parse_name(name) is None:
            raise ApiError(400, "invalid model name")
        info = core.registry.resolve(name)
        if info is None:
            raise ApiError(404, f"model '{show_name(name)}' not found")
        out: dict[str, Any] = {"modelfile": info.modelfile()}
        if info.parameters:
            out["parameters"] = info.parameters_text()
        if info.template:
            out["template"] = info.template
        out.update(details=info.details(), model_info=info.model_info,
                   capabilities=info.capabilities,
                   modified_at=go_time(info.modified_ns, utc=False))
        return json_response(out)

    @ollama_errors
    async def pull(request: Request) -> Response:
        body = decode_body(await request.body(), "api.PullRequest")
        check_types(body, "PullRequest", {"model": (str, "string"), "name": (str, "string"),
                                          "insecure": (bool, "bool"), "stream": (bool, "bool")})
        name = body.get("model") or body.get("name") or ""
        if parse_name(name) is None:
            raise ApiError(400, "invalid model name")
        info = core.registry.resolve(name)
        missing = "pull model manifest: file does not exist"
        if body.get("stream") is False:  # waitForStream: only the last status, or the error
            if info is None:
                return error_response(missing, 500, content_type=JSON_PLAIN)
            return json_response({"status": "success"}, content_type=JSON_PLAIN)
        lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
        if info is None:
            lines.append({"error": missing})
        else:
            for digest, size in _layers(info):
                lines.append({"status": f"pulling {digest[:12]}", "digest": f"sha256:{digest}",
                              "total": size, "completed": size})
            lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"},
                      {"status": "success"}]

        async def stream() -> AsyncIterator[bytes]:
            for line in lines:
                yield go_json(line, newline=True)

        return StreamingResponse(stream(), media_type=NDJSON)

    @ollama_errors
    async def chat(request: Request) -> Response:
        started = time.perf_counter_ns()
        body = decode_body(await request.body(), "api.ChatRequest")
        run = await core.chat(body, started)
        if run.single is not None:
            return json_response(run.single)
        if body.get("stream") is False:
            parts: list[str] = []
            final: dict[str, Any] = {}
            async for event in run.events():
                if "error" in event:
                    return error_response(event["error"], event["status"])
                parts.append(event["message"]["content"])
                final = event
            final["message"]["content"] = "".join(parts)
            return json_response(final)

        async def stream() -> AsyncIterator[bytes]:
            try:
                async for event in run.events():
                    if "error" in event:  # after the 200: a last line, as streamResponse does
                        yield go_json({"error": event["error"]}, newline=True)
                        return
                    yield go_json(event, newline=True)
            finally:
                run.cancel()

        return StreamingResponse(stream(), media_type=NDJSON)

    @ollama_errors
    async def embed(request: Request) -> Response:
        started = time.perf_counter_ns()
        body = decode_body(await request.body(), "api.EmbedRequest")
        result = await core.embed(body, started)
        name = body.get("model")
        if result is None:
            return json_response({"model": name, "embeddings": []})
        return json_response({
            "model": name,
            "embeddings": [go_float32_array(v) for v in result.vectors],
            "total_duration": result.total_ns,
            "load_duration": result.load_ns,
            "prompt_eval_count": result.prompt_eval_count,
        })

    @ollama_errors
    async def embeddings(request: Request) -> Response:
        started = time.perf_counter_ns()
        body = decode_body(await request.body(), "api.EmbeddingRequest")
        check_types(body, "EmbeddingRequest", {"model": (str, "string"),
                                               "prompt": (str, "string")})
        name = body.get("model") or ""
        if not name:
            raise ApiError(400, "model is required")
        if parse_name(name) is None:
            raise ApiError(400, "invalid model name")
        if core.registry.resolve(name) is None:
            raise ApiError(404, f"model {go_quote(name)} not found, try pulling it first")
        prompt = body.get("prompt") or ""
        result = await core.embed({"model": name, "input": [prompt] if prompt else [],
                                   "keep_alive": body.get("keep_alive"),
                                   "options": body.get("options")}, started)
        if result is None:  # an empty prompt only loads the model
            return json_response({"embedding": []})
        return json_response({"embedding": go_float64_array(result.vectors[0])})

    return [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/api/version", version, methods=["GET", "HEAD"]),
        Route("/api/tags", tags, methods=["GET", "HEAD"]),
        Route("/api/ps", ps, methods=["GET"]),
        Route("/api/show", show, methods=["POST"]),
        Route("/api/pull", pull, methods=["POST"]),
        Route("/api/chat", chat, methods=["POST"]),
        Route("/api/embed", embed, methods=["POST"]),
        Route("/api/embeddings", embeddings, methods=["POST"]),
    ]


def _layers(info: ModelInfo) -> list[tuple[str, int]]:
    """(sha256 hex, size) of the blobs a pull would report: the weights, then the params."""
    layers = [(info.digest, info.size)]
    if info.parameters:
        params = go_json(info.parameters)
        layers.append((hashlib.sha256(params).hexdigest(), len(params)))
    return layers
