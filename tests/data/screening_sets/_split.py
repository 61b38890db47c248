"""Split and check the screening sets (tests/data/screening_sets).

The items were written by hand. This script only assigns them to the
tuning ("dev") and held-out halves, and checks the files.

Usage::

    python tests/data/screening_sets/_split.py --check
    python tests/data/screening_sets/_split.py --split planted.jsonl ordinary.jsonl

``--split`` takes the full pools and writes the four ``*.jsonl`` files.
``--check`` pools the four files again, re-derives the split and fails if
a file differs from it, if a line is not valid JSON, if an id repeats, or if
a count is below the minimum.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = "ragloom-screening-sets-2026-12-06"
DEV_SHARE = 0.35
MINIMUM = {"dev": 60, "heldout": 110}
FIELDS = {"id", "text", "category", "lang"}


def split(items: list[dict[str, str]], kind: str) -> dict[str, list[dict[str, str]]]:
    """Assign each item to dev or heldout, by a seeded shuffle per category."""
    by_cat: dict[str, list[dict[str, str]]] = defaultdict(list)
    for item in items:
        by_cat[item["category"]].append(item)
    out: dict[str, list[dict[str, str]]] = {"dev": [], "heldout": []}
    for cat in sorted(by_cat):
        group = sorted(by_cat[cat], key=lambda d: d["id"])
        random.Random(f"{SEED}:{kind}:{cat}").shuffle(group)
        n_dev = max(1, round(DEV_SHARE * len(group)))
        out["dev"] += group[:n_dev]
        out["heldout"] += group[n_dev:]
    for half in out.values():
        half.sort(key=lambda d: d["id"])
    return out


def read(path: Path) -> list[dict[str, str]]:
    rows = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            sys.exit(f"{path.name}:{no}: not valid JSON ({exc})")
        if set(row) != FIELDS or not all(isinstance(row[f], str) and row[f] for f in FIELDS):
            sys.exit(f"{path.name}:{no}: needs exactly the non-empty fields {sorted(FIELDS)}")
        rows.append(row)
    return rows


def write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            line = {"id": r["id"], "text": r["text"], "category": r["category"], "lang": r["lang"]}
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


def check() -> None:
    ids: Counter[str] = Counter()
    for kind in ("planted", "ordinary"):
        files = {h: read(HERE / f"{h}_{kind}.jsonl") for h in ("dev", "heldout")}
        pool = files["dev"] + files["heldout"]
        ids.update(r["id"] for r in pool)
        expected = split(pool, kind)
        for half in ("dev", "heldout"):
            got = [r["id"] for r in files[half]]
            if got != [r["id"] for r in expected[half]]:
                sys.exit(f"{half}_{kind}.jsonl does not match the seeded split")
            if len(got) < MINIMUM[half]:
                sys.exit(f"{half}_{kind}.jsonl has {len(got)} items, minimum {MINIMUM[half]}")
            cats = Counter(r["category"] for r in files[half])
            langs = Counter(r["lang"] for r in files[half])
            print(f"{half}_{kind}: {len(got)} items")
            print(f"  categories {dict(sorted(cats.items()))}")
            print(f"  languages {dict(sorted(langs.items()))}")
    dupes = [i for i, n in ids.items() if n > 1]
    if dupes:
        sys.exit(f"duplicate ids: {dupes}")
    print("ok")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--split", nargs=2, metavar=("PLANTED", "ORDINARY"))
    args = ap.parse_args()
    if args.split:
        for kind, src in zip(("planted", "ordinary"), args.split, strict=True):
            halves = split(read(Path(src)), kind)
            for half, rows in halves.items():
                write(HERE / f"{half}_{kind}.jsonl", rows)
    check()


if __name__ == "__main__":
    main()
