"""Strict checks of raw JSON against the ollama client's own pydantic response models.

`Model.model_validate` ignores unknown keys and fills missing optional ones with None, so
on its own it notices neither extra nor missing fields. `strict()` also walks the JSON and
fails on any key the model (or a nested model) does not declare.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, get_args

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

GO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _check(cls: type[BaseModel], data: Mapping[str, Any], path: str,
           allowed: Mapping[str, Iterable[str]]) -> None:
    fields = {(f.alias or name): f for name, f in cls.model_fields.items()}
    extra = set(data) - set(fields) - set(allowed.get(path, ()))
    assert not extra, f"{path or cls.__name__}: keys the client model lacks: {sorted(extra)}"
    for key, value in data.items():
        if key not in fields:
            continue
        nested = _models_in(fields[key].annotation)
        if not nested:
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, Mapping):
                _check(nested[0], item, f"{path}.{key}".lstrip("."), allowed)


def strict(cls: type[M], data: Mapping[str, Any],
           allowed: Mapping[str, Iterable[str]] | None = None) -> M:
    """Validate `data` as `cls` and reject undeclared keys (except `allowed[path]`)."""
    obj = cls.model_validate(data)
    _check(cls, data, "", allowed or {})
    return obj
