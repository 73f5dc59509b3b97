"""The registry's roles and the index of their holders.

``("role_holders", role)`` holds the sorted addresses holding ``role``; it
lets laws learn role holders from the registry (``ctx.role_holders(role)``)
instead of a manual set-up step.  Genesis builds it; every change of a role
(a congress decision, a deregistration, ``set_role`` on a chain without a
congress) goes through :func:`apply_role` or :func:`index_role`.
"""

from __future__ import annotations

import dataclasses

from ledger.tx import ROLES


class RoleError(ValueError):
    pass


def role_holders(state, role: str) -> list[bytes]:
    v = state.get_value(("role_holders", role))
    return list(v) if v else []


def index_role(state, account: bytes, role: str, holds: bool) -> None:
    holders = set(role_holders(state, role))
    if holds:
        holders.add(account)
    else:
        holders.discard(account)
    if holders:
        state.put_value(("role_holders", role), sorted(holders))
    else:
        state.delete(("role_holders", role))


def apply_role(state, account: bytes, role: str, grant: bool) -> None:
    """Grant or revoke ``role`` on a registered account, keeping the index."""
    if role not in ROLES:
        raise RoleError(f"unknown role {role!r}")
    acct = state.account(account)
    if not acct.registered:
        raise RoleError("the account is not registered")
    roles = set(acct.roles)
    if grant:
        roles.add(role)
    else:
        roles.discard(role)
    state.set_account(account, dataclasses.replace(acct, roles=tuple(sorted(roles))))
    index_role(state, account, role, grant)


def index_genesis_roles(state, accounts) -> None:
    by_role: dict[str, list[bytes]] = {}
    for a in accounts:
        for r in a.roles:
            by_role.setdefault(r, []).append(a.address)
    for r in sorted(by_role):
        state.put_value(("role_holders", r), sorted(by_role[r]))


