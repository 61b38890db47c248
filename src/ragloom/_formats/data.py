r"""JSON and JSON Lines (standard library): one record per section.

A JSON array gives one section per item (`record`, from 0), an object one per top-level
key (`key`), JSON Lines one per line (`line`, from 1); each record is pretty-printed, so
a small record is one chunk and a big one is split like any text.

Example:
    >>> from pathlib import Path
    >>> load_jsonl(b'{"a": 1}\n\n{"a": 2}\n', LoadContext(Path("r.jsonl")))[1]
    ('{\n  "a": 2\n}', {'line': 3, 'location': 'line 3'})

"""

from __future__ import annotations

import json
from typing import Any

from ragloom._formats._base import LoadContext, LoadError, Section
from ragloom._formats.text import decode

__all__ = ["load_json", "load_jsonl"]


def _dump(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2)


def load_json(data: bytes, context: LoadContext) -> list[Section]:
    """A JSON document: array items or top-level keys as sections."""
    try:
        value = json.loads(decode(data))
    except json.JSONDecodeError as exc:
        raise LoadError(f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
                        ) from None
    except RecursionError:
        raise LoadError("invalid JSON: nested too deeply") from None
    sections: list[Section]
    if isinstance(value, list):
        sections = [(_dump(item), {"record": i, "location": f"record {i}"})
                    for i, item in enumerate(value)]
    elif isinstance(value, dict):
        sections = [(f"{key}: {_dump(item)}", {"key": str(key), "location": f"key {key}"})
                    for key, item in value.items()]
    else:
        sections = [(_dump(value), {})]
    context.pages += len(sections)
    return sections


def load_jsonl(data: bytes, context: LoadContext) -> list[Section]:
    """JSON Lines: one section per non-blank line."""
    sections: list[Section] = []
    for number, line in enumerate(decode(data).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LoadError(f"invalid JSON Lines: line {number}: {exc.msg}"
                            f" (column {exc.colno})") from None
        except RecursionError:
            raise LoadError(f"invalid JSON Lines: line {number} is nested too deeply") from None
        sections.append((_dump(value), {"line": number, "location": f"line {number}"}))
    context.pages += len(sections)
    return sections
