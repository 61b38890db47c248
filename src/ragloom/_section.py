"""`_Section`: the base of every configuration section (strict keys, masked URLs).

Example:
    >>> from ragloom.config import QdrantSettings
    >>> QdrantSettings(url="http://user:pw@qdrant:6333").model_dump(mode="json")["url"]
    'http://user:****@qdrant:6333'

"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_serializer

from ragloom._redact import mask_url

_URL_FIELDS = frozenset({"base_url", "url"})


class _Section(BaseModel):
    # validate_assignment: `cfg.llm.headers = {...}` stores secrets too, and is checked.
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_default=True,
                              validate_assignment=True)

    @field_serializer("base_url", "url", when_used="json", check_fields=False)
    def _mask_url_password(self, value: str | None) -> str | None:
        # JSON output is for people and files, like SecretStr's: no password in a URL.
        return mask_url(value)

    def __repr_args__(self) -> Any:
        # A URL may carry a password (http://user:pw@host): the repr shows it masked.
        for name, value in super().__repr_args__():
            yield name, mask_url(value) if name in _URL_FIELDS and isinstance(value, str) else value
