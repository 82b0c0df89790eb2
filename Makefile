# Operator and developer entry points. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= ../shared/data/tweet_sentiment_10K.csv
TOKENS_FILE ?= $(or $(API_TOKENS_FILE),instance/tokens.json)
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: help install browser hosts-tools certs client-cert token revoke migrate train evaluate score api-start jobs-worker test bench lint mutate first-token clean

# The names' column is as wide as the longest name, so a description never runs into its target.
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} \
	  {name[NR] = $$1; text[NR] = $$2; if (length($$1) > width) width = length($$1)} \
	  END {for (i = 1; i <= NR; i++) printf "  make %-*s  %s\n", width, name[i], text[i]}'

# Stamp files: reinstall only when a requirements file changes.
$(VENV)/.runtime: requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@

# sslyze pins an older cryptography than the API, so it gets a venv of its own.
SSLYZE_VENV := .venv-sslyze
$(SSLYZE_VENV)/.installed: requirements-sslyze.txt
	test -x $(SSLYZE_VENV)/bin/python || $(PYTHON) -m venv $(SSLYZE_VENV)
	$(SSLYZE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sslyze.txt
	touch $@

# The browser tests drive Debian's chromium by path (Playwright cannot download its own here).
browser:
	scripts/debian-package.sh chromium /usr/bin/chromium "the browser tests"

hosts-tools:
	scripts/debian-package.sh haproxy haproxy "the two-host tests' load balancer (tests/hosts)"
	scripts/debian-package.sh socat socat "the two-host tests' relay to Redis (tests/hosts)"

install: $(VENV)/.dev ## Create .venv with the pinned serving, training and test dependencies

certs: $(VENV)/.runtime ## Generate the local CA and server certificate in certs/ (FORCE=1 to replace)
	$(PY) -m api.ops.certs $(if $(FORCE),--force,)

client-cert: $(VENV)/.runtime ## Issue a client certificate for mutual TLS: make client-cert NAME=alice
	@test -n "$(NAME)" || { echo "usage: make client-cert NAME=<name>" >&2; exit 2; }
	$(PY) -m api.ops.certs --client "$(NAME)"

token: $(VENV)/.runtime ## Create a token: make token NAME=alice [ADMIN=1: sees every caller's history] [FORCE=1: replace]
	@test -n "$(NAME)" || { echo "usage: make token NAME=<name> [ADMIN=1] [FORCE=1]" >&2; exit 2; }
	@API_TOKENS_FILE=$(TOKENS_FILE) $(PY) -m api token create "$(NAME)" $(if $(filter 1,$(ADMIN)),--admin,) $(if $(filter 1,$(FORCE)),--force,)

revoke: $(VENV)/.runtime ## Revoke a token: make revoke NAME=alice (running workers drop it within 1 s)
	@test -n "$(NAME)" || { echo "usage: make revoke NAME=<name>" >&2; exit 2; }
	@API_TOKENS_FILE=$(TOKENS_FILE) $(PY) -m api token revoke "$(NAME)"

migrate: $(VENV)/.runtime ## Bring the history database (API_HISTORY_URL) to the newest schema
	$(PY) -m api history migrate

train: $(VENV)/.dev ## Train on the fixed split of DATA (plus FEEDBACK=file.csv, training part only) and write artifacts/
	$(PY) -m model train --data "$(DATA)" $(if $(FEEDBACK),--feedback "$(FEEDBACK)")

evaluate: $(VENV)/.dev ## Evaluate every model on the held-out split; write reports/report.md and its plots
	$(PY) -m model evaluate --data "$(DATA)" --out reports

score: $(VENV)/.runtime ## Label a CSV or NDJSON file: make score IN=tweets.csv OUT=scored.csv [MODEL=nblr] [JOBS=0: all cores | DASK=tcp://host:8786] [FORMAT=ndjson] [TEXT_COLUMN=text] [ID_COLUMN=id]
	@test -n "$(IN)" && test -n "$(OUT)" || { echo "usage: make score IN=<file> OUT=<file> [MODEL=<name>] [JOBS=<n> | DASK=<scheduler address>] [FORMAT=csv|ndjson] [TEXT_COLUMN=<name>] [ID_COLUMN=<name>]" >&2; exit 2; }
	$(PY) -m model score "$(IN)" -o "$(OUT)" $(if $(DASK),--dask "$(DASK)",--jobs "$(or $(JOBS),1)") $(if $(MODEL),--model "$(MODEL)",) \
	  $(if $(FORMAT),--format "$(FORMAT)",) $(if $(TEXT_COLUMN),--text-column "$(TEXT_COLUMN)",) $(if $(ID_COLUMN),--id-column "$(ID_COLUMN)",)

# The first token goes to stderr only: stdout carries the access log, which `make api-start > api.log`,
# docker logs or journald keep. Framed, since the server's log follows it on the same terminal: README
# "Two commands" quotes these lines, which api/ops/firsttoken.py prints (the image's start prints them too).
first-token: $(VENV)/.runtime
	@API_TOKENS_FILE=$(TOKENS_FILE) $(PY) -m api.ops.firsttoken

api-start: $(VENV)/.runtime certs first-token ## Set up and run the API on https://0.0.0.0:5000 (PORT=8443 for another port), in the foreground
	API_TOKENS_FILE=$(TOKENS_FILE) OPENSSL_CONF=$${OPENSSL_CONF:-$(CURDIR)/deploy/openssl.cnf} \
	  exec $(VENV)/bin/gunicorn --config gunicorn.conf.py wsgi:app

# One worker process scores one chunk at a time: run one per core, on any machine that reaches the
# broker (API_JOBS_BROKER_URL), the job database (API_JOBS_DATABASE_URL) and the jobs folder (API_JOBS_DIR).
# Without a broker URL, `make api-start` runs one itself. ARGS go to Celery's worker (or --metrics-port N).
jobs-worker: $(VENV)/.runtime ## Run a job worker (one per core): make jobs-worker [ARGS="--metrics-port 9101"]
	exec $(PY) -m api jobs worker $(ARGS)

# The container tests' Docker engine (tests/container/): under CI (CI=1/true/yes, as tests/conftest.py
# reads it) installed and started here when none answers; elsewhere they use a running engine or skip.
.PHONY: container-engine
container-engine:
	@ci="$${CI:-}"; case "$${ci,,}" in 1|true|yes) scripts/docker-engine.sh ;; esac

