"""This machine's own limits, measured in the same run as every figure."""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import time

from ledger.crypto import PrivateKey, signing_hash, verify_raw


def _verify_loop(seconds: float) -> tuple[int, float]:
    k = PrivateKey.from_name("bench")
    msg = signing_hash("tx", "bench", b"x" * 150)
    sig = k.sign_raw(msg)
    pub = k.public
    n = 0
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        for _ in range(200):
            verify_raw(pub, msg, sig)
        n += 200
    return n, time.perf_counter() - start


def ed25519_verify_rate(seconds: float = 2.0, procs: int | None = None) -> float:
    """Raw Ed25519 verifications per second on ``procs`` cores (default: all)."""
    procs = procs or os.cpu_count() or 1
    if procs == 1:
        n, dt = _verify_loop(seconds)
        return n / dt
    ctx = mp.get_context("spawn")
    with ctx.Pool(procs) as pool:
        pool.map(_verify_loop, [0.05] * procs)  # workers imported and warm
        results = pool.map(_verify_loop, [seconds] * procs, chunksize=1)
    return sum(n / dt for n, dt in results)


def describe() -> str:
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()} {platform.machine()}"
