"""The randomness beacon: a verifiable random function of the proposer, chained per block.

Theory of operation
-------------------
A lottery is fair only if nobody can choose or know its seed before the
draw.  The old beacon -- the hash of the commit for block ``h`` carried in
block ``h + 1`` -- left choices: the proposer of ``h + 1`` picks which of the
precommits it received go into the commit (with n = 4, up to five subsets),
and every signer can re-sign its precommit with another nonce (an Ed25519
signature is valid but not *unique*), so the hash could be ground.

The beacon here leaves the proposer one choice only: to publish its block or
not.  Two rules:

1. **A unique value per (key, input).**  :func:`prove` is an ECVRF on
   edwards25519 (the structure of RFC 9381's ECVRF-EDWARDS25519-SHA512, with
   libsodium's Elligator-2 map as the hash to the curve): ``Gamma = x * H(alpha)``
   with a Chaum-Pedersen proof that ``log_H(Gamma) = log_B(Y)``.  For a
   public key ``Y`` and an input ``alpha`` exactly one ``Gamma`` verifies,
   so the output ``hash(Gamma)`` is fixed by the key and the input: no
   nonce, no subset, nothing to grind.  The key is the validator's Ed25519
   key (its secret scalar), so no new key is registered.
2. **A chain of outputs.**  Block ``H`` carries the proof of its proposer
   over ``alpha_H = [chain_id, H, R_{H-1}]`` and the chain's randomness
   becomes ``R_H = tagged_hash("beacon", R_{H-1} || output_H)``
   (:func:`next_randomness`); ``R_0`` is fixed by the chain id.  Because
   ``alpha_H`` names ``R_{H-1}``, nobody knows ``R_H`` before block ``H - 1``
   is decided, and then only the proposer of ``H`` does, until it proposes.

Residual bias (docs/security.md, "Consensus"): the proposer of block ``H``
learns ``R_H`` first and may withhold its block; the height is then decided
in a later round with another proposer's output.  That is one bit of
choice per Byzantine proposer in a row at the end of the draw's window, and
it costs the withholder its proposal, a round of timeouts that everyone
sees, and the fees of the block.  The chain exposes ``R_H`` to laws as the
beacon of height ``H - 1`` (the same timing as before: the beacon of ``h``
exists once block ``h + 1`` is executed).

Cost: one proof (three scalar multiplications) per block built, one
verification (four) per block executed, 80 bytes per header.
"""

from __future__ import annotations

import hashlib

import nacl.bindings as sodium

from ledger.codec import encode
from ledger.crypto import PrivateKey, tagged_hash

PROOF_SIZE = 80  # Gamma (32) || c (16) || s (32)
_SUITE = b"esoc-ecvrf-ed25519-sha512-elligator2"
_L = 2**252 + 27742317777372353535851937790883648493  # the order of the base point


class BeaconError(ValueError):
    """A beacon proof that does not verify."""


def _sha512(*parts: bytes) -> bytes:
    h = hashlib.sha512()
    for p in parts:
        h.update(p)
    return h.digest()


def _scalar(b: bytes) -> bytes:
    """Reduce up to 64 little-endian bytes modulo L (32 bytes)."""
    return sodium.crypto_core_ed25519_scalar_reduce(b.ljust(64, b"\x00"))


def _hash_to_curve(pubkey: bytes, alpha: bytes) -> bytes:
    return sodium.crypto_core_ed25519_from_uniform(_sha512(_SUITE, b"\x01", pubkey, alpha)[:32])


def _challenge(*points: bytes) -> bytes:
    return _sha512(_SUITE, b"\x02", *points)[:16]


def _secret(key: PrivateKey) -> tuple[bytes, bytes]:
    """The Ed25519 secret scalar (reduced) and the nonce prefix of ``key``."""
    seed = bytes(key._sk)  # the 32-byte seed
    h = bytearray(_sha512(seed))
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return _scalar(bytes(h[:32])), bytes(h[32:])


def beacon_input(chain_id: str, height: int, prev: bytes) -> bytes:
    """``alpha_H``: what the proposer of block ``height`` proves over."""
    return encode(["esoc beacon", chain_id, height, prev])


def genesis_randomness(chain_id: str) -> bytes:
    """``R_0``."""
    return tagged_hash("beacon genesis", chain_id.encode())


def prove(key: PrivateKey, alpha: bytes) -> bytes:
    """The proof (80 bytes) of ``key`` over ``alpha``; deterministic."""
    x, prefix = _secret(key)
    y = key.public
    hp = _hash_to_curve(y, alpha)
    gamma = sodium.crypto_scalarmult_ed25519_noclamp(x, hp)
    k = _scalar(_sha512(prefix, hp))
    c = _challenge(hp, gamma, sodium.crypto_scalarmult_ed25519_base_noclamp(k),
                   sodium.crypto_scalarmult_ed25519_noclamp(k, hp))
    s = sodium.crypto_core_ed25519_scalar_add(k, sodium.crypto_core_ed25519_scalar_mul(_scalar(c), x))
    return gamma + c + s


def verify(pubkey: bytes, alpha: bytes, proof: bytes) -> bytes:
    """The output (32 bytes) of a valid proof; raises :class:`BeaconError` otherwise."""
    if len(proof) != PROOF_SIZE or len(pubkey) != 32:
        raise BeaconError("beacon proof or key has the wrong size")
    gamma, c, s = proof[:32], proof[32:48], proof[48:]
    if int.from_bytes(s, "little") >= _L:
        raise BeaconError("beacon proof scalar is not canonical")
    if not (sodium.crypto_core_ed25519_is_valid_point(gamma) and sodium.crypto_core_ed25519_is_valid_point(pubkey)):
        raise BeaconError("beacon proof point or key is not a valid curve point")
    hp = _hash_to_curve(pubkey, alpha)
    cs = _scalar(c)
    try:
        u = sodium.crypto_core_ed25519_sub(sodium.crypto_scalarmult_ed25519_base_noclamp(s),
                                           sodium.crypto_scalarmult_ed25519_noclamp(cs, pubkey))
        v = sodium.crypto_core_ed25519_sub(sodium.crypto_scalarmult_ed25519_noclamp(s, hp),
                                           sodium.crypto_scalarmult_ed25519_noclamp(cs, gamma))
    except Exception as e:  # libsodium refuses an identity result (a forged proof)  # noqa: BLE001
        raise BeaconError(f"beacon proof does not verify ({type(e).__name__})") from None
    if _challenge(hp, gamma, u, v) != c:
        raise BeaconError("beacon proof does not verify")
    return output(gamma)


def output(gamma: bytes) -> bytes:
    return tagged_hash("beacon output", gamma)


def next_randomness(prev: bytes, out: bytes) -> bytes:
    """``R_H`` from ``R_{H-1}`` and the output of block ``H``'s proof."""
    return tagged_hash("beacon", prev + out)