test: $(VENV)/.dev $(SSLYZE_VENV)/.installed browser hosts-tools container-engine ## Set up and run the test suite (PYTEST_ARGS=--random-order to shuffle it)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev ## Benchmark the pipeline and the HTTPS server (a few minutes; installs wrk)
	scripts/debian-package.sh wrk wrk "the bench's HTTPS load"
	$(PY) -m bench

lint: $(VENV)/.dev ## Lint the Python code, its types (mypy), its import rules (pyproject.toml) and the Dockerfile
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint Dockerfile

# A fresh run each time: mutmut's cache would keep a survivor's verdict after a new test kills it.
mutate: $(VENV)/.dev ## Mutation-test the security-critical modules (slow, not in make test): reports/mutation.md
	rm -rf mutants
	start=$$(date +%s); $(VENV)/bin/mutmut run; \
	  $(PY) scripts/mutate-report.py --seconds $$(( $$(date +%s) - start )) --out reports/mutation.md

# Deployment files (deploy/compose.yaml, deploy/k8s/): schemas and properties, no network needed.
.PHONY: deploy-check
deploy-check: $(VENV)/.dev ## Validate the Compose file and Kubernetes manifests in deploy/
	$(PY) -m pytest tests/deploy -q

clean: ## Remove caches and reports (keeps .venv, certs and tokens)
	rm -rf .pytest_cache .ruff_cache reports
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
