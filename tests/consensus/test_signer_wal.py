"""The signer and the WAL on real files (tmp_path)."""

from __future__ import annotations

import os

import pytest

from consensus.engine import Engine
from consensus.events import StartHeight, TimeoutFired, VoteReceived
from consensus.signer import DoubleSignError, FileStorage, Signer, SignerStateError
from consensus.types import PRECOMMIT, PREVOTE, PROPOSE, Proposal, ValidatorSet, Vote
from consensus.wal import WAL, EndHeight, OsFile, WalCorruptError, frame
from ledger.crypto import PrivateKey

CHAIN = "esoc-test"
KEY = PrivateKey.from_name("signer", salt="signer-tests")
VID = bytes(range(32))
VID2 = bytes(range(1, 33))


def vote(t=PREVOTE, h=1, r=0, vid=VID) -> Vote:
    return Vote(t, h, r, vid, KEY.public)


def test_signer_signs_and_persists_before_returning(tmp_path):
    path = tmp_path / "last_sign.state"
    s = Signer(KEY, CHAIN, FileStorage(path))
    sv = s.sign_vote(vote())
    assert sv.verify(CHAIN)
    assert path.exists() and not (tmp_path / "last_sign.state.tmp").exists()
    s2 = Signer(KEY, CHAIN, FileStorage(path))
    assert s2.last is not None and s2.last.hrs == (1, 0, PREVOTE) and s2.last.signature == sv.signature


def test_signer_refuses_conflicts_also_after_restart(tmp_path):
    path = tmp_path / "state"
    s = Signer(KEY, CHAIN, FileStorage(path))
    first = s.sign_vote(vote(PREVOTE, 2, 1, VID))
    with pytest.raises(DoubleSignError, match="conflicting"):
        s.sign_vote(vote(PREVOTE, 2, 1, VID2))
    with pytest.raises(DoubleSignError, match="below"):
        s.sign_vote(vote(PREVOTE, 2, 0, VID))
    with pytest.raises(DoubleSignError, match="below"):
        s.sign_vote(vote(PREVOTE, 1, 5, VID))
    # restart: same rules, same stored signature for the same message
    s = Signer(KEY, CHAIN, FileStorage(path))
    with pytest.raises(DoubleSignError):
        s.sign_vote(vote(PREVOTE, 2, 1, None))
    assert s.sign_vote(vote(PREVOTE, 2, 1, VID)).signature == first.signature
    # moving forward is fine: precommit, then the next round's proposal
    s.sign_vote(vote(PRECOMMIT, 2, 1, VID))
    p = s.sign_proposal(Proposal(2, 2, VID, 1, KEY.public))
    assert p.verify(CHAIN)
    with pytest.raises(DoubleSignError):
        s.sign_proposal(Proposal(2, 2, VID2, -1, KEY.public))


def test_signer_refuses_foreign_key_and_corrupt_state(tmp_path):
    path = tmp_path / "state"
    s = Signer(KEY, CHAIN, FileStorage(path))
    with pytest.raises(DoubleSignError):
        s.sign_vote(Vote(PREVOTE, 1, 0, VID, PrivateKey.from_name("other").public))
    s.sign_vote(vote())
    with pytest.raises(SignerStateError, match="another key or chain"):
        Signer(KEY, "other-chain", FileStorage(path))
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(SignerStateError, match="corrupt"):
        Signer(KEY, CHAIN, FileStorage(path))


def _valset():
    return ValidatorSet.from_powers([(KEY.public, 1)])


def test_wal_round_trip_and_end_height(tmp_path):
    path = tmp_path / "wal"
    w = WAL(OsFile(path))
    e1 = StartHeight(1, _valset())
    w.append(e1)
    w.end_height(1)
    e2 = StartHeight(2, _valset())
    e3 = TimeoutFired(2, 0, PROPOSE)
    w.append(e2)
    w.append(e3, sync=True)
    w2 = WAL(OsFile(path))
    assert w2.truncated_bytes == 0
    assert w2.last_end_height() == 1
    assert w2.events_to_replay() == [e2, e3]
    w2.checkpoint()
    w3 = WAL(OsFile(path))
    assert w3.events_to_replay() == [e2, e3] and w3.last_end_height() == 1
    assert os.path.getsize(path) < len(frame(e1)) + len(frame(EndHeight(1))) + len(frame(e2)) + len(frame(e3))


def test_wal_end_height_written_after_the_next_height_began(tmp_path):
    """A pipelined node marks block 1 stored after it has started height 2 (node/consensus_driver.py):
    replay still holds every record of height 2, from its StartHeight, and none of height 1."""
    path = tmp_path / "wal"
    w = WAL(OsFile(path))
    e1, t1 = StartHeight(1, _valset()), TimeoutFired(1, 0, PROPOSE)
    e2, t2, t3 = StartHeight(2, _valset()), TimeoutFired(2, 0, PROPOSE), TimeoutFired(2, 1, PROPOSE)
    for e in (e1, t1, e2, t2):
        w.append(e)
    w.end_height(1)  # block 1 is on disk only now
    w.append(t3, sync=True)
    assert w.last_end_height() == 1 and w.events_to_replay() == [e2, t2, t3]
    w2 = WAL(OsFile(path))  # a crash here: the restarted node replays height 2 whole
    assert w2.last_end_height() == 1 and w2.events_to_replay() == [e2, t2, t3]
    w2.checkpoint()
    assert w2.events_to_replay() == [e2, t2, t3]
    w3 = WAL(OsFile(path))
    assert w3.last_end_height() == 1 and w3.events_to_replay() == [e2, t2, t3]
    w3.end_height(2)  # then the usual order again: replay starts after the marker
    w3.append(StartHeight(3, _valset()))
    assert [type(e).__name__ for e in WAL(OsFile(path)).events_to_replay()] == ["StartHeight"]
    assert WAL(OsFile(path)).last_end_height() == 2


