"""Account addresses: 20 bytes, written as bech32m with the ``esc`` prefix.

An address is the first 20 bytes of the tagged BLAKE3 hash of the account's
Ed25519 public key.  Its human form is bech32m (BIP-350): lowercase, no
look-alike characters, and a 6-character BCH checksum that detects any error
of up to 4 characters, so a mistyped address is refused before any money
moves.  The bech32 package on PyPI implements only the 2017 variant, so the
few lines of BIP-350's reference code are reproduced here.
"""

from __future__ import annotations

from .crypto import tagged_hash

HRP = "esc"
ADDRESS_SIZE = 20
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3
_CHARSET_INDEX = {c: i for i, c in enumerate(_CHARSET)}


class AddressError(ValueError):
    """A malformed or mistyped address."""


_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _gen_xor(b: int) -> int:
    x = 0
    for i in range(5):
        if (b >> i) & 1:
            x ^= _GEN[i]
    return x


_GEN_TABLE = tuple(_gen_xor(b) for b in range(32))  # the generator terms of each 5-bit top, XORed once


def _polymod(values: list[int]) -> int:
    """BIP-350's checksum, one table lookup a character instead of five conditional XORs (the same value)."""
    t = _GEN_TABLE
    chk = 1
    for v in values:
        chk = ((chk & 0x1FFFFFF) << 5 ^ v) ^ t[chk >> 25]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def _convertbits(data: bytes | list[int], frombits: int, tobits: int, pad: bool) -> list[int] | None:
    acc = 0
    bits = 0
    ret: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if pad:
        if bits:
            ret.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return ret


def encode_address(raw: bytes) -> str:
    if len(raw) != ADDRESS_SIZE:
        raise AddressError(f"an address is {ADDRESS_SIZE} bytes")
    data = _convertbits(raw, 8, 5, True)
    assert data is not None
    values = _hrp_expand(HRP) + data
    polymod = _polymod(values + [0] * 6) ^ _BECH32M_CONST
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return HRP + "1" + "".join(_CHARSET[d] for d in data + checksum)


_DECODED: dict[str, bytes] = {}  # a pure function of the text: valid answers are remembered (bounded)
_DECODED_MAX = 100_000


def decode_address(text: str) -> bytes:
    """Parse a human address; raise :class:`AddressError` with the reason.

    The bech32m checksum costs ~100 interpreter steps per character; a law that
    moves money names the same few accounts again and again, so valid answers
    are kept in a bounded table (cleared when full)."""
    if type(text) is str:
        hit = _DECODED.get(text)
        if hit is not None:
            return hit
    raw = _decode_address(text)
    if len(_DECODED) >= _DECODED_MAX:
        _DECODED.clear()
    _DECODED[text] = raw
    return raw


def _decode_address(text: str) -> bytes:
    if not isinstance(text, str):
        raise AddressError("an address is a string")
    s = text.strip()
    if not s:
        raise AddressError("empty address")
    if any(ord(c) < 33 or ord(c) > 126 for c in s):
        raise AddressError("address has characters outside printable ASCII")
    if s.lower() != s and s.upper() != s:
        raise AddressError("address mixes upper and lower case")
    s = s.lower()
    pos = s.rfind("1")
    if pos < 1:
        raise AddressError("address has no '1' separator")
    hrp, rest = s[:pos], s[pos + 1 :]
    if hrp != HRP:
        raise AddressError(f"address must start with '{HRP}1', not '{hrp}1'")
    bad = [c for c in rest if c not in _CHARSET]
    if bad:
        raise AddressError(f"address has a character not used in addresses: {bad[0]!r}")
    if len(rest) < 7:
        raise AddressError("address too short")
    data = [_CHARSET_INDEX[c] for c in rest]  # (every character was checked to be in the charset)
    if _polymod(_hrp_expand(hrp) + data) != _BECH32M_CONST:
        raise AddressError("address checksum does not match (mistyped?)")
    raw = _convertbits(data[:-6], 5, 8, False)
    if raw is None or len(raw) != ADDRESS_SIZE:
        raise AddressError(f"address does not hold {ADDRESS_SIZE} bytes")
    return bytes(raw)


def address_of(pubkey: bytes) -> bytes:
    """The raw 20-byte address of an Ed25519 public key."""
    return tagged_hash("address", pubkey)[:ADDRESS_SIZE]


def parse_address(value: str | bytes) -> bytes:
    """Accept raw bytes or a human address."""
    if isinstance(value, (bytes, bytearray)):
        if len(value) != ADDRESS_SIZE:
            raise AddressError(f"an address is {ADDRESS_SIZE} bytes")
        return bytes(value)
    return decode_address(value)
