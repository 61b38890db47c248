"""`ragloom config`: the effective configuration, each value with where it came from.

Example:
    ragloom config          # YAML, `# env RAGLOOM_...` / `# file` / `# default` per value
    ragloom config --json

"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.text import Text

from ragloom._cli_common import console, load_config, run


def show_config(config: Path | None, as_json: bool) -> None:
    """Print the effective configuration (all sources merged), secrets masked."""
    import yaml

    from ragloom.config import config_file

    cfg = run(lambda: load_config(config))
    data = cfg.masked()
    if as_json:
        print(json.dumps(data, indent=2))
        return
    source = config if config is not None else run(config_file)
    console.print(Text(f"# config file: {source or '(none)'}"), style="dim", highlight=False)
    from_file = _file_values(source)
    lines = []
    for section, values in data.items():
        lines.append(f"{section}:")
        for key, value in values.items():
            text = yaml.safe_dump({key: value}, sort_keys=False).rstrip("\n").splitlines()
            origin = _origin(section, key, from_file)
            lines += [f"  {text[0]}  # {origin}", *(f"  {line}" for line in text[1:])]
    print("\n".join(lines))


def _file_values(path: Path | None) -> dict[str, Any]:
    """The config file's sections as written (for `ragloom config`'s origins)."""
    if path is None:
        return {}
    from pydantic_settings import TomlConfigSettingsSource, YamlConfigSettingsSource

    from ragloom.config import RagConfig

    reader = (TomlConfigSettingsSource if Path(path).suffix == ".toml"
              else YamlConfigSettingsSource)
    return dict(reader(RagConfig, Path(path))())


def _origin(section: str, key: str, from_file: dict[str, Any]) -> str:
    """Where a value came from: an environment variable, the config file, or the default."""
    import os

    from ragloom.config import ENV_PREFIX

    env = {name.upper(): value for name, value in os.environ.items()}
    variable = f"{ENV_PREFIX}{section}__{key}".upper()
    if variable in env:
        return f"env {variable}"
    whole = f"{ENV_PREFIX}{section}".upper()
    if whole in env:
        try:
            if key in json.loads(env[whole]):
                return f"env {whole}"
        except (ValueError, TypeError):
            pass
    values = from_file.get(section)
    if isinstance(values, dict) and key in values:
        return "file"
    return "default"