@pytest.mark.parametrize("cut", [1, 5, 11, 12, 20, -1])
def test_wal_torn_tail_is_truncated(tmp_path, cut):
    path = tmp_path / "wal"
    w = WAL(OsFile(path))
    for r in range(5):
        w.append(TimeoutFired(1, r, PROPOSE))
    size_before_last = os.path.getsize(path) - len(frame(TimeoutFired(1, 4, PROPOSE)))
    cut_at = size_before_last + (cut if cut > 0 else len(frame(TimeoutFired(1, 4, PROPOSE))) - 1)
    with open(path, "r+b") as f:
        f.truncate(cut_at)
    w2 = WAL(OsFile(path))
    assert [e.round for e in w2.events_to_replay()] == [0, 1, 2, 3]
    assert w2.truncated_bytes == cut_at - size_before_last
    assert os.path.getsize(path) == size_before_last
    w2.append(TimeoutFired(1, 9, PROPOSE))  # appending after repair works
    assert [e.round for e in WAL(OsFile(path)).events_to_replay()] == [0, 1, 2, 3, 9]


def test_wal_garbage_tail_is_truncated(tmp_path):
    path = tmp_path / "wal"
    w = WAL(OsFile(path))
    w.append(TimeoutFired(1, 0, PROPOSE))
    with open(path, "ab") as f:
        f.write(b"\x00" * 40)  # zeros from a torn page
    assert len(WAL(OsFile(path)).events_to_replay()) == 1


def test_wal_corruption_in_the_middle_refuses_to_start(tmp_path):
    path = tmp_path / "wal"
    w = WAL(OsFile(path))
    for r in range(5):
        w.append(TimeoutFired(1, r, PROPOSE))
    data = bytearray(path.read_bytes())
    data[len(frame(TimeoutFired(1, 0, PROPOSE))) + 14] ^= 0xFF  # inside the 2nd record
    path.write_bytes(bytes(data))
    with pytest.raises(WalCorruptError) as ei:
        WAL(OsFile(path))
    msg = str(ei.value)
    assert "\n" not in msg and "refusing to start" in msg and "offset" in msg


def test_engine_restart_from_wal_file_does_not_double_sign(tmp_path):
    """A validator logs, crashes, restarts from its WAL + signer state on disk."""
    keys = [KEY] + [PrivateKey.from_name(f"o{i}", salt="signer-tests") for i in range(3)]
    vset = ValidatorSet.from_powers([(k.public, 1) for k in keys])
    others = keys[1:]

    def proposer(h, r):
        return others[0].public

    def drive(engine, wal, signer, events):
        from consensus.events import SignVote, VoteSigned, WalAppend

        sent = []
        queue = []
        for ev in events:
            queue.extend(engine.step(ev))
            while queue:
                eff = queue.pop(0)
                if isinstance(eff, WalAppend):
                    wal.append(eff.event, eff.sync)
                elif isinstance(eff, SignVote):
                    try:
                        queue[0:0] = engine.step(VoteSigned(signer.sign_vote(eff.vote)))
                    except DoubleSignError:
                        sent.append("refused")
                elif type(eff).__name__ == "BroadcastVote":
                    sent.append(eff.vote)
        return sent

    wal = WAL(OsFile(tmp_path / "wal"))
    signer = Signer(KEY, CHAIN, FileStorage(tmp_path / "state"))
    eng = Engine(CHAIN, KEY.public, proposer_fn=proposer)
    sent = drive(eng, wal, signer, [StartHeight(1, vset), TimeoutFired(1, 0, PROPOSE)])
    assert [v.value_id for v in sent] == [None]
    # crash: a new process reads both files
    wal2 = WAL(OsFile(tmp_path / "wal"))
    signer2 = Signer(KEY, CHAIN, FileStorage(tmp_path / "state"))
    eng2 = Engine(CHAIN, KEY.public, proposer_fn=proposer)
    effects = eng2.restore(wal2.events_to_replay())
    assert eng2.hrs == eng.hrs
    rebroadcast = [e.vote for e in effects if type(e).__name__ == "BroadcastVote"]
    assert rebroadcast == sent
    # votes of others: the restarted engine precommits normally
    def pv(k, vid):
        v = Vote(PREVOTE, 1, 0, vid, k.public)
        return VoteReceived(v.with_signature(k.sign("vote", CHAIN, v.sign_bytes())))

    out = drive(eng2, wal2, signer2, [pv(k, None) for k in others])
    assert [(v.type, v.value_id) for v in out if v != "refused"] == [(PRECOMMIT, None)]
