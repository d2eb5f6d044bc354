# calsync — the front door. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
# template.yaml uses Fn::ForEach (AWS::LanguageExtensions): aws-sam-cli >= 1.170 expands it with
# this flag (or SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS=1); samconfig.toml sets it too.
SAM_LX := --language-extensions

.PHONY: venv test lint unit integration e2e timetravel fuzz api-fuzz bench bench-analytics logbytes cost scale soak throughput run build deploy requirements event clean schemas lake-queries

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	@command -v uv >/dev/null || python3 -m pip install --quiet uv
	uv venv --quiet --allow-existing --python 3.13 $(VENV)
	uv pip install --quiet --python $(PY) --require-hashes -r requirements/dev.txt
	uv pip install --quiet --python $(PY) --no-deps -e .
	@touch $@

venv: $(VENV)/.installed

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint $(SAM_LX) --template template.yaml

test: lint
	$(BIN)/pytest

# One suite at a time (no lint): no AWS and no sockets / moto / the local stack over HTTP.
unit: venv
	$(BIN)/pytest tests/unit

integration: venv
	$(BIN)/pytest tests/integration

e2e: venv
	$(BIN)/pytest tests/e2e

# `make test`'s pytest suite with the clock 3 years ahead, then 1 year back (faketime, Debian's
# package; child processes too). The monotonic clock stays real, or socket timeouts hang; with it
# real, libfaketime 0.9.10 breaks Python's time.sleep (tools/timetravel/sitecustomize.py mends it).
TIMETRAVEL_SHIFTS ?= +1095d -365d
timetravel: venv
	@command -v faketime >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& apt-get install -y -qq faketime >/dev/null; } \
		|| { echo "make timetravel needs faketime: apt-get install faketime (Debian/Ubuntu)" >&2; exit 1; }
	@for shift in $(TIMETRAVEL_SHIFTS); do \
		echo "== pytest with the clock moved $$shift"; \
		PYTHONPATH="$(abspath tools/timetravel)$${PYTHONPATH:+:$$PYTHONPATH}" FAKETIME_DONT_FAKE_MONOTONIC=1 \
			faketime -f "$$shift" $(BIN)/pytest -q || exit 1; \
	done

# The receiver fuzz suite at depth (≥ 10,000 cases; `make test` runs a few hundred). Prints the count.
fuzz: venv
	CALSYNC_FUZZ_EXAMPLES=$${CALSYNC_FUZZ_EXAMPLES:-6000} $(BIN)/pytest tests/unit/test_receiver_fuzz.py

# schemathesis against the /v1 API of a local stack of its own: every operation of openapi/calsync-v1.yaml,
# SigV4-signed; prints operations, cases and failures (server errors, schema violations); every operation
# must be served (--require-all); exit 1 on any failure. API_FUZZ_EXAMPLES cases per operation, mode and connection. Not in `make test`.
API_FUZZ_EXAMPLES ?= 100
api-fuzz: venv
	$(PY) -m calsync_dev.api_fuzz --examples $(API_FUZZ_EXAMPLES) --require-all

bench: venv
	$(PY) -m calsync_dev.bench

# The metrics at scale: 1,000,000 synthetic bookings' lake records (Parquet), each metric's
# DuckDB time and the bytes Athena would scan (docs/analytics.md). Not part of `make test`.
bench-analytics: venv
	$(PY) -m calsync_dev.analytics.bench

logbytes: venv
	$(PY) -m calsync_dev.logbytes

# The fixture mix through the whole pipeline on moto: every AWS request counted, $ per 1M
# deliveries by service and the idle month at list prices (calsync_dev/cost/prices.py); the
# last line is one JSON object of every figure. No AWS account needed.
cost: venv
	$(PY) -m calsync_dev.cost

# The scheduled jobs' fan-out for N connections (default 10,000) over a simulated day: the real
# dispatch, worker, refresher, watchdog and rate budgets on in-memory ports and a fake Calendly, on a
# simulated clock; the last line is one JSON object (docs/scale.md). Not part of `make test`.
N ?= 10000
scale: venv
	$(PY) -m calsync_dev.scale --connections $(N)

# 10,000 signed deliveries (mixed kinds, duplicates, reordering) at <= SOAK_RATE/s against a
# local stack of its own; prints accepted/s, persisted/s, receiver p99, lost, double-applied
# (exit 1 unless both are 0). ~10 min (sent at SOAK_RATE; the local stack persists ~15/s); not part of `make test`.
SOAK_COUNT ?= 10000
SOAK_RATE ?= 20
soak: venv
	$(PY) -m calsync_dev.soak --count $(SOAK_COUNT) --rate $(SOAK_RATE) --max-minutes 30

# The local stack's throughput: `calsync load --count THROUGHPUT_COUNT --concurrency 32` against a stack
# of its own, then the emulator's AWS calls and CPU ms per delivery (figures independent of the machine's
# load) and the load average. ~2-8 min; not part of `make test`.
THROUGHPUT_COUNT ?= 2000
throughput: venv
	$(PY) -m calsync_dev.local.throughput --count $(THROUGHPUT_COUNT) --concurrency 32

run: venv
	$(BIN)/calsync local

build: venv
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/sam build $(SAM_LX)

# PARAMETER_OVERRIDES='Stage=dev ExistingOAuthAppSecretArn=...' replaces samconfig.toml's parameter_overrides for
# this deploy (calsync deploy-check prints it for a stage whose deleted stack kept its secrets: docs/operations.md).
deploy: build
	$(BIN)/sam deploy $(SAM_LX) $(if $(CONFIG_ENV),--config-env $(CONFIG_ENV),) $(if $(PARAMETER_OVERRIDES),--parameter-overrides '$(PARAMETER_OVERRIDES)',)

# Print a freshly signed API Gateway event: make event BODY=events/webhooks/invitee_created.json
event: venv
	@$(BIN)/calsync events render $(BODY) $(if $(KEY),--key $(KEY),)

# Regenerate the lifecycle events' JSON Schemas (schemas/lifecycle/) and their draft-4 copies in
# template.yaml's EventBridge schema registry (AWS::EventSchemas::Schema) from their models.
schemas: venv
	$(PY) -m calsync_dev.schemas

# Rewrite the lake's Athena named queries in template.yaml from calsync/analytics/sql/*.sql.
lake-queries: venv
	$(PY) -m calsync_dev.analytics.queries

# Regenerate the hash-pinned requirement files from pyproject.toml.
requirements:
	uv pip compile pyproject.toml --extra dev --extra sam --python-version 3.13 --generate-hashes --no-header --quiet -o requirements/dev.txt
	uv pip compile pyproject.toml --constraint requirements/dev.txt --python-version 3.13 --python-platform aarch64-manylinux_2_28 --generate-hashes --no-header --quiet -o layers/calsync/requirements.txt

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
