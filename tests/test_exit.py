"""The CLI's exit: the interpreter's last garbage collections skip what the command left."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

_PROBE = """
import atexit, gc, sys
import ragloom.cli
sys.argv = ["ragloom", "--help"]
try:
    ragloom.cli.main()
except SystemExit:
    pass
before = gc.get_freeze_count()
atexit._run_exitfuncs()  # what the interpreter runs at exit, before tearing modules down
print(before, gc.get_freeze_count())
"""


def test_cli_freezes_the_heap_after_its_atexit_handlers() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(SRC), "PATH": "",
                                          "COLUMNS": "80"})
    before, after = map(int, out.stdout.split()[-2:])
    assert before == 0
    assert after > 10_000  # every object the command left, moved out of the collector's way
