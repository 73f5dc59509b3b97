"""The host read ``ctx.role_holders(role)``: sorted, bounded, typed, and a
host answering nonsense ends the call as a SandboxBreach."""

from __future__ import annotations

import pytest

from contracts.runtime import ErrorCode, MemoryHost, SandboxBreach
from contracts.runtime.hostapi import MAX_ROLE_HOLDERS

from .helpers import run_body


def test_holders_are_sorted_and_only_of_that_role():
    host = MemoryHost(roles={"zed": {"treasury"}, "amy": {"treasury", "registrar"}, "bob": {"registrar"}})
    r = run_body("return [ctx.role_holders('treasury'), ctx.role_holders('registrar'), ctx.role_holders('king')]",
                 host=host)
    assert r.code == 0 and r.value == [["amy", "zed"], ["amy", "bob"], []]


def test_a_non_string_role_is_a_type_error():
    r = run_body("return ctx.role_holders(1)", host=MemoryHost())
    assert r.code == ErrorCode.TYPE_ERROR


def test_at_most_the_first_holders_are_returned():
    host = MemoryHost(roles={f"a{i:03d}": {"treasury"} for i in range(MAX_ROLE_HOLDERS + 10)})
    r = run_body("return len(ctx.role_holders('treasury'))", host=host)
    assert r.code == 0 and r.value == MAX_ROLE_HOLDERS


def test_a_host_returning_nonsense_breaches():
    class Bad(MemoryHost):
        def role_holders(self, role):
            return [b"not text"]

    with pytest.raises(SandboxBreach):
        run_body("return ctx.role_holders('treasury')", host=Bad())


def test_the_default_host_method_answers_nobody():
    from contracts.runtime.host import Host

    assert Host.role_holders(MemoryHost(), "treasury") == []
