"""Detection and false-positive rates of the instruction screen, per level and data set.

Three sets (tests/data):

- `in-sample`: `screening/` (60 planted, 90 ordinary), the set the first rules were
  written on;
- `dev`: `screening_sets/dev_*` (62 planted, 65 ordinary), the half the current rules
  were tuned on;
- `held-out`: `screening_sets/heldout_*` (113 planted, 116 ordinary), never used for
  tuning (see tests/data/screening_sets/README.md). Only the totals are printed, not
  which items were missed: that would turn the held-out half into a tuning set.

Detection is the share of planted chunks flagged, false positives the share of ordinary
chunks flagged. Also prints the mean screening time per chunk on this machine.

Run: python tests/benchmarks/bench_screening.py [--levels standard strict] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ragloom._screening import LEVELS, screen_text

DATA = Path(__file__).resolve().parents[1] / "data"
SETS = {
    "in-sample": (DATA / "screening" / "planted.jsonl", DATA / "screening" / "ordinary.jsonl"),
    "dev": (DATA / "screening_sets" / "dev_planted.jsonl",
            DATA / "screening_sets" / "dev_ordinary.jsonl"),
    "held-out": (DATA / "screening_sets" / "heldout_planted.jsonl",
                 DATA / "screening_sets" / "heldout_ordinary.jsonl"),
}


def _texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def measure(level: str) -> list[dict[str, object]]:
    """One row per data set: counts, rates and the mean time per chunk."""
    rows: list[dict[str, object]] = []
    for name, (planted_file, ordinary_file) in SETS.items():
        planted, ordinary = _texts(planted_file), _texts(ordinary_file)
        started = time.perf_counter()
        caught = sum(bool(screen_text(t, level)) for t in planted)
        flagged = sum(bool(screen_text(t, level)) for t in ordinary)
        elapsed = time.perf_counter() - started
        rows.append({"level": level, "set": name, "caught": caught, "planted": len(planted),
                     "flagged": flagged, "ordinary": len(ordinary),
                     "detection": round(caught / len(planted), 3),
                     "false_positives": round(flagged / len(ordinary), 3),
                     "ms_per_chunk": round(1000 * elapsed / (len(planted) + len(ordinary)), 1)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", nargs="+", choices=LEVELS, default=list(LEVELS))
    parser.add_argument("--json", action="store_true", help="print JSON lines instead")
    args = parser.parse_args()
    for level in args.levels:
        for row in measure(level):
            if args.json:
                print(json.dumps(row))
                continue
            print(f"{row['level']:<8} {row['set']:<9}  detection {row['caught']:>3}/"
                  f"{row['planted']:<3} = {row['detection']:.3f}   false positives "
                  f"{row['flagged']:>3}/{row['ordinary']:<3} = {row['false_positives']:.3f}"
                  f"   {row['ms_per_chunk']} ms/chunk")


if __name__ == "__main__":
    main()
