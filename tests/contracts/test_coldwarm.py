"""Cold versus warm: the same calls give identical results whatever the runtime has cached,
however deep the host's stack is, and on Python 3.11 and 3.12.

``coldwarm.py`` runs the attack corpus, the law scenario of ``xcheck.py``,
the cross-contract recursion case of issue 15 and grammar-fuzzed programs,
first with nothing cached and then warm, and prints both.  Here we require
cold == warm inside each process, no ``SandboxBreach`` anywhere, and the
same output from fresh processes at host stack depths 0, 700 and 2500 and
under Python 3.12 (its msgpack/blake3 installed as in ``test_determinism``).

``ESOC_FUZZ_SEEDS`` sets how many fuzzed programs run (default 24, a few
seconds); ``make fuzz-contracts`` runs thousands.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from .test_determinism import PY312, _py312_deps

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "contracts" / "coldwarm.py"
SEEDS = int(os.environ.get("ESOC_FUZZ_SEEDS", "24"))
FIRST = int(os.environ.get("ESOC_FUZZ_FIRST", "0"))


def _run(python: str, depth: int, pythonpath: list[str] | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = str(depth % 97)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + (pythonpath or []))
    proc = subprocess.run([python, str(SCRIPT), "--depth", str(depth), "--seeds", str(SEEDS), "--first", str(FIRST)],
                          env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _breaches(obj) -> list:
    text = json.dumps(obj)
    return [i for i in range(len(text)) if text.startswith('"BREACH"', i)]


@pytest.fixture(scope="module")
def baseline() -> str:
    return _run(sys.executable, 0)


def test_cold_equals_warm_and_nothing_breaches(baseline):
    data = json.loads(baseline)
    assert data["cold"] == data["warm"]
    assert not _breaches(data), "a SandboxBreach in the cold/warm scenario"
    deep = data["cold"]["deep"]
    assert [row[1] for row in deep] == [0, 0, 0, 0, 3, 3, 3]  # n = 4 passes the 64-frame cap: RECURSION_LIMIT
    fuzz = data["cold"]["fuzz"]
    assert len(fuzz) == SEEDS
    assert sum(1 for f in fuzz if f[1] != "refused") >= SEEDS // 2  # most programs run


@pytest.mark.parametrize("depth", [700, 2500])
def test_same_output_at_other_host_stack_depths(baseline, depth):
    assert _run(sys.executable, depth) == baseline


def test_same_output_on_python_312(baseline):
    if not PY312.exists():
        pytest.skip(f"Python 3.12 not found at {PY312}")
    deps = _py312_deps()
    if deps is None:
        pytest.skip("msgpack/blake3 not installable for Python 3.12")
    out = _run(str(PY312), 0, [deps])
    if out != baseline:
        a, b = json.loads(baseline)["cold"], json.loads(out)["cold"]
        for key in a:
            assert a[key] == b[key], f"3.11 and 3.12 differ in {key}"
    assert out == baseline
    assert _run(str(PY312), 1500, [deps]) == baseline
