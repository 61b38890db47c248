"""`ingest.access` rules read globs exactly as `ingest.glob` does (one translation)."""

from __future__ import annotations

import pytest

from ragloom._access import AccessRule, access_for
from ragloom._loaders import glob_regex
from ragloom.errors import ConfigError

NAMES = ["hr/a.md", "hr/b.md", "hr/c.md", "hr/x/a.md", "sales/a.md", "a.md"]


@pytest.mark.parametrize("pattern", ["hr/[ab].md", "hr/[!ab].md", "**/a.md", "hr/*", "?.md"])
def test_an_access_rule_matches_what_the_ingest_glob_finds(pattern: str) -> None:
    rule = AccessRule(glob=pattern, tenant="acme")
    found = [n for n in NAMES if glob_regex(pattern).fullmatch(n)]
    assert found  # each pattern finds something here
    assert [n for n in NAMES if rule.matches(n)] == found
    assert [n for n in NAMES if access_for(n, [rule], None).tenant == "acme"] == found


def test_a_bad_access_glob_is_a_config_error_naming_the_pattern() -> None:
    with pytest.raises(ConfigError, match=r"glob pattern 'hr/\[z-a\].md' is not valid"):
        AccessRule(glob="hr/[z-a].md", tenant="acme").matches("hr/a.md")
