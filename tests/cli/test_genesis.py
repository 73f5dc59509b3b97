"""``esoc genesis``: a genesis built step by step, checked, and accepted by the node's own loader."""

from __future__ import annotations

import json

from ledger.genesis import Genesis
from contracts.runtime.registry import law_sources
from ledger.address import address_of, encode_address
from ledger.crypto import PrivateKey


def addr() -> str:
    return encode_address(address_of(PrivateKey.generate().public))


def test_genesis_from_scratch(esoc, tmp_path):
    g = str(tmp_path / "genesis.json")
    ok = lambda *a: esoc(*a, "--genesis", g)  # noqa: E731
    assert ok("genesis", "new", "--chain-id", "esoc-test", "--time-ms", "1700000000000").code == 0
    r = ok("genesis", "new", "--chain-id", "again")
    assert r.code == 1 and "exists" in r.err

    bank, registrar, treasury, alice = addr(), addr(), addr(), addr()
    assert ok("genesis", "add-account", bank, "--kind", "agency", "--roles", "central_bank").code == 0
    assert ok("genesis", "add-account", registrar, "--kind", "agency", "--roles", "registrar", "--balance", "100").code == 0
    assert ok("genesis", "add-account", treasury, "--kind", "agency", "--roles", "treasury", "--balance", "900").code == 0
    assert ok("genesis", "add-account", alice, "--kind", "citizen", "--balance", "1000", "--name", "alice").code == 0
    # clear errors: duplicate, unknown role, bad address
    r = ok("genesis", "add-account", alice, "--kind", "citizen")
    assert r.code == 1 and "already" in r.err
    r = ok("genesis", "add-account", addr(), "--kind", "citizen", "--roles", "emperor")
    assert r.code == 1 and "unknown role" in r.err and "emperor" in r.err
    r = ok("genesis", "add-account", "esc1nonsense", "--kind", "citizen")
    assert r.code == 1 and "valid address" in r.err

    v1, v2 = PrivateKey.generate().public.hex(), PrivateKey.generate().public.hex()
    assert ok("genesis", "add-validator", v1, "--power", "10", "--moniker", "val-a").code == 0
    assert ok("genesis", "add-validator", v2, "--power", "10", "--moniker", "val-b").code == 0
    r = ok("genesis", "add-validator", v1, "--power", "5", "--moniker", "val-c")
    assert r.code == 1 and "already" in r.err
    r = ok("genesis", "add-validator", "abcd", "--power", "5", "--moniker", "val-d")
    assert r.code == 1 and "64 hex" in r.err

    tax = tmp_path / "tax.py"
    tax.write_text(law_sources()["tax"])
    assert ok("genesis", "add-law", "tax", str(tax)).code == 0
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    r = ok("genesis", "add-law", "evil", str(bad))
    assert r.code == 1 and "outside the contract subset" in r.err and "line 1" in r.err

    r = esoc("genesis", "validate", g, "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    with open(g) as f:
        loaded = Genesis.from_json(f.read())  # the node's own loader accepts it
    assert data["genesis_hash"] == loaded.hash.hex() and data["supply"] == 2000 and data["laws"] == ["tax"]
    assert data["validators"] == 2 and data["total_power"] == 20
    r = esoc("genesis", "validate", g, "--expect-supply", "1999")
    assert r.code == 1 and "add up to 2000 fen" in r.err


def test_validate_names_what_is_missing(esoc, tmp_path):
    g = str(tmp_path / "g.json")
    esoc("genesis", "new", "--chain-id", "x", "--genesis", g)
    esoc("genesis", "add-validator", PrivateKey.generate().public.hex(), "--power", "1", "--moniker", "v", "--genesis", g)
    r = esoc("genesis", "validate", g)
    assert r.code == 1 and "role" in r.err and len(r.err.strip().splitlines()) == 1
