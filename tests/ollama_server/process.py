"""The test server in a process of its own: killable, and with its threads out of the way.

    with server_process(parallel=1, latency_ms=75) as server:
        server.url
        server.snapshot()        # {"busy_s": ..., ...} so far
        server.kill()            # SIGKILL, as a crashed pod
    server.stats                 # {"busy_s": ..., "requests": ..., "max_active": ...}

Used where the test must measure this process alone (threads, CPU) or kill a server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["ServerProcess", "server_process"]

_ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """A running `python -m tests.ollama_server`."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(_ROOT / "src"), str(_ROOT), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.ollama_server", "--port", "0", *args],
            cwd=_ROOT, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"the test server did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[-1].strip()
        self.stats: dict[str, Any] | None = None

    def snapshot(self) -> dict[str, Any]:
        """What the server measured so far (SIGUSR1 makes it print a line)."""
        assert self.proc.stdout is not None
        self.proc.send_signal(signal.SIGUSR1)
        return dict(json.loads(self.proc.stdout.readline()))

    def kill(self) -> None:
        """SIGKILL: connections drop, nothing is flushed."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> dict[str, Any] | None:
        """SIGTERM, then read what the server measured (None if it was killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            out, _ = self.proc.communicate(timeout=30)
            for line in out.splitlines():
                if line.startswith("{"):
                    self.stats = json.loads(line)
        return self.stats


@contextmanager
def server_process(*, parallel: int = 1, latency_ms: float = 0.0,
                   version: str | None = None) -> Iterator[ServerProcess]:
    """A test server process, stopped (and its stats read) on exit."""
    args = ["--parallel", str(parallel), "--latency-ms", str(latency_ms)]
    if version:
        args += ["--ollama-version", version]
    server = ServerProcess(*args)
    try:
        yield server
    finally:
        server.stop()
