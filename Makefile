# The two commands a newcomer needs: `make devnet` and `make test`.
PY ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: devnet test bench venv clean proto fuzz fuzz-consensus fuzz-contracts

$(STAMP): pyproject.toml
	@test -n "$(PY)" || { echo "need Python 3.11 or newer (python3.11 or python3)"; exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	@touch $(STAMP)

$(TSTAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(TSTAMP)

venv: $(STAMP)

devnet: $(STAMP)
	$(BIN)/esoc devnet --validators $${VALIDATORS:-4} --home $${HOME_DIR:-.devnet}

# The netns e2e test needs iproute2's `ip`; install it on a fresh Debian machine when root.
test: $(TSTAMP)
	@command -v ip >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get install -y -q iproute2 >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q iproute2 >/dev/null; }; \
	  else echo "note: no 'ip' (iproute2) and not root: tests/e2e/test_netns.py will skip"; fi; }
	@test -x /usr/bin/chromium || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } \
	  || echo "note: could not install chromium: tests/explorer/test_browser.py will skip"; \
	  else echo "note: no /usr/bin/chromium and not root: tests/explorer/test_browser.py will skip"; fi; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; } \
	  || echo "note: could not install PostgreSQL: the explorer's PostgreSQL tests will skip"; \
	  else echo "note: no PostgreSQL and not root: the explorer's PostgreSQL test will skip"; fi; }
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Long fuzzing budgets (the short ones run in `make test`).  FUZZ_SECONDS per atheris target.
fuzz: fuzz-consensus fuzz-contracts

fuzz-consensus: $(TSTAMP)
	-$(BIN)/python -m pip install -q atheris || echo "note: atheris did not install: hypothesis only"
	ESOC_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-5000} $(BIN)/python -m pytest -q tests/consensus/test_fuzz.py
	if $(BIN)/python -c "import atheris" 2>/dev/null; then \
	  $(BIN)/python -m consensus.fuzz engine --seconds $${FUZZ_SECONDS:-300} && \
	  $(BIN)/python -m consensus.fuzz decoders --seconds $${FUZZ_SECONDS:-300}; fi
	$(BIN)/python -m consensus.sim --scenario twins --scenarios $${TWINS_SCENARIOS:-10000}

# Contract fuzzing: grammar-generated contracts through the cold/warm harness (3.11 depths + 3.12).
fuzz-contracts: $(TSTAMP)
	ESOC_FUZZ_SEEDS=$${SEEDS:-1500} ESOC_FUZZ_FIRST=$${FIRST:-1000} $(BIN)/python -m pytest -q tests/contracts/test_coldwarm.py

bench: $(TSTAMP)
	@$(BIN)/python -m pip install -q -e '.[bench]' || echo "note: py-spy not installed: no validator cost budget"
	$(BIN)/python -m bench

proto: $(STAMP)
	$(BIN)/python -m pip install -q grpcio-tools
	$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. proto/esoc.proto

clean:
	rm -rf $(VENV) .devnet .pytest_cache
