"""Fuzzing every consensus decoder and engine entry point (issue 14, "make the class findable").

The targets live in :mod:`consensus.fuzz`; here hypothesis drives them with a
short budget (``ESOC_FUZZ_EXAMPLES``, default 150 per target) so they run in
``make test``.  ``make fuzz`` raises the budget and adds atheris
(coverage-guided) runs of the same targets.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus.fuzz import KEYS, VALSET, fuzz_decoders, fuzz_engine
from consensus.types import PREVOTE, Vote
from consensus.wal import frame
from consensus.events import VoteReceived

EXAMPLES = int(os.environ.get("ESOC_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

_vote = Vote(PREVOTE, 1, 0, None, KEYS[1].public)
SEEDS = [_vote.encode(), VALSET.encode(), frame(VoteReceived(_vote)), b"", b"\x91\x00"]


@FUZZ
@given(st.one_of(st.binary(max_size=512), st.sampled_from(SEEDS).flatmap(
    lambda s: st.tuples(st.integers(0, max(0, len(s) - 1)), st.binary(max_size=8)).map(
        lambda t: s[: t[0]] + t[1] + s[t[0] + len(t[1]):]))))
def test_decoders_raise_only_their_own_errors(data):
    fuzz_decoders(data)


@FUZZ
@given(st.binary(min_size=1, max_size=600))
def test_engine_entry_points_stay_within_bounds(data):
    fuzz_engine(data)


@pytest.mark.parametrize("program", [bytes(range(256)) * 2, b"\x03\x03\x02" * 150, b"\x00\x04\x02\x06" * 120])
def test_engine_fuzz_fixed_programs(program):
    fuzz_engine(program)  # a few fixed programs: far rounds by the Byzantine key, floods, equivocations
