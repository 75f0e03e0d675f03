# aiwo — the two commands are `make demo` and `make test`; both set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint proto bench gpu-check clean interop-deps

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

test: install
	$(BIN)/python -m pytest -q

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
