# aiwo — the two commands are `make demo` and `make test`; both set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-deps lint proto bench gpu-check clean interop-deps

install: $(STAMP)

# Reinstall only when the project's metadata changes (editable install: code edits need nothing).
$(STAMP): pyproject.toml
	@echo "installing aiwo (editable, with its dev tools: grpcio-tools, pytest, ruff, mypy) into $(VENV); about a minute on a first run"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/aiwo up --demo

test: install test-deps
	$(BIN)/python -m pytest -q

# Best effort: Debian's Prometheus for the dashboard test (tests/e2e/test_dashboard.py),
# installed when missing and this runs as root with apt-get; otherwise that test skips.
test-deps:
	@command -v prometheus >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's prometheus for the dashboard test"; \
	    apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && \
	      apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; } || \
	    echo "prometheus could not be installed: the dashboard test will skip"; \
	  else echo "prometheus is not installed: the dashboard test will skip"; fi; }

# Every top-level package, tests included (a new package is type-checked without editing this).
PACKAGES := $(patsubst %/__init__.py,%,$(wildcard */__init__.py))

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PACKAGES)

# Regenerate the wire types from proto/ (the output is committed; tests/test_proto_fresh.py checks it).
proto: install
	$(BIN)/python -m sdk.pb.generate

# The Node client the interop test drives (tests/interop): @grpc/grpc-js and
# @grpc/proto-loader, into .venv (nothing global). Without them, or without node, it skips.
NODE_INTEROP := $(VENV)/node-interop
interop-deps: install
	@echo "installing @grpc/grpc-js and @grpc/proto-loader into $(NODE_INTEROP) (npm)"
	mkdir -p $(NODE_INTEROP)
	npm install --silent --no-audit --no-fund --prefix $(NODE_INTEROP) @grpc/grpc-js@1 @grpc/proto-loader@0

gpu-check: install
	$(BIN)/python -m nodeagent.gpu.check

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
