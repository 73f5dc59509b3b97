"""The receipt events' bytes the chain makes as it makes the events are the codec's, byte for byte.

``Receipt.encode`` assembles a receipt from them (``with_event_bytes``)
instead of encoding the events again; the receipts root is consensus, so
each maker is held to ``codec.encode`` of the event it stands for, and a
receipt so assembled to ``Record.encode`` (the general path).
"""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from chain.contract_host import _call_event_bytes, _law_event_bytes, _transfer_event_bytes
from contracts.runtime.host import Event
from ledger.block import Receipt
from ledger.codec import Record, encode

LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.binary(max_size=20),
                   st.text(max_size=10))
VALUES = st.recursive(LEAVES, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                     st.dictionaries(st.text(max_size=5), kids, max_size=4)),
                      max_leaves=20)
NAMES = st.text(min_size=1, max_size=64)
ADDR = st.one_of(st.binary(min_size=20, max_size=20), st.binary(max_size=300))
_EDGES = [0, 1, 127, 128, 255, 256, 2**16 - 1, 2**16, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -1]
AMOUNT = st.one_of(st.integers(1, 2**63 - 1), st.integers(-(2**64), 2**65), st.sampled_from(_EDGES),
                   st.sampled_from(_EDGES).map(lambda n: n - 1), st.sampled_from(_EDGES).map(lambda n: n + 1))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(ADDR, ADDR, AMOUNT)
def test_transfer_event_bytes(f, t, amount):
    ev = {"type": "transfer", "from": f, "to": t, "amount": amount}
    got = _transfer_event_bytes(f, t, amount)
    if got is not None:
        assert got == encode(ev)
    else:
        assert len(f) > 255 or len(t) > 255 or not 0 <= amount < 2**64


def test_uint_is_msgpacks_form_at_every_edge():
    from chain.contract_host import _uint

    for n in _EDGES + [n + d for n in _EDGES for d in (-1, 1)]:
        if 0 <= n < 2**64:
            assert _uint(n) == encode(n), n


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(NAMES, NAMES, VALUES)
def test_law_event_bytes(contract, name, data):
    got = _law_event_bytes(Event(contract, name, data, encode(data)))
    assert got == encode({"type": "law", "contract": contract, "name": name, "data": data})
    assert _law_event_bytes(Event(contract, name, data)) is None  # no bytes from the runtime: not made here


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(NAMES, NAMES, st.integers(0, 2**64 - 1))
def test_call_event_bytes(contract, entry, version):
    for _ in range(2):  # made, then remembered
        assert _call_event_bytes(contract, entry, version) == encode(
            {"type": "call", "contract": contract, "entry": entry, "version": version})


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(ADDR, ADDR, st.integers(1, 2**63 - 1)), max_size=5),
       st.lists(st.tuples(NAMES, VALUES), max_size=4), st.integers(0, 2**16 - 1), st.integers(0, 2**64 - 1), VALUES,
       st.booleans())
def test_a_receipt_assembled_from_known_event_bytes_is_the_general_codecs(transfers, laws, code, gas, result, unknown):
    events = [{"type": "transfer", "from": f, "to": t, "amount": a} for f, t, a in transfers]
    known = [_transfer_event_bytes(f, t, a) for f, t, a in transfers]
    for name, data in laws:
        events.append({"type": "law", "contract": "tax", "name": name, "data": data})
        known.append(_law_event_bytes(Event("tax", name, data, encode(data))))
    if unknown:
        events.append({"type": "call", "x": [1, {"b": 2, "a": 3}]})
        known.append(None)
    r = Receipt(tx_hash=b"\x03" * 32, code=code, gas_used=gas, events=tuple(events), result=result)
    assert r.with_event_bytes(known) is r and r.event_bytes == tuple(known)
    assert r.encode() == Record.encode(r) == Receipt.decode(r.encode()).encode()
    assert Receipt(tx_hash=b"\x03" * 32, code=code, gas_used=gas, events=tuple(events), result=result).with_event_bytes(
        known[:-1] if known else [None]).event_bytes is None  # bytes that do not line up are not kept
