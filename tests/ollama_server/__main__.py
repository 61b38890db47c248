"""`python -m tests.ollama_server [--port 11434] [--parallel 1] [--latency-ms 0] ...` (repo root).

On exit (Ctrl-C or SIGTERM), and on SIGUSR1 while it runs, it prints one JSON line with
what it measured so far: `{"busy_s": ..., "requests": ..., "max_active": ...}` (busy: the
wall time during which at least one model request was running).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from types import FrameType

from .app import OllamaTestServer
from .behaviour import Behaviour
from .core import OllamaCore
from .models import Registry
from .wire import OLLAMA_VERSION

_REAL = ("nomic-embed-text:latest", "qwen2.5-coder:1.5b", "qwen2.5-coder:0.5b")


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _stats(server: OllamaTestServer) -> str:
    scheduler = server.core.scheduler
    return json.dumps({"busy_s": round(scheduler.busy_s, 4), "requests": scheduler.requests,
                       "max_active": scheduler.max_active})


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted; print the URL once the socket accepts requests."""
    parser = argparse.ArgumentParser(prog="python -m tests.ollama_server",
                                     description="Ollama-API test server (smollm2:135m, "
                                                 "all-minilm; --real-models: nomic-embed-text, "
                                                 "qwen2.5-coder:1.5b/:0.5b)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434, help="0 picks a free port")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--parallel", type=int, default=1,
                        help="OLLAMA_NUM_PARALLEL: requests a model runs at once")
    parser.add_argument("--max-queue", type=int, default=512,
                        help="OLLAMA_MAX_QUEUE: waiting requests before 503 server busy")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="simulated model time added to each chat/embed request")
    parser.add_argument("--ollama-version", default=OLLAMA_VERSION,
                        help="the version to imitate (e.g. 0.1.30: no /api/embed)")
    parser.add_argument("--real-models", action="store_true",
                        help="also serve nomic-embed-text and qwen2.5-coder:1.5b/:0.5b "
                             "(fetch them first: python -m tests.ollama_server.fetch_models)")
    args = parser.parse_args(argv)
    behaviour = Behaviour(version=args.ollama_version, parallel=args.parallel,
                          max_queue=args.max_queue, latency_s=args.latency_ms / 1000)
    core = OllamaCore(Registry(real_models=args.real_models), behaviour=behaviour)
    server = OllamaTestServer(host=args.host, port=args.port, log_level=args.log_level,
                              core=core)
    if args.real_models:
        missing = sorted(set(_REAL) - set(server.core.registry.models))
        if missing:
            print(f"not fetched, not served: {', '.join(missing)} "
                  "(python -m tests.ollama_server.fetch_models)", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGUSR1, lambda signum, frame: print(_stats(server), flush=True))
    server.start()
    print(f"Ollama test server listening on {server.url}", flush=True)
    try:
        while not server.wait(0.5):  # short waits keep Ctrl-C responsive
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print(_stats(server), flush=True)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
