"""The devnet's first congress: constituencies holding the demo citizens and
their seated delegates, written into the congress law's storage at genesis
(genesis param ``law_storage``), so a whole cycle runs right after
``make devnet``.

Three constituencies, one seat each (what Sainte-Lague gives 3 seats over
3, 3 and 2 members)::

    north: delegate-1, alice, bob
    south: delegate-2, carol, dan
    east:  delegate-3, erin
"""

from __future__ import annotations

from ledger.address import encode_address

CONSTITUENCIES = {
    "north": ("North", ("delegate-1", "alice", "bob")),
    "south": ("South", ("delegate-2", "carol", "dan")),
    "east": ("East", ("delegate-3", "erin")),
}
TERM_END = 1_000_000  # the first delegates' term ends at this height


def congress_seed(addresses: dict[str, bytes]) -> dict:
    """The congress storage seeded at genesis, given ``{demo name: address}``."""
    seed: dict = {
        "const": {cid: {"name": title, "members": len(ms)} for cid, (title, ms) in CONSTITUENCIES.items()},
        "next_id": 1,
        "delegates": {},
    }
    for cid, (_title, members) in CONSTITUENCIES.items():
        for m in members:
            seed["member:" + encode_address(addresses[m])] = [cid, 0]
        seed["delegates"][encode_address(addresses[members[0]])] = {"c": cid, "since": 0, "until": TERM_END}
    return seed
