"""Who is asking, per call: `config={"configurable": {"ragloom_user": {...}}}`.

Private module (after `_access`, before `retrievers`). A chain or retriever gets its
user from the call's `RunnableConfig` (LangChain passes `configurable` down to every
step), or from the `user=` it was built with. Both given and different is an error:
a bound user cannot be swapped per call. `require_user=True` turns a call without a
user into `IdentityRequired`; otherwise an anonymous call sees what it always saw.

Example:
    >>> resolve_user({"configurable": {"ragloom_user": {"tenant": "acme"}}}).tenant
    'acme'
    >>> resolve_user(None) is None
    True

"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from langchain_core.runnables import RunnableConfig

from ragloom._access import User
from ragloom.errors import IdentityRequired, InvalidInput

__all__ = ["USER_KEY", "resolve_user", "user_config", "user_from_config"]

USER_KEY = "ragloom_user"
"""The `configurable` key that carries the user of a call."""


def user_from_config(config: Mapping[str, Any] | None) -> User | None:
    """The user in a `RunnableConfig`, validated; None when there is none.

    Example:
        >>> user_from_config({"configurable": {"ragloom_user": {"groups": ["hr"]}}}).groups
        ['hr']

    """
    configurable = (config or {}).get("configurable") or {}
    value = configurable.get(USER_KEY)
    if value is None:
        return None
    return User.parse(value, where=f'config["configurable"]["{USER_KEY}"]')


def resolve_user(config: Mapping[str, Any] | None, bound: User | None = None, *,
                 require: bool = False, given: User | Mapping[str, Any] | None = None,
                 ) -> User | None:
    """The user of this call: `given`, else the config's, else `bound`.

    Raises:
        IdentityRequired: `require` and no user anywhere.
        InvalidInput: A malformed user, or one that differs from the bound user.

    Example:
        >>> resolve_user({}, User(tenant="acme")).tenant
        'acme'

    """
    user = User.parse(given) if given is not None else user_from_config(config)
    if bound is not None:
        if user is not None and user != bound:
            raise InvalidInput(
                "this chain was built for one user (user=...) and the call names another"
                f' in config["configurable"]["{USER_KEY}"]: build it without user= to pass'
                " the user per call")
        user = bound
    if user is None and require:
        raise IdentityRequired(
            "this chain requires a user (built with require_user=True) and the call names"
            f' none: pass config={{"configurable": {{"{USER_KEY}": {{"tenant": "acme",'
            ' "groups": ["hr"]}}}}, or build it with user={...}')
    return user


def user_config(config: Mapping[str, Any] | None, user: User | None) -> RunnableConfig:
    """`config` with `user` set as the call's user (for the steps it is passed to).

    Example:
        >>> user_config({}, User(tenant="a"))["configurable"]["ragloom_user"]
        {'tenant': 'a', 'groups': []}

    """
    out: dict[str, Any] = dict(config or {})
    if user is not None:
        out["configurable"] = {**(out.get("configurable") or {}), USER_KEY: user.model_dump()}
    return cast(RunnableConfig, out)
