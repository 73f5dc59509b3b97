"""An encrypted keystore: one JSON file per key, in a folder.

Each file holds the key's name, address and public key in the clear, and its
32-byte Ed25519 seed encrypted with XSalsa20-Poly1305 (libsodium secretbox)
under a key derived from the password by Argon2id with a random salt.  A
wrong password fails the MAC and is reported as such; nothing else is
revealed.  Files are written atomically (temp file, fsync, rename) with mode
0600.
"""

from __future__ import annotations

import json
import os
import re

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from ledger.address import address_of, decode_address, encode_address
from ledger.crypto import PrivateKey

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
VERSION = 1
EXPORT_FORMAT = "esoc-key-export/1"


def seed_to_mnemonic(seed: bytes) -> str:
    """The 32-byte seed as 24 BIP-39 English words (a human-checkable backup)."""
    from mnemonic import Mnemonic

    return Mnemonic("english").to_mnemonic(seed)


def mnemonic_to_key(words: str) -> PrivateKey:
    from mnemonic import Mnemonic

    m = Mnemonic("english")
    words = " ".join(words.split()).lower()
    if not m.check(words):
        raise KeystoreError("the words are not a valid 24-word BIP-39 backup (a word or the checksum is wrong)")
    seed = bytes(m.to_entropy(words))
    if len(seed) != 32:
        raise KeystoreError("an esoc key backup has 24 words")
    return PrivateKey(seed)


class KeystoreError(Exception):
    """Wrong password, unknown name, bad file: always with a one-line reason."""


class Keystore:
    def __init__(self, path: str, *, ops: int | None = None, mem: int | None = None):
        self.path = path
        self.ops = ops if ops is not None else nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
        self.mem = mem if mem is not None else nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE

    def _file(self, name: str) -> str:
        if not NAME_RE.match(name or ""):
            raise KeystoreError(f"bad key name {name!r}: use letters, digits, '_', '.', '-' (max 64)")
        return os.path.join(self.path, f"{name}.json")

    def exists(self, name: str) -> bool:
        return os.path.exists(self._file(name))

    def add(self, name: str, key: PrivateKey, password: str, *, replace: bool = False) -> dict:
        f = self._file(name)
        if os.path.exists(f) and not replace:
            raise KeystoreError(f"a key named {name!r} already exists in {self.path}")
        os.makedirs(self.path, exist_ok=True)
        doc = self.encrypt_doc(name, key, password)
        tmp = f + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, f)
        return self._public(doc)

    def encrypt_doc(self, name: str, key: PrivateKey, password: str) -> dict:
        """The key file's content: the seed under Argon2id + XSalsa20-Poly1305."""
        salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
        box = nacl.secret.SecretBox(self._derive(password, salt, self.ops, self.mem))
        ct = box.encrypt(key.seed)
        doc = {
            "version": VERSION,
            "name": name,
            "address": encode_address(address_of(key.public)),
            "pubkey": key.public.hex(),
            "kdf": {"alg": "argon2id", "salt": salt.hex(), "ops": self.ops, "mem": self.mem},
            "cipher": {"alg": "xsalsa20poly1305", "ciphertext": bytes(ct).hex()},
        }
        return doc

    @staticmethod
    def _derive(password: str, salt: bytes, ops: int, mem: int) -> bytes:
        return nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, password.encode("utf-8"), salt, opslimit=ops, memlimit=mem)

    def _load(self, name: str) -> dict:
        f = self._file(name)
        try:
            with open(f) as fh:
                doc = json.load(fh)
        except FileNotFoundError:
            raise KeystoreError(f"no key named {name!r} in {self.path}") from None
        except (OSError, ValueError) as e:
            raise KeystoreError(f"cannot read key file {f}: {e}") from None
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            raise KeystoreError(f"key file {f} has an unknown format")
        return doc

    def info(self, name: str) -> dict:
        return self._public(self._load(name))

    @staticmethod
    def _public(doc: dict) -> dict:
        return {"name": doc["name"], "address": doc["address"], "pubkey": doc["pubkey"]}

    def list(self) -> list[dict]:
        if not os.path.isdir(self.path):
            return []
        out = []
        for fn in sorted(os.listdir(self.path)):
            if fn.endswith(".json"):
                try:
                    out.append(self.info(fn[:-5]))
                except KeystoreError:
                    continue
        return out

    def unlock(self, name: str, password: str) -> PrivateKey:
        return self.decrypt_doc(self._load(name), password, name)

    @classmethod
    def decrypt_doc(cls, doc: dict, password: str, name: str = "") -> PrivateKey:
        """The key in a key file's content (or an export file's), given its password."""
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            raise KeystoreError(f"key file for {name!r} has an unknown format")
        name = name or str(doc.get("name"))
        try:
            kdf = doc["kdf"]
            salt = bytes.fromhex(kdf["salt"])
            ct = bytes.fromhex(doc["cipher"]["ciphertext"])
            key = cls._derive(password, salt, int(kdf["ops"]), int(kdf["mem"]))
        except (KeyError, ValueError, TypeError) as e:
            raise KeystoreError(f"key file for {name!r} is damaged: {e}") from None
        try:
            seed = nacl.secret.SecretBox(key).decrypt(ct)
        except nacl.exceptions.CryptoError:
            raise KeystoreError(f"wrong password for key {name!r}") from None
        pk = PrivateKey(seed)
        try:
            stored = decode_address(doc["address"])
        except (KeyError, ValueError):
            stored = None
        if stored != address_of(pk.public):
            raise KeystoreError(f"key file for {name!r} is inconsistent (address does not match the key)")
        return pk

    def change_password(self, name: str, old: str, new: str) -> dict:
        """Re-encrypt a key under a new password (a fresh salt); the address stays."""
        return self.add(name, self.unlock(name, old), new, replace=True)

    def export(self, name: str, password: str, export_password: str) -> dict:
        """An encrypted export document (the key file's format plus a marker), under ``export_password``."""
        key = self.unlock(name, password)
        return dict(self.encrypt_doc(name, key, export_password), format=EXPORT_FORMAT)

    def import_doc(self, doc: dict, export_password: str, password: str, name: str | None = None) -> dict:
        """Add the key of an export document (or a key file) under ``name`` and ``password``."""
        key = self.decrypt_doc(doc, export_password)
        return self.add(name or str(doc.get("name")), key, password)

    def resolve_address(self, name_or_address: str) -> bytes:
        """A key name in this keystore, or a bech32m address."""
        if NAME_RE.match(name_or_address) and self.exists(name_or_address):
            return decode_address(self.info(name_or_address)["address"])
        return decode_address(name_or_address)
