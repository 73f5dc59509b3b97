"""Same calls, same results, gas and state: across hash seeds and Python versions.

``xcheck.py`` runs the attack corpus and a sequence of law calls and prints
everything observable as JSON.  We run it in fresh processes with different
``PYTHONHASHSEED`` values, environment noise (locale, TZ) and a deeper host
stack, and under Python 3.12, and require byte-identical output.

Python 3.12 needs msgpack and blake3; the test installs them once with pip
into a cache directory (``pip install --target``), and skips with the reason
printed if the interpreter or the packages are unavailable.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "contracts" / "xcheck.py"
PY312 = pathlib.Path.home() / ".pyenv/versions/3.12.1/bin/python3.12"


def _run(python: str, env_extra: dict[str, str], pythonpath: list[str] | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(env_extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + (pythonpath or []))
    proc = subprocess.run([python, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def baseline() -> str:
    return _run(sys.executable, {"PYTHONHASHSEED": "0"})


@pytest.mark.parametrize(
    "env",
    [
        {"PYTHONHASHSEED": "1"},
        {"PYTHONHASHSEED": "4242", "LC_ALL": "C", "TZ": "Pacific/Chatham"},
        {"PYTHONHASHSEED": "random", "LANG": "tr_TR.UTF-8", "TZ": "America/St_Johns"},
    ],
    ids=["seed1", "seed4242-C-locale", "random-seed-tr"],
)
def test_same_output_under_other_hash_seeds(baseline, env):
    assert _run(sys.executable, env) == baseline


def test_output_is_substantial(baseline):
    import json

    data = json.loads(baseline)
    assert len(data["laws"]) >= 50
    assert sum(1 for row in data["laws"] if row[2] == 0) >= 40
    assert len(data["corpus"]) >= 60
    assert data["host"]["store"], "the scenario must write state"


def _py312_deps() -> str | None:
    """A directory with msgpack and blake3 for 3.12, or None (reason printed)."""
    target = pathlib.Path(tempfile.gettempdir()) / "esoc-py312-deps"
    probe = [str(PY312), "-c", "import msgpack, blake3"]
    env = dict(os.environ, PYTHONPATH=str(target))
    if subprocess.run(probe, env=env, capture_output=True).returncode == 0:
        return str(target)
    proc = subprocess.run(
        [str(PY312), "-m", "pip", "install", "-q", "--target", str(target), "msgpack>=1.0.5,<2", "blake3>=0.4,<2"],
        capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0 or subprocess.run(probe, env=env, capture_output=True).returncode != 0:
        print(f"cannot install msgpack/blake3 for Python 3.12: {proc.stderr[-500:]}")
        return None
    return str(target)


def test_same_output_on_python_312(baseline):
    if not PY312.exists():
        pytest.skip(f"Python 3.12 not found at {PY312}")
    deps = _py312_deps()
    if deps is None:
        pytest.skip("msgpack/blake3 not installable for Python 3.12 (see captured output)")
    out = _run(str(PY312), {"PYTHONHASHSEED": "7"}, [deps])
    if out != baseline:  # show where they differ
        import json

        a, b = json.loads(baseline), json.loads(out)
        for key in a:
            assert a[key] == b[key], f"3.11 and 3.12 differ in {key}"
    assert hashlib.sha256(out.encode()).hexdigest() == hashlib.sha256(baseline.encode()).hexdigest()


def test_same_output_with_deeper_host_stack(baseline):
    """Reachable depth must not depend on how deep the host already is."""
    code = (
        "import sys, runpy\n"
        "def deep(n):\n"
        "    if n == 0:\n"
        "        runpy.run_path(sys.argv[1], run_name='__main__')\n"
        "    else:\n"
        "        deep(n - 1)\n"
        "deep(600)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONHASHSEED="3", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == baseline


def test_interpreter_flags_that_change_results_are_fatal():
    """``-b`` would make bytes/str comparisons warn or raise on some nodes only."""
    code = (
        "from contracts.runtime import MemoryHost, SandboxBreach, compile_contract, execute\n"
        "try:\n"
        "    c = compile_contract('x', \"ENTRIES = ('f',)\\ndef f():\\n    return b'a' == 'a'\\n\")\n"
        "    execute(c, 'f', {}, MemoryHost(), 1000, read_only=True)\nexcept SandboxBreach:\n    print('breach')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-bb", "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "breach", proc.stderr[-1000:]
