"""The ingest's CPU cuts of issue 22:

- loader entry points: a distribution's name (a METADATA parse each time) is read once
  per distribution, not once per entry point (fails on main: 3 reads);
- the CLI's ingest freezes what the imports built out of the garbage collector's
  passes during the run, and thaws it after (fails on main).
"""

from __future__ import annotations

import gc
from types import SimpleNamespace
from typing import Any

import pytest
import typer

from ragloom import _formats


class _Dist:
    def __init__(self, name: str) -> None:
        self._name, self.reads = name, 0

    @property
    def name(self) -> str:
        self.reads += 1
        return self._name


def test_entry_points_name_each_distribution_once(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = _Dist("ragloom-extra")
    entries = [SimpleNamespace(name=f".x{n}", value=f"extra.mod:load{n}", dist=plugin)
               for n in range(3)]

    def fake_entry_points(**kw: Any) -> list[Any]:
        return entries if kw.get("group") == _formats.GROUP else []

    monkeypatch.setattr(_formats, "entry_points", fake_entry_points)
    _formats.loaders.cache_clear()
    try:
        found = _formats.loaders()
        assert [found[f".x{n}"].provider for n in range(3)] == ["ragloom-extra"] * 3
        assert plugin.reads == 1
    finally:
        _formats.loaders.cache_clear()


def test_cli_ingest_freezes_the_imported_objects(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Any) -> None:
    from ragloom import _cli_ingest

    frozen: list[int] = []

    def fake_ingest(*args: Any, **kwargs: Any) -> Any:
        frozen.append(gc.get_freeze_count())
        raise KeyboardInterrupt  # stop here: what matters is the state the run starts in

    monkeypatch.setattr("ragloom.ingestion.ingest", fake_ingest)
    monkeypatch.setattr(_cli_ingest, "load_config", lambda config: None)
    assert gc.get_freeze_count() == 0
    with pytest.raises(typer.Exit):  # 130: interrupted
        _cli_ingest.ingest([tmp_path], None, False, None, None, None, None)
    assert frozen and frozen[0] > 0  # frozen during the run
    assert gc.get_freeze_count() == 0  # and thawed after it: nothing kept from collection
