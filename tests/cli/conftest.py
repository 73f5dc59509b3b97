import os

import pytest

from cli.main import cli
from cli.output import run


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def esoc(capsys, monkeypatch, tmp_path):
    """Run ``esoc ARGS`` in-process (the real click group and error rules); no env leaks in."""
    for var in ("ESOC_NODE", "ESOC_KEYSTORE", "ESOC_PASSWORD", "ESOC_TLS_CA", "ESOC_DEBUG", "ESOC_NEW_PASSWORD",
                "ESOC_EXPORT_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no .devnet/keystore here

    def call(*args, **env):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        capsys.readouterr()
        code = run(cli, list(args))
        out = capsys.readouterr()
        for k in env:
            monkeypatch.delenv(k, raising=False)
        return Result(code, out.out, out.err)

    return call


@pytest.fixture
def fast_keystore(monkeypatch):
    """Argon2id at its minimum for tests (the keystore's own parameters are unchanged)."""
    import nacl.pwhash

    from wallet import keystore

    orig = keystore.Keystore.__init__

    def init(self, path, *, ops=None, mem=None):
        orig(self, path, ops=nacl.pwhash.argon2id.OPSLIMIT_MIN, mem=nacl.pwhash.argon2id.MEMLIMIT_MIN)

    monkeypatch.setattr(keystore.Keystore, "__init__", init)
