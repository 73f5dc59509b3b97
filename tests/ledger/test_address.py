"""bech32m ``esc`` addresses: round trip, and every typo is refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.address import (
    ADDRESS_SIZE,
    HRP,
    AddressError,
    address_of,
    decode_address,
    encode_address,
    parse_address,
)
from ledger.crypto import PrivateKey

FAST = settings(derandomize=True, deadline=None, max_examples=300, database=None)

# ---------------------------------------------------------------------------
# An independent bech32/bech32m encoder (BIP-173 / BIP-350 reference code),
# so that strings with other prefixes, lengths or checksums can be built.
# ---------------------------------------------------------------------------

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32 = 1
BECH32M = 0x2BC830A3


def ref_polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((top >> i) & 1) else 0
    return chk


def hrp_expand(hrp):
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def to5(data: bytes) -> list[int]:
    acc = bits = 0
    out = []
    for b in data:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def bech(hrp: str, data5: list[int], const: int = BECH32M) -> str:
    pm = ref_polymod(hrp_expand(hrp) + data5 + [0] * 6) ^ const
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in data5 + chk)


def ref_valid(s: str) -> bool:
    s = s.lower()
    pos = s.rfind("1")
    return ref_polymod(hrp_expand(s[:pos]) + [CHARSET.find(c) for c in s[pos + 1 :]]) == BECH32M


SAMPLES = [bytes(20), b"\xff" * 20, bytes(range(20)), address_of(PrivateKey.from_name("alice", salt="t").public)]


# ---------------------------------------------------------------------------


def test_bip350_vectors_checksum():
    # valid bech32m strings from BIP-350; the reference check agrees
    for s in ("A1LQFN3A", "a1lqfn3a", "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
              "split1checkupstagehandshakeupstreamerranterredcaperredlc445v", "?1v759aa"):
        assert ref_valid(s), s


def test_encoding_matches_reference_encoder():
    for raw in SAMPLES:
        assert encode_address(raw) == bech(HRP, to5(raw))


@FAST
@given(st.binary(min_size=ADDRESS_SIZE, max_size=ADDRESS_SIZE))
def test_round_trip(raw):
    s = encode_address(raw)
    assert s.startswith("esc1") and s == s.lower() and len(s) == 4 + 32 + 6
    assert decode_address(s) == raw
    assert decode_address(s.upper()) == raw
    assert parse_address(s) == raw
    assert parse_address(raw) == raw


def test_upper_case_form_accepted():
    for raw in SAMPLES:
        assert decode_address(encode_address(raw).upper()) == raw


# every printable ASCII character, and a few others
ALPHABET = [chr(c) for c in range(32, 127)] + ["\u00e9", "\u0131", "\x00", "\n"]


@pytest.mark.parametrize("raw", SAMPLES, ids=lambda r: r.hex()[:8])
def test_every_single_substitution_refused(raw):
    good = encode_address(raw)
    refused = 0
    for i in range(len(good)):
        for c in ALPHABET:
            if c == good[i]:
                continue
            bad = good[:i] + c + good[i + 1 :]
            with pytest.raises(AddressError):
                decode_address(bad)
            refused += 1
    assert refused == len(good) * (len(ALPHABET) - 1)


@pytest.mark.parametrize("raw", SAMPLES, ids=lambda r: r.hex()[:8])
def test_every_substitution_of_the_upper_case_form_refused(raw):
    good = encode_address(raw).upper()
    for i in range(len(good)):
        for c in ALPHABET:
            if c == good[i]:
                continue
            bad = good[:i] + c + good[i + 1 :]
            with pytest.raises(AddressError):
                decode_address(bad)


@pytest.mark.parametrize("raw", SAMPLES, ids=lambda r: r.hex()[:8])
def test_every_adjacent_transposition_refused(raw):
    good = encode_address(raw)
    n = 0
    for i in range(len(good) - 1):
        if good[i] == good[i + 1]:
            continue
        bad = good[:i] + good[i + 1] + good[i] + good[i + 2 :]
        with pytest.raises(AddressError):
            decode_address(bad)
        n += 1
    assert n >= 5


@pytest.mark.parametrize("raw", SAMPLES[:2], ids=lambda r: r.hex()[:8])
def test_every_deletion_and_insertion_refused(raw):
    good = encode_address(raw)
    for i in range(len(good)):
        with pytest.raises(AddressError):
            decode_address(good[:i] + good[i + 1 :])
        for c in CHARSET:
            with pytest.raises(AddressError):
                decode_address(good[:i] + c + good[i:])


def test_wrong_prefix_refused_with_reason():
    raw = SAMPLES[3]
    for hrp in ("bc", "es", "escc", "tesc", "abc"):
        s = bech(hrp, to5(raw))
        assert ref_valid(s)  # a perfectly good bech32m string ...
        with pytest.raises(AddressError, match=rf"must start with 'esc1', not '{hrp}1'"):
            decode_address(s)  # ... of another kind


def test_bech32_2017_checksum_refused():
    s = bech(HRP, to5(SAMPLES[3]), const=BECH32)
    with pytest.raises(AddressError, match="checksum"):
        decode_address(s)


def test_mixed_case_refused_with_reason():
    good = encode_address(SAMPLES[3])
    letters = [i for i, c in enumerate(good) if c.isalpha()]
    assert len(letters) > 10
    for i in letters:
        # one letter flipped in the lower-case form, one in the upper-case form
        with pytest.raises(AddressError, match="mixes upper and lower case"):
            decode_address(good[:i] + good[i].upper() + good[i + 1 :])
        up = good.upper()
        with pytest.raises(AddressError, match="mixes upper and lower case"):
            decode_address(up[:i] + up[i].lower() + up[i + 1 :])


def test_bad_characters_refused_with_reason():
    good = encode_address(SAMPLES[0])  # esc1qqqq...
    for c in "bio":  # not in the bech32 character set
        with pytest.raises(AddressError, match=rf"character not used in addresses: '{c}'"):
            decode_address(good[:10] + c + good[11:])
    for c in ("\u00e9", "\x00", " ", "\t"):
        with pytest.raises(AddressError, match="printable ASCII"):
            decode_address(good[:10] + c + good[11:])


def test_wrong_length_refused_with_reason():
    raw = SAMPLES[3]
    for n in (19, 21, 32):
        s = bech(HRP, to5(bytes(range(n))))
        assert ref_valid(s)
        with pytest.raises(AddressError, match="does not hold 20 bytes"):
            decode_address(s)
    # 33 groups of 5 bits: 165 bits, not a whole number of bytes
    s = bech(HRP, to5(raw) + [0])
    with pytest.raises(AddressError, match="does not hold 20 bytes"):
        decode_address(s)
    # 31 groups with non-zero padding bits
    groups = to5(raw[:19])
    s = bech(HRP, groups[:-1] + [groups[-1] | 1])
    with pytest.raises(AddressError, match="does not hold 20 bytes"):
        decode_address(s)
    with pytest.raises(AddressError, match="too short"):
        decode_address("esc1qqqq")
    with pytest.raises(AddressError, match="too short"):
        decode_address(bech(HRP, []))
    with pytest.raises(AddressError, match="separator"):
        decode_address("escqqqqqqqqqqqq")
    with pytest.raises(AddressError, match="empty"):
        decode_address("")


def test_non_string_and_raw_of_wrong_size_refused():
    with pytest.raises(AddressError):
        decode_address(b"esc1")  # type: ignore[arg-type]
    with pytest.raises(AddressError):
        encode_address(bytes(19))
    with pytest.raises(AddressError):
        parse_address(bytes(21))


def test_address_of_is_20_bytes_of_the_key_hash():
    a = PrivateKey.from_name("a", salt="t").public
    b = PrivateKey.from_name("b", salt="t").public
    assert len(address_of(a)) == ADDRESS_SIZE
    assert address_of(a) != address_of(b)
    assert address_of(a) == address_of(a)


def _polymod_reference(values):
    """BIP-350's reference checksum loop, as ledger/address.py had it before the table."""
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk


def test_table_checksum_equals_the_reference_loop():
    import random

    from ledger.address import _polymod

    rnd = random.Random(7)
    for n in range(0, 90):
        for _ in range(20):
            vals = [rnd.randrange(32) for _ in range(n)]
            assert _polymod(vals) == _polymod_reference(vals)
    for n in range(1, 60):  # values out of the 5-bit range too (never passed, but the same arithmetic)
        vals = [rnd.randrange(1 << 12) for _ in range(n)]
        assert _polymod(vals) == _polymod_reference(vals)
