"""Start-up cost: importing ragloom, its pytest plugin or its CLI loads no heavy client.

`ragloom.testing` is a `pytest11` plugin, so every pytest run in an environment with
ragloom installed imports it; `ragloom --help` imports `ragloom.cli`. Each import is
checked in a fresh interpreter, where nothing else has loaded the heavy modules.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import ragloom

HEAVY = ("qdrant_client", "langchain_qdrant", "langchain_openai", "langchain_ollama", "openai",
         "ollama")


def _modules_loaded_by(statement: str, watched: tuple[str, ...] = HEAVY) -> list[str]:
    probe = (f"import sys\n{statement}\nimport json\n"
             f"print(json.dumps(sorted(m for m in {watched!r} if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=120)
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("statement", [
    "import ragloom",
    "import ragloom.testing",
    "import ragloom.cli",
    "from ragloom import RagConfig, RagloomError, load_config",
])
def test_import_loads_no_heavy_client(statement: str) -> None:
    assert _modules_loaded_by(statement) == []


def test_ragloom_help_loads_no_heavy_client() -> None:
    statement = ("from typer.testing import CliRunner\nfrom ragloom.cli import app\n"
                 "out = CliRunner().invoke(app, ['--help'])\n"
                 "assert out.exit_code == 0, out.output\nassert 'ingest' in out.output")
    # Not even the configuration machinery: a command loads it when it runs.
    watched = (*HEAVY, "ragloom.config", "pydantic_settings", "ragloom._config_sources",
               "ragloom._model_settings", "ragloom._data_settings", "ragloom._answer_settings",
               # nor a command's body: each `_cli_*` module loads when its command runs
               "ragloom._cli_common", "ragloom._cli_ask", "ragloom._cli_ingest",
               "ragloom._cli_config", "ragloom._cli_doctor", "ragloom._cli_eval",
               "ragloom._cli_answers", "rich.progress")
    assert _modules_loaded_by(statement, watched) == []


def test_every_public_name_resolves_and_is_listed() -> None:
    for name in ragloom.__all__:
        assert getattr(ragloom, name) is not None, name
    assert set(ragloom.__all__) <= set(dir(ragloom))
    assert set(ragloom._dynamic_imports) == set(ragloom.__all__)


def test_public_names_are_the_defining_modules_objects() -> None:
    from ragloom.ingestion import ingest
    from ragloom.store import build_vector_store

    assert ragloom.ingest is ingest
    assert ragloom.build_vector_store is build_vector_store


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        ragloom.no_such_name  # noqa: B018
    assert not hasattr(ragloom, "no_such_name")


def test_star_import_gives_all() -> None:
    namespace: dict[str, object] = {}
    exec("from ragloom import *", namespace)
    assert set(ragloom.__all__) <= set(namespace)
