# pasarela — two commands: `make serve` and `make test`. Both install what they need first.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install bytecode serve test test-fast lint typecheck bench system-deps clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock setup.py $(wildcard src/pasarela/*/*/*/*.c)
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --all-groups --compile-bytecode
	@touch $@

# Byte-compile our own sources too: where PYTHONDONTWRITEBYTECODE is set, every process would
# otherwise recompile everything it imports (seconds per CLI call and server start).
bytecode: install
	@$(BIN)/python -m compileall -q -j 0 src

## Start the gateway at http://127.0.0.1:8000 with the SQLite ledger and every simulator.
serve: bytecode
	$(BIN)/pasarela migrate
	$(BIN)/pasarela serve

## The whole suite, on SQLite and PostgreSQL, with a real browser, xmlsec1 and SMTP. Most tests wait on
## real servers over loopback, so four pytest-xdist workers fit two cores (6 min serial → about 3).
PYTEST_WORKERS ?= 4
test: system-deps bytecode
	$(BIN)/python -m pytest -q -ra -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-fast: bytecode
	$(BIN)/python -m pytest -q -x -m "not slow and not browser" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

## Debian packages the tests drive: chromium (Playwright), xmlsec1 (independent signature check), poppler-utils,
## and gcc for the C reader of CFDI fields.
system-deps:
	@bash scripts/system-deps.sh

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
