"""Checking what a node says, as a light client does.

An account (or any state value) comes with a proof against a state root.
:func:`verify_account` checks, with nothing but ``ledger``:

1. the proof: the value (or its absence) under the state root;
2. that state root is the one in the header of that height;
3. the header is signed: the commit for that block carries precommits of
   more than 2/3 of the voting power of the validator set whose hash the
   header names.

What it does not do yet: anchor that validator set to the genesis set by
following every header's ``next_validators_hash`` (a full light client,
planned with the wallet).  Until then a node that invents a whole validator
set with its own keys is caught only by comparing ``validators_hash`` with
a set you trust (``esoc status`` on another node, or genesis).
"""

from __future__ import annotations

from ledger.address import decode_address, encode_address
from ledger.block import Block, Commit, InvalidCommit, validator_set_hash, verify_commit_powers
from ledger.smt import Proof, verify_proof
from ledger.state import acct_path, key_hash, path_bytes, value_hash


class LightCheckError(Exception):
    pass


def verify_account(client, address: str, height: int = 0) -> dict:
    """Fetch an account with its proof and check it down to the signed header."""
    addr = decode_address(address)
    r = client.account(encode_address(addr), height=height, prove=True)
    out = {"height": r.height, "state_root": r.state_root.hex(), "proof_valid": False, "header_matches": False,
           "header_signed": False, "signed_power": None}
    proof = Proof.decode(r.proof)
    out["proof_valid"] = verify_proof(r.state_root, key_hash(path_bytes(acct_path(addr))),
                                      value_hash(r.value) if r.exists else None, proof)
    if r.height == 0:
        return out  # genesis state: no header
    b = client.block(height=r.height)
    header = Block.decode(b.block).header
    out["header_matches"] = header.state_root == r.state_root
    commit = Commit.decode(b.commit) if b.commit else None
    if commit is None:
        # the latest block's commit travels in the next block
        try:
            nxt = Block.decode(client.block(height=r.height + 1).block)
            commit = nxt.last_commit
        except Exception:
            commit = None
    vals = client.validators(r.height)
    powers = {v.pubkey: v.power for v in vals.validators}
    if validator_set_hash(powers) != header.validators_hash:
        out["reason"] = "the validator set the node reports is not the one the header names"
        return out
    if commit is None:
        out["reason"] = "no commit for this block yet"
        return out
    try:
        verify_commit_powers(powers, header.chain_id, r.height, header.hash, commit)
    except InvalidCommit as e:
        out["reason"] = str(e)
        return out
    out["header_signed"] = True
    signed = sum(powers.get(s.validator, 0) for s in commit.signatures)
    out["signed_power"] = f"{signed}/{sum(powers.values())}"
    return out
