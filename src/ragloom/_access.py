"""Who may see a chunk, and who is asking: the access model of multi-user apps.

A chunk carries up to three access keys in its metadata: `tenant` (a string),
`groups` (a list of strings) and `classification` (`public`, `internal` or
`confidential`). A user is `{"tenant": str, "groups": [str, ...]}`. The rule: a user
sees a chunk when the chunk has no tenant or the same tenant, and the chunk has no
groups or shares at least one group with the user. `access_filter` writes that rule
as a Qdrant filter, which the retrievers AND with every other filter (a filter can
only narrow it). Classification does not restrict retrieval: it decides where the
context may be sent (see `ragloom.routing`).

Private module (after `config`, before `store`): imports only `errors`, `_glob`, the
light Qdrant types of `_points` and pydantic (`access_filter`, for retrieval, builds
`qdrant_client.models`).

Example:
    >>> user = User.parse({"tenant": "acme", "groups": ["hr"]})
    >>> visible({"tenant": "acme", "groups": ["hr", "legal"]}, user)
    True
    >>> visible({"tenant": "globex"}, user)
    False

"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ragloom._glob import glob_regex
from ragloom._points import (
    Condition,
    FieldCondition,
    Filter,
    IsEmptyCondition,
    KeywordIndexParams,
    KeywordIndexType,
    MatchExcept,
    MatchValue,
    PayloadField,
    PayloadSchemaType,
)
from ragloom.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from qdrant_client import models

__all__ = ["ACCESS_KEYS", "Access", "AccessRule", "User", "access_filter", "visible"]

ACCESS_KEYS = ("tenant", "groups", "classification")
"""The metadata keys that carry access, as stored under the payload's `metadata`."""
Classification = Literal["public", "internal", "confidential"]


def _names(value: Any, what: str) -> Any:
    if isinstance(value, str):
        value = [value]
    if value is None:
        return []
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(f"{what} must be a list of strings")
    names = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{what} must be non-empty strings (got {item!r})")
        names.append(item.strip())
    return sorted(set(names))


def _tenant(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"tenant must be a non-empty string (got {value!r})")
    return value.strip()


class Access(BaseModel):
    """Access metadata stored on every chunk of a file.

    Example:
        >>> Access.parse({"tenant": "acme", "groups": "hr"}).metadata()
        {'tenant': 'acme', 'groups': ['hr']}

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str | None = None
    """The tenant owning the chunks; null: every tenant may see them."""
    groups: list[str] = Field(default_factory=list)
    """Groups allowed to see the chunks; empty: every group."""
    classification: Classification | None = None
    """`public`, `internal` or `confidential` (confidential context stays on local models)."""

    _tenant = field_validator("tenant", mode="before")(classmethod(lambda cls, v: _tenant(v)))
    _groups = field_validator("groups", mode="before")(
        classmethod(lambda cls, v: _names(v, "groups")))

    @classmethod
    def parse(cls, value: Access | Mapping[str, Any] | None, *, where: str = "access") -> Access:
        """Validate access metadata, raising `InvalidInput` naming the problem."""
        if isinstance(value, Access):
            return value
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise InvalidInput(f"{where} must be a mapping like {{'tenant': 'acme', 'groups':"
                               f" ['hr'], 'classification': 'confidential'}} (got {value!r})")
        try:
            return cls.model_validate(dict(value))
        except ValidationError as exc:
            raise InvalidInput(f"{where} is not valid access metadata: {_first(exc)}. Keys:"
                               " tenant (a string), groups (a list of strings),"
                               " classification (public, internal or confidential)") from None

    def merged(self, other: Access) -> Access:
        """The keys `other` sets replace ours; the rest stay."""
        return Access.model_validate({**self.model_dump(exclude_unset=True),
                                      **other.model_dump(exclude_unset=True)})

    def metadata(self) -> dict[str, Any]:
        """The metadata keys to store (unset keys are left out)."""
        out: dict[str, Any] = {}
        if self.tenant is not None:
            out["tenant"] = self.tenant
        if self.groups:
            out["groups"] = list(self.groups)
        if self.classification is not None:
            out["classification"] = self.classification
        return out


class AccessRule(Access):
    """One `ingest.access` entry: files matching `glob` get this access.

    Example:
        >>> AccessRule(glob="hr/**", groups=["hr"]).matches("hr/pay.md")
        True

    """

    glob: str
    """Pattern on the stored source (relative path), e.g. `hr/**` or `**/*.pdf`."""

    def matches(self, source: str) -> bool:
        """Whether all of `source` (a stored source id) matches `glob`.

        `*` and `?` stay within one path part, `**` spans parts (`**/` also matches none).
        """
        return glob_regex(self.glob).fullmatch(source) is not None

    def access(self) -> Access:
        """The access keys this rule sets."""
        return Access.model_validate(self.model_dump(exclude_unset=True, exclude={"glob"}))


def access_for(source: str, rules: list[AccessRule], given: Access | None) -> Access:
    """The access of one source: matching rules in order, then `given` over them.

    Example:
        >>> rules = [AccessRule(glob="**", tenant="acme"), AccessRule(glob="hr/*", groups=["hr"])]
        >>> access_for("hr/pay.md", rules, None).metadata()
        {'tenant': 'acme', 'groups': ['hr']}

    """
    result = Access()
    for rule in rules:
        if rule.matches(source):
            result = result.merged(rule.access())
    return result.merged(given) if given is not None else result


class User(BaseModel):
    """Who is asking: a tenant and the groups they belong to.

    Example:
        >>> User.parse({"tenant": "acme", "groups": ["hr"]}).groups
        ['hr']

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str | None = None
    """The user's tenant; null: sees only chunks without a tenant."""
    groups: list[str] = Field(default_factory=list)
    """The user's groups; empty: sees only chunks without groups."""

    _tenant = field_validator("tenant", mode="before")(classmethod(lambda cls, v: _tenant(v)))
    _groups = field_validator("groups", mode="before")(
        classmethod(lambda cls, v: _names(v, "groups")))

    @classmethod
    def parse(cls, value: User | Mapping[str, Any], *, where: str = "ragloom_user") -> User:
        """Validate a user mapping, raising `InvalidInput` naming the problem."""
        if isinstance(value, User):
            return value
        if not isinstance(value, Mapping):
            raise InvalidInput(f"{where} must be a mapping like {{'tenant': 'acme', 'groups':"
                               f" ['hr']}} (got {type(value).__name__})")
        try:
            return cls.model_validate(dict(value))
        except ValidationError as exc:
            raise InvalidInput(f"{where} is not a valid user: {_first(exc)}. Keys: tenant"
                               " (a string), groups (a list of strings)") from None


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error.get('msg')}" if where else str(error.get("msg"))


