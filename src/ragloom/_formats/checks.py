"""`ragloom doctor`'s view of the file formats: loaders, extras, OCR.

Example:
    >>> from ragloom import RagConfig
    >>> [c.name for c in format_checks(RagConfig())]
    ['loaders', 'formats: office', 'formats: ocr']

"""

from __future__ import annotations

import importlib.util
from collections import defaultdict

from ragloom._checks import Check
from ragloom._formats import loaders
from ragloom.config import RagConfig

__all__ = ["format_checks"]

_EXTRA_MODULES = {"office": ("docx", "pptx", "openpyxl", "odf"),
                  "ocr": ("pytesseract", "pypdfium2", "PIL")}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _compact(keys: list[str]) -> str:
    """Suffixes, with code and image suffixes counted rather than listed."""
    from ragloom._formats import BUILTINS

    kinds = {"code": [k for k in keys if BUILTINS.get(k, "").endswith(":load_code")],
             "image": [k for k in keys if BUILTINS.get(k, "").endswith(":load_image")]}
    rest = [k for k in keys if k not in kinds["code"] and k not in kinds["image"]]
    shown = [" ".join(rest)] if rest else []
    shown += [f"{len(found)} {kind} suffixes ({' '.join(found[:4])} ...)"
              for kind, found in kinds.items() if found]
    return ", ".join(shown)


def format_checks(cfg: RagConfig) -> list[Check]:
    """The loaders by provider, each extra's libraries, and Tesseract for OCR."""
    by_provider: dict[str, list[str]] = defaultdict(list)
    by_extra: dict[str, list[str]] = defaultdict(list)
    for key, spec in sorted(loaders().items()):
        if key.startswith("."):
            by_provider[spec.provider].append(key)
            if spec.extra:
                by_extra[spec.extra].append(key)
    listed = "; ".join(f"{provider}: {_compact(keys)}"
                       for provider, keys in sorted(by_provider.items(),
                                                    key=lambda p: p[0] != "ragloom"))
    checks = [Check("loaders", "ok", listed)]
    for extra, modules in _EXTRA_MODULES.items():
        missing = [m for m in modules if not _installed(m)]
        suffixes = " ".join(by_extra.get(extra, []))
        if missing:
            checks.append(Check(f"formats: {extra}", "warn",
                                f"{suffixes} need {', '.join(missing)} (not installed)",
                                fix=f"pip install 'ragloom[{extra}]'"))
        elif extra == "ocr":
            checks.append(_ocr_check(cfg, suffixes))
        else:
            checks.append(Check(f"formats: {extra}", "ok", f"{suffixes}: installed"))
    return checks


def _ocr_check(cfg: RagConfig, suffixes: str) -> Check:
    from ragloom._formats.ocr import INSTALL_HINT, tesseract_version

    mode = cfg.ingest.ocr
    version = tesseract_version()
    if mode == "off":
        return Check("formats: ocr", "ok", "ingest.ocr is off: scanned pages are not read")
    if version is None:
        return Check("formats: ocr", "fail" if mode == "on" else "ok",
                     f"ingest.ocr is {mode} but Tesseract is not installed: scanned PDF pages"
                     " and images are reported, not read", fix=INSTALL_HINT)
    return Check("formats: ocr", "ok",
                 f"Tesseract {version} ({cfg.ingest.ocr_language}) for PDF pages without a"
                 f" text layer and {suffixes}")
