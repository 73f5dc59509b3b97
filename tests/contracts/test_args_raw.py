"""``Result.args_raw`` (what the chain's call log keeps) is the codec's encoding of the call's arguments."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from contracts.runtime.errors import ErrorCode
from ledger.codec import encode

from .helpers import run_source

LAW = '''\
ENTRIES = ("main",)


def main(a=None, b=None, c=None):
    return 0
'''

LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.binary(max_size=20),
                   st.text(max_size=10))
VALUES = st.recursive(LEAVES, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                     st.dictionaries(st.text(max_size=5), kids, max_size=4)),
                      max_leaves=20)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.dictionaries(st.sampled_from(["c", "a", "b"]), VALUES, max_size=3))
def test_args_raw_is_the_codecs_encoding_of_the_arguments(args):
    res = run_source(LAW, args=args)
    assert res.code == 0
    assert res.args_raw == encode(args)


def test_a_call_refused_before_its_arguments_are_copied_has_no_args_raw():
    res = run_source(LAW, args={"d": 1})
    assert res.code == ErrorCode.BAD_ARGS and res.args_raw is None
