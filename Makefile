# Two commands a newcomer needs: `make run` and `make test`. Both set up first (idempotent).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp

.PHONY: setup run test clean bench-redis test-deps

setup: $(STAMP) node_modules/.package-lock.json

# Reinstall Python packages only when the pinned requirements change.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# npm ci installs exactly what package-lock.json pins (the browser client and the tests' Node client).
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

run: setup
	$(BIN)/python run.py

test: setup test-deps bench/node/node_modules/.package-lock.json
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The tests also start their own redis-server and drive Debian's chromium: install them when
# missing (as root with apt-get), or say what to install.
TEST_DEBS := $(if $(shell command -v redis-server),,redis-server) $(if $(shell command -v chromium),,chromium) \
             $(if $(shell command -v pg_ctlcluster),,postgresql)
test-deps:
ifneq ($(strip $(TEST_DEBS)),)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_DEBS); \
	else echo "The tests need: $(TEST_DEBS) (e.g. sudo apt-get install $(TEST_DEBS))"; exit 1; fi
endif
	@$(MAKE) --no-print-directory postgres

# The archive's tests use the PostgreSQL on 127.0.0.1:5432 (each creates and drops its own
# database): start Debian's cluster when it is not running.
.PHONY: postgres
postgres:
	@if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | sort -V | tail -1) main start && \
		for i in $$(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done; \
	fi

clean:
	rm -rf $(VENV) node_modules .pytest_cache test-output

# Loss and resume time across Redis outages, this backplane next to python-socketio's AsyncRedisManager.
bench-redis: setup
	$(BIN)/python -m bench.redis_outage --outage 5 --outage 30

# Side-by-side benchmark against the tutorial's Node server (bench/README.md), e.g.
# `make bench BENCH_ARGS=--quick` or `make bench BENCH_ARGS="--only python --scenario fanout"`.
.PHONY: bench
bench: setup bench/node/node_modules/.package-lock.json
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The Node reference server and the load generator (exact versions from bench/node/package-lock.json);
# the wire-conformance tests (tests/core/sio/) measure the same assertions against it.
bench/node/node_modules/.package-lock.json: bench/node/package.json bench/node/package-lock.json
	cd bench/node && npm ci --no-audit --no-fund --loglevel=error
