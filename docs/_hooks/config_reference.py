"""Generate the configuration reference in docs/configuration.md from `RagConfig`.

The reference (every key, its type, default, environment variable and description) is
rendered from the pydantic models in `ragloom.config`, so it cannot drift from the code:

- `python docs/_hooks/config_reference.py` rewrites the generated block of
  docs/configuration.md (between the BEGIN/END markers); `--check` exits 1 if it is stale.
- As an MkDocs hook (`hooks:` in mkdocs.yml) it renders the page from the code on every
  build, and logs a warning when the committed file is stale, which fails
  `mkdocs build --strict` (and so CI) until the file is regenerated.

The committed Markdown matters too: `ragloom ingest docs/` reads it as plain text.
"""

from __future__ import annotations

import json
import logging
import sys
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

BEGIN = "<!-- BEGIN GENERATED: python docs/_hooks/config_reference.py -->"
END = "<!-- END GENERATED -->"
PAGE = Path(__file__).resolve().parent.parent / "configuration.md"
log = logging.getLogger("mkdocs.hooks.config_reference")


def _type_name(annotation: Any) -> str:
    """`str | None`, `'dense' | 'sparse'`, `dict[str, Any]`: types as users write them."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in args)
    if origin is Literal:
        return " | ".join(repr(arg) for arg in args)
    if origin is not None:
        return f"{origin.__name__}[{', '.join(_type_name(arg) for arg in args)}]"
    if annotation is type(None):
        return "None"
    if annotation is Any:
        return "Any"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> Any:
    if field.default_factory is not None:
        return field.default_factory()
    return field.default


def _show(value: Any) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, str):
        return f"`{value}`"
    return "`" + json.dumps(value) + "`"


def render() -> str:
    """The generated Markdown: one table per section, then the defaults as YAML."""
    import yaml

    from ragloom.config import ENV_PREFIX, RagConfig

    out: list[str] = []
    defaults: dict[str, Any] = {}
    for section, section_field in RagConfig.model_fields.items():
        model = section_field.annotation
        assert model is not None
        out.append(f"## `{section}`\n")
        out.append(f"{(model.__doc__ or '').strip()}\n")
        out.append("| key | type | default | environment variable | description |")
        out.append("|---|---|---|---|---|")
        defaults[section] = model().model_dump(mode="json")
        for key, field in model.model_fields.items():
            env = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
            desc = (field.description or "").replace("\n", " ").replace("|", "\\|")
            out.append(
                f"| `{key}` | `{_type_name(field.annotation)}` | {_show(_default(field))}"
                f" | `{env}` | {desc} |"
            )
        out.append("")
    out.append("## All defaults as YAML\n")
    out.append("```yaml")
    out.append(yaml.safe_dump(defaults, sort_keys=False).rstrip())
    out.append("```")
    return "\n".join(out) + "\n"


def splice(page: str, generated: str) -> str:
    """`page` with the text between the markers replaced by `generated`."""
    head, sep, rest = page.partition(BEGIN)
    if not sep or END not in rest:
        raise ValueError(f"{PAGE} lacks the markers {BEGIN!r} ... {END!r}")
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{generated}\n{END}{tail}"


# --- MkDocs hooks ------------------------------------------------------------------

def on_pre_build(config: Any) -> None:
    """Warn (an error under --strict) when the committed page is stale."""
    current = PAGE.read_text(encoding="utf-8")
    if splice(current, render()) != current:
        log.warning("docs/configuration.md is out of date with ragloom.config:"
                    " run `python docs/_hooks/config_reference.py` and commit the result")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Render the configuration page from the code, whatever the committed file says."""
    if page.file.src_uri == "configuration.md":
        return splice(markdown, render())
    return markdown


def main(argv: list[str]) -> int:
    """Rewrite the page, or with `--check` report whether it is stale."""
    current = PAGE.read_text(encoding="utf-8")
    wanted = splice(current, render())
    if "--check" in argv:
        if wanted != current:
            print(f"{PAGE} is stale: run python docs/_hooks/config_reference.py", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        PAGE.write_text(wanted, encoding="utf-8")
        print(f"rewrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
