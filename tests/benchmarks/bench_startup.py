"""Start-up cost: what ragloom adds to every pytest run and to `ragloom --help`.

Prints best-of-N wall times of
- `pytest --collect-only -q` on a one-test folder with the `ragloom` plugin and with
  `-p no:ragloom` (target: under 100 ms apart);
- `ragloom --help` (`python -m ragloom --help`; target: under 0.5 s);
- `python -c "import ragloom"` against `python -c pass`.

Run: python -m tests.benchmarks.bench_startup [--runs 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def best_of(runs: int, argv: list[str], cwd: Path) -> float:
    """The fastest of `runs` wall times of `argv`, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_one.py").write_text("def test_one():\n    assert True\n")
        collect = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        figures = {
            "pytest --collect-only (plugin loaded)": best_of(runs, collect, folder),
            "pytest --collect-only -p no:ragloom": best_of(runs, [*collect, "-p", "no:ragloom"],
                                                         folder),
            "ragloom --help": best_of(runs, [sys.executable, "-m", "ragloom", "--help"], folder),
            "python -c 'import ragloom'": best_of(runs, [sys.executable, "-c", "import ragloom"],
                                                  folder),
            "python -c pass": best_of(runs, [sys.executable, "-c", "pass"], folder),
        }
    for name, seconds in figures.items():
        print(f"{name:40} {seconds * 1000:8.0f} ms  (best of {runs})")
    plugin_cost = (figures["pytest --collect-only (plugin loaded)"]
                   - figures["pytest --collect-only -p no:ragloom"])
    print(f"{'plugin cost per pytest run':40} {plugin_cost * 1000:8.0f} ms  (target < 100 ms)")


if __name__ == "__main__":
    main()