def visible(metadata: Mapping[str, Any], user: User) -> bool:
    """The access rule in Python (what `access_filter` asks Qdrant).

    Example:
        >>> visible({"groups": ["hr"]}, User(groups=["it"]))
        False

    """
    tenant = metadata.get("tenant")
    groups = metadata.get("groups") or []
    if isinstance(groups, str):
        groups = [groups]
    if tenant not in (None, "") and tenant != user.tenant:
        return False
    return not groups or bool(set(groups) & set(user.groups))


def access_filter(user: User, metadata_key: str = "metadata") -> models.Filter:
    """The access rule as a Qdrant filter on the payload's `metadata_key`.

    (no tenant OR tenant == user.tenant) AND (no groups OR groups ∩ user.groups).

    Example:
        >>> f = access_filter(User(tenant="acme", groups=["hr"]))
        >>> [len(c.should) for c in f.must]
        [2, 2]

    """
    from qdrant_client import models

    tenant_key, groups_key = f"{metadata_key}.tenant", f"{metadata_key}.groups"
    tenant: list[models.Condition] = [models.IsEmptyCondition(
        is_empty=models.PayloadField(key=tenant_key))]
    if user.tenant is not None:
        tenant.append(models.FieldCondition(key=tenant_key,
                                            match=models.MatchValue(value=user.tenant)))
    groups: list[models.Condition] = [models.IsEmptyCondition(
        is_empty=models.PayloadField(key=groups_key))]
    if user.groups:
        groups.append(models.FieldCondition(key=groups_key,
                                            match=models.MatchAny(any=list(user.groups))))
    return models.Filter(must=[models.Filter(should=tenant), models.Filter(should=groups)])


def rules_from_config(value: Any) -> list[AccessRule]:
    """Validate `ingest.access` entries (used by the config model)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError("ingest.access must be a list of {glob, tenant, groups,"
                          " classification} entries")
    return [AccessRule.model_validate(v) if not isinstance(v, AccessRule) else v for v in value]


def access_indexes(metadata_key: str = "metadata") -> list[tuple[str, Any]]:
    """Payload indexes for the access keys: keyword, the tenant key marked as the tenant.

    On a Qdrant server `is_tenant` stores each tenant's points together; Qdrant Edge
    takes the same flag; qdrant-client's local mode has no indexes. Light types
    (`ragloom._points`), like the two filters below: the ingest writes with them.

    Example:
        >>> [key for key, _ in access_indexes()]
        ['metadata.tenant', 'metadata.groups', 'metadata.classification']

    """
    return [(f"{metadata_key}.tenant", KeywordIndexParams(
                type=KeywordIndexType.KEYWORD, is_tenant=True)),
            (f"{metadata_key}.groups", PayloadSchemaType.KEYWORD),
            (f"{metadata_key}.classification", PayloadSchemaType.KEYWORD)]


def same_access(want: Access, metadata_key: str = "metadata") -> Filter:
    """A filter matching points whose stored access equals `want` exactly.

    Example:
        >>> len(same_access(Access(tenant="a")).must)
        3

    """
    def key(name: str) -> str:
        return f"{metadata_key}.{name}"

    must: list[Condition] = []
    must_not: list[Condition] = []
    for name, value in (("tenant", want.tenant), ("classification", want.classification)):
        must.append(FieldCondition(key=key(name), match=MatchValue(value=value))
                    if value is not None else
                    IsEmptyCondition(is_empty=PayloadField(key=key(name))))
    if want.groups:
        # Every wanted group stored, and no stored group outside them.
        must.append(Filter(must=[FieldCondition(
            key=key("groups"), match=MatchValue(value=g)) for g in want.groups]))
        must_not.append(FieldCondition(
            key=key("groups"), match=MatchExcept(except_=list(want.groups))))
    else:
        must.append(IsEmptyCondition(is_empty=PayloadField(key=key("groups"))))
    return Filter(must=must, must_not=must_not or None)


def any_access(metadata_key: str = "metadata") -> Filter:
    """A filter matching points that carry any access key."""
    return Filter(should=[
        Filter(must_not=[IsEmptyCondition(
            is_empty=PayloadField(key=f"{metadata_key}.{name}"))])
        for name in ACCESS_KEYS])
