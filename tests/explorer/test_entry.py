"""The entry points the ``esoc`` command wires: :func:`explorer.app.serve_explorer`
in a trio nursery, and ``python -m explorer --help``."""

from __future__ import annotations

import json
import subprocess
import sys

import trio

from explorer.app import serve_explorer
from tests.e2e.harness import ROOT, free_port

from .conftest import http


def test_serve_explorer_starts_in_a_nursery_indexes_and_stops_on_cancel(chain, tmp_path):
    port = free_port()

    async def main():
        async with trio.open_nursery() as n:
            url = await n.start(serve_explorer, chain.grpc, f"sqlite:///{tmp_path}/ix.sqlite", port)
            with trio.fail_after(60):
                while True:
                    s, _, body = await trio.to_thread.run_sync(http, url + "/api/status")
                    st = json.loads(body)
                    if s == 200 and st["indexed_height"] >= chain.top:
                        break
                    await trio.sleep(0.1)
            n.cancel_scope.cancel()
        return url, st

    url, st = trio.run(main)
    assert url == f"http://127.0.0.1:{port}"
    assert st["chain_id"] and st["following"] is True and st["follow_error"] is None
    try:
        http(url + "/api/status", timeout=2)
        raise AssertionError("the server still answers after its scope was cancelled")
    except OSError:
        pass


def test_python_m_explorer_help():
    r = subprocess.run([sys.executable, "-m", "explorer", "--help"], capture_output=True, text=True, cwd=ROOT,
                       timeout=60)
    assert r.returncode == 0
    for opt in ("--node", "--db", "--port", "--host", "--no-follow"):
        assert opt in r.stdout


def test_python_m_explorer_says_why_it_cannot_start(tmp_path):
    import socket

    def run(*args):
        return subprocess.run([sys.executable, "-m", "explorer", "--no-follow", *args], capture_output=True, text=True,
                              cwd=ROOT, timeout=60, stdin=subprocess.DEVNULL)

    r = run("--db", "postgresql://reader:s3cret@127.0.0.1:1/none")
    assert r.returncode == 2 and "cannot open the index postgresql://reader:***@127.0.0.1:1/none" in r.stdout
    assert "s3cret" not in r.stdout + r.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = run("--db", f"sqlite:///{tmp_path}/ix.sqlite", "--port", str(s.getsockname()[1]))
    assert r.returncode == 2 and "Address already in use" in r.stdout, r.stdout + r.stderr
