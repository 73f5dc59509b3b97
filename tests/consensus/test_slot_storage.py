"""The signer's two-slot storage: newest valid slot wins, a torn write falls back, rules survive restarts."""

from __future__ import annotations

import os

import pytest

from consensus.signer import DoubleSignError, FileStorage, Signer, SignerStateError
from consensus.slot_storage import SLOT, SlotStorage
from consensus.types import PRECOMMIT, PREVOTE, Vote
from ledger.crypto import PrivateKey

CHAIN = "esoc-test"
KEY = PrivateKey.from_name("slots", salt="slot-tests")
VID = bytes(range(32))


def test_round_trip_and_alternating_slots(tmp_path):
    p = tmp_path / "state.slots"
    s = SlotStorage(p)
    assert s.load() is None
    for i in range(5):
        s.save(b"state %d" % i)
        assert SlotStorage(p).load() == b"state %d" % i
    assert os.path.getsize(p) == 2 * SLOT  # fixed size: fdatasync suffices


def test_a_torn_newest_slot_falls_back_to_the_older_one(tmp_path):
    p = tmp_path / "state.slots"
    s = SlotStorage(p)
    s.save(b"old")  # seq 1 -> slot 1
    s.save(b"new")  # seq 2 -> slot 0
    with open(p, "r+b") as f:  # tear slot 0 (the newest) in its data
        f.seek(49)
        f.write(b"XX")
    assert SlotStorage(p).load() == b"old"
    with open(p, "r+b") as f:  # and slot 1 too: refuse, never guess
        f.seek(SLOT + 49)
        f.write(b"XX")
    with pytest.raises(SignerStateError):
        SlotStorage(p).load()


def test_sequence_continues_across_restarts_without_an_explicit_load(tmp_path):
    p = tmp_path / "state.slots"
    SlotStorage(p).save(b"a")
    SlotStorage(p).save(b"b")  # a fresh object reads the stored sequence first
    assert SlotStorage(p).load() == b"b"


def test_legacy_file_is_read_until_the_first_save(tmp_path):
    legacy = tmp_path / "priv_validator_state"
    FileStorage(legacy).save(b"legacy state")
    s = SlotStorage(tmp_path / "state.slots", legacy=legacy)
    assert s.load() == b"legacy state"
    s.save(b"slot state")
    assert SlotStorage(tmp_path / "state.slots", legacy=legacy).load() == b"slot state"


def test_signer_rules_hold_across_restarts_with_slots(tmp_path):
    p = tmp_path / "state.slots"
    s = Signer(KEY, CHAIN, SlotStorage(p))
    first = s.sign_vote(Vote(PREVOTE, 3, 0, VID, KEY.public))
    s = Signer(KEY, CHAIN, SlotStorage(p))
    with pytest.raises(DoubleSignError):
        s.sign_vote(Vote(PREVOTE, 3, 0, None, KEY.public))
    assert s.sign_vote(Vote(PREVOTE, 3, 0, VID, KEY.public)).signature == first.signature
    s.sign_vote(Vote(PRECOMMIT, 3, 0, VID, KEY.public))
    assert Signer(KEY, CHAIN, SlotStorage(p)).last.hrs == (3, 0, PRECOMMIT)


def test_slots_cost_fewer_syncs_than_replacing_a_file(tmp_path):
    """Not a timing assertion (the machine is shared): one fdatasync against three fsyncs, counted."""
    calls = {"fsync": 0, "fdatasync": 0}
    real_fsync, real_fdatasync = os.fsync, os.fdatasync

    def count(name, fn):
        def wrapped(fd):
            calls[name] += 1
            return fn(fd)
        return wrapped

    os.fsync, os.fdatasync = count("fsync", real_fsync), count("fdatasync", real_fdatasync)
    try:
        slots = SlotStorage(tmp_path / "s")
        slots.save(b"x")  # creation: preallocate and sync once
        base = dict(calls)
        for i in range(10):
            slots.save(b"x%d" % i)
        slot_calls = {k: calls[k] - base[k] for k in calls}
        base = dict(calls)
        fs = FileStorage(tmp_path / "f")
        for i in range(10):
            fs.save(b"x%d" % i)
        file_calls = {k: calls[k] - base[k] for k in calls}
    finally:
        os.fsync, os.fdatasync = real_fsync, real_fdatasync
    assert slot_calls == {"fsync": 0, "fdatasync": 10}
    assert file_calls["fsync"] == 20
