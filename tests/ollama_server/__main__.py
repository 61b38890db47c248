"""`python -m tests.ollama_server [--host 127.0.0.1] [--port 11434]` (run from the repo root)."""

from __future__ import annotations

import argparse

from .app import OllamaTestServer


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted; print the URL once the socket accepts requests."""
    parser = argparse.ArgumentParser(prog="python -m tests.ollama_server",
                                     description="Ollama-API test server (smollm2:135m, "
                                                 "all-minilm)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    server = OllamaTestServer(host=args.host, port=args.port, log_level=args.log_level)
    server.start()
    print(f"Ollama test server listening on {server.url}", flush=True)
    try:
        while not server.wait(0.5):  # short waits keep Ctrl-C responsive
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
