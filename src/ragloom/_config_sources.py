"""Where settings come from: the config file in force, its relative paths, and errors.

`RagConfig` (in `ragloom.config`) reads keyword arguments, the environment and the
file chosen here; the messages for a bad value name the key and its source, never a
secret's value.

Example:
    >>> from ragloom.config import config_file
    >>> config_file() is None  # no RAGLOOM_CONFIG and no ragloom.yaml here
    True

"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from ragloom._redact import redact
from ragloom.errors import ConfigError

ENV_PREFIX = "RAGLOOM_"
CONFIG_ENV_VAR = "RAGLOOM_CONFIG"
DEFAULT_CONFIG_FILES = ("ragloom.yaml", "ragloom.yml", "ragloom.toml")

_explicit_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "ragloom_config_file", default=None
)


_FILE_RELATIVE = (("qdrant", "location"), ("ingest", "root"))
"""Paths in a config file that are relative to the file's folder, not the working one."""


class _FileRelative(PydanticBaseSettingsSource):
    """A config file's values, relative `qdrant.location` and `ingest.root` resolved.

    They are relative to the file's folder, so an app finds its store from any
    working directory.
    """

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource,
                 path: Path) -> None:
        super().__init__(settings_cls)
        self.inner, self.folder = inner, path.resolve().parent

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        data = self.inner()
        for section, key in _FILE_RELATIVE:
            values = data.get(section)
            if not isinstance(values, dict):
                continue
            value = values.get(key)
            if isinstance(value, str) and value and value != ":memory:":
                expanded = os.path.expanduser(value)
                if not os.path.isabs(expanded):
                    data[section] = {**values, key: str(self.folder / expanded)}
        return data


def config_file() -> Path | None:
    """The config file in force: `load_config(path)`, `RAGLOOM_CONFIG`, or one in the cwd."""
    explicit = _explicit_file.get() or os.environ.get(CONFIG_ENV_VAR)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"config file {str(path)!r} does not exist: fix the path"
                f" (or unset {CONFIG_ENV_VAR})"
            )
        if path.suffix not in {".yaml", ".yml", ".toml"}:
            raise ConfigError(f"config file {str(path)!r} must end in .yaml, .yml or .toml")
        return path
    present = [Path.cwd() / name for name in DEFAULT_CONFIG_FILES if (Path.cwd() / name).is_file()]
    if len(present) > 1:
        names = " and ".join(str(path) for path in present)
        raise ConfigError(
            f"found {names}: ragloom reads one config file. Choose it with"
            f" {CONFIG_ENV_VAR}=<file> (or `--config <file>`), or remove the other"
        )
    return present[0] if present else None


def _env_error(exc: Exception) -> str | None:
    """The error for a variable pydantic-settings could not parse, else None.

    A section given as text or bad JSON (`RAGLOOM_QDRANT=x`): named, with the fix.
    """
    match = re.search(r'field "(\w+)" from source "EnvSettingsSource"', str(exc))
    if match is None:
        return None
    variable = ENV_PREFIX + match.group(1).upper()
    return (f"environment variable {variable} is not valid JSON for the"
            f" {match.group(1)!r} section: give one key per variable"
            f" ({variable}__KEY=value) or a JSON object ({variable}='{{\"key\": ...}}'),"
            " or unset it")


@contextmanager
def _using_file(path: str | os.PathLike[str] | None) -> Iterator[None]:
    token = _explicit_file.set(Path(path) if path is not None else None)
    try:
        yield
    finally:
        _explicit_file.reset(token)


_SECRET_KEYS = ("api_key", "apikey", "headers", "password", "secret", "token")


def _shown(error: Any) -> str:
    """What a message may say about the bad value: never the value of a secret field."""
    value = error.get("input")
    if any(name in str(part).lower() for part in error["loc"] for name in _SECRET_KEYS):
        return f"got a {type(value).__name__}; the value is not shown, it is a secret"
    return f"got {redact(repr(value))}"


def _explain(exc: ValidationError, path: Path | None) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        env_name = ENV_PREFIX + "__".join(str(part) for part in error["loc"]).upper()
        where = f" (environment variable {env_name})" if env_name in os.environ else ""
        if error["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key{where}; check the spelling against the reference")
        else:
            lines.append(f"  {key}: {error['msg']} ({_shown(error)}){where}")
    source = f" in {str(path)!r} or the environment" if path else ""
    return f"invalid ragloom configuration{source}:\n" + "\n".join(lines)
