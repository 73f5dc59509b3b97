"""Property test: any sequence of inputs keeps the engine's own invariants.

Hypothesis feeds one engine arbitrary proposals, votes (including
equivocations), timeouts and validity answers from three other validators.
Whatever arrives, the engine must never ask the signer for two conflicting
messages (the signer would refuse: that is the implementation's safety),
never let (height, round, step) go back, keep lockedRound <= validRound,
decide at most once, and only with a commit that verifies.  Replaying its
WAL must rebuild the same state.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus.engine import Engine
from consensus.events import ProposalReceived, TimeoutFired, ValueValidity
from consensus.types import PRECOMMIT, PREVOTE, PROPOSE, verify_commit

from .harness import CHAIN, TIMEOUTS, Harness, block, vid

VALUES = [block("A"), block("B"), block("C")]
IDS = [vid("A"), vid("B"), vid("C"), None]
ROUNDS = 4  # pol rounds drawn from -1 .. ROUNDS - 2

proposal_st = st.tuples(st.just("proposal"), st.sampled_from([0, 0, 1, -1]), st.integers(0, 2), st.integers(-1, ROUNDS - 2))
# rounds of votes and timeouts are relative to the engine's round when fed,
# so that the interesting guards (current round, next rounds) are hit often
rel_round = st.sampled_from([0, 0, 0, 0, 1, 2, -1])
vote_st = st.tuples(st.just("vote"), st.integers(1, 3), st.sampled_from([PREVOTE, PRECOMMIT]), rel_round, st.integers(0, 3))
timeout_st = st.tuples(st.just("timeout"), rel_round, st.sampled_from([PROPOSE, PREVOTE, PRECOMMIT]))
validity_st = st.tuples(st.just("validity"), st.integers(0, 2), st.booleans())
event_st = st.one_of(proposal_st, vote_st, vote_st, vote_st, timeout_st, validity_st)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event_st, min_size=10, max_size=80), st.booleans())
def test_engine_invariants_under_arbitrary_inputs(events, auto_validate):
    h = Harness()
    h.auto_validate = auto_validate
    h.start()
    last = h.engine.hrs
    decisions = []
    for ev in events:
        kind = ev[0]
        if kind == "proposal":
            _, dr, v, vr = ev
            r = max(0, h.engine.round + dr)
            vr = vr if vr < r else -1
            out = h.feed(ProposalReceived(h.signed_proposal(r, VALUES[v], vr), VALUES[v]))
        elif kind == "vote":
            _, who, t, dr, v = ev
            out = h.vote(who, t, max(0, h.engine.round + dr), IDS[v])
        elif kind == "timeout":
            out = h.feed(TimeoutFired(1, max(0, h.engine.round + ev[1]), ev[2]))
        else:
            out = h.feed(ValueValidity(1, IDS[ev[1]], ev[2]))
        decisions += h.decisions(out)
        e = h.engine
        assert e.hrs >= last
        last = e.hrs
        assert e.locked_round <= e.valid_round
        if e.locked_round >= 0:
            assert e.valid_value is not None
    assert h.refused == 0, "the engine asked for a conflicting signature"
    assert len(decisions) <= 1
    for d in decisions:
        verify_commit(h.valset, CHAIN, 1, d.value_id, d.commit)
    # own messages: at most one per (round, type)
    seen = {}
    for v in h.votes_sent(h.log):
        assert seen.setdefault((v.round, v.type), v.value_id) == v.value_id
    # the WAL rebuilds the same state
    fresh = Engine(CHAIN, h.pk(0), TIMEOUTS, proposer_fn=h.proposer)
    fresh.restore(list(h.wal))
    assert fresh.hrs == h.engine.hrs
    assert (fresh.locked_value, fresh.locked_round, fresh.valid_value, fresh.valid_round) == (
        h.engine.locked_value,
        h.engine.locked_round,
        h.engine.valid_value,
        h.engine.valid_round,
    )
