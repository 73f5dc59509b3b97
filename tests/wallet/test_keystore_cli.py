"""Keystore through the CLI: export (encrypted), import, mnemonic round trip, change password."""

from __future__ import annotations

import json
import os

import pytest


@pytest.fixture
def ks(tmp_path, esoc_cli, fast_keystore):
    path = str(tmp_path / "ks")
    r = esoc_cli("--keystore", path, "wallet", "new", "zoe", "--json", ESOC_PASSWORD="first-pw")
    assert r.code == 0, r.err
    return path, json.loads(r.out)["address"]


def test_export_is_encrypted_and_imports_back(esoc_cli, ks, tmp_path):
    path, addr = ks
    out = str(tmp_path / "zoe.key")
    r = esoc_cli("--keystore", path, "wallet", "export", "zoe", "--out", out, ESOC_PASSWORD="first-pw",
                 ESOC_EXPORT_PASSWORD="export-pw")
    assert r.code == 0, r.err
    text = open(out).read()
    doc = json.loads(text)
    assert doc["format"] == "esoc-key-export/1" and doc["address"] == addr and "seed" not in text
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    # the export password is needed, not the key's
    r = esoc_cli("--keystore", path, "wallet", "import", "zoe2", "--file", out, ESOC_PASSWORD="new-pw-2",
                 ESOC_EXPORT_PASSWORD="first-pw")
    assert r.code == 1 and "wrong password" in r.err
    r = esoc_cli("--keystore", path, "wallet", "import", "zoe2", "--file", out, "--json", ESOC_PASSWORD="new-pw-2",
                 ESOC_EXPORT_PASSWORD="export-pw")
    assert r.code == 0 and json.loads(r.out)["address"] == addr
    # no overwriting an existing file
    r = esoc_cli("--keystore", path, "wallet", "export", "zoe", "--out", out, ESOC_PASSWORD="first-pw")
    assert r.code == 1 and "exists" in r.err


def test_mnemonic_round_trip(esoc_cli, ks, tmp_path, monkeypatch):
    import io

    path, addr = ks
    r = esoc_cli("--keystore", path, "wallet", "export", "zoe", "--mnemonic", ESOC_PASSWORD="first-pw")
    words = r.out.strip()
    assert r.code == 0 and len(words.split()) == 24 and "unencrypted" in r.err
    monkeypatch.setattr("sys.stdin", io.StringIO(words + "\n"))
    r = esoc_cli("--keystore", path, "wallet", "import", "zoe3", "--mnemonic", "--json", ESOC_PASSWORD="pw-three")
    assert r.code == 0 and json.loads(r.out)["address"] == addr
    bad = words.split()
    bad[3], bad[4] = bad[4], bad[3]
    monkeypatch.setattr("sys.stdin", io.StringIO(" ".join(bad)))
    r = esoc_cli("--keystore", path, "wallet", "import", "zoe4", "--mnemonic", ESOC_PASSWORD="pw-three")
    assert r.code == 1 and "checksum" in r.err


def test_change_password(esoc_cli, ks):
    path, addr = ks
    r = esoc_cli("--keystore", path, "wallet", "change-password", "zoe", ESOC_PASSWORD="first-pw",
                 ESOC_NEW_PASSWORD="second-pw")
    assert r.code == 0, r.err
    r = esoc_cli("--keystore", path, "wallet", "export", "zoe", "--raw-seed", ESOC_PASSWORD="first-pw")
    assert r.code == 1 and "wrong password" in r.err
    r = esoc_cli("--keystore", path, "wallet", "export", "zoe", "--raw-seed", "--json", ESOC_PASSWORD="second-pw")
    assert r.code == 0 and len(json.loads(r.out)["seed"]) == 64 and json.loads(r.out)["address"] == addr
