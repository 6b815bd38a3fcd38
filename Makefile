# The two commands: `make run` and `make test`. Everything else is what they need.
SHELL := /bin/bash
# Rasa reports usage to its servers unless told not to; no network here, and no need.
export RASA_TELEMETRY_ENABLED := false
PYTHON310 ?= $(or $(shell ls $(HOME)/.pyenv/versions/3.10.*/bin/python 2>/dev/null | tail -n 1),$(shell command -v python3.10))
VENV := .venv
BIN := $(VENV)/bin
AUDIT_VENV := .venv-audit
MODEL := models/supportbot.tar.gz
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null)
# The widget's npm packages: the socket.io client it loads, and axe-core for its accessibility test.
WIDGET_PACKAGES := widget/node_modules/.installed

.PHONY: run test install train lint bench bench-scale bench-length bench-floor bench-languages lock clean audit

run: $(MODEL) $(WIDGET_PACKAGES)
	$(BIN)/python -m bot.serve

# Held-out phrasings per language (not in faq/): answered right at least this often, or the build fails.
HELDOUT_MIN_ACCURACY := 0.8

test: $(MODEL) $(WIDGET_PACKAGES) $(AUDIT_VENV)/.installed
	$(BIN)/ruff check bot actions tests benchmarks
	$(BIN)/supportbot faq lint
	for language in en ms id tl vi; do \
		$(BIN)/supportbot faq eval tests/data/heldout_$$language.yml --min-accuracy $(HELDOUT_MIN_ACCURACY) || exit 1; \
	done
	$(BIN)/python -m pytest -q

install: $(VENV)/.installed $(WIDGET_PACKAGES)

# pip-audit in a venv of its own (AUDIT_VENV), so that its dependencies never move the product's pins.
$(AUDIT_VENV)/.installed:
	python3 -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/pip install --quiet pip-audit==2.10.1
	touch $@

# Known advisories in the pins (deploy/audit-exceptions.yml lists the accepted ones, with reasons).
audit: $(AUDIT_VENV)/.installed $(VENV)/.installed
	$(BIN)/python -m pytest -q -rs tests/test_dependencies.py

$(VENV)/.installed: requirements.lock pyproject.toml
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is needed (Rasa 3.6 does not run on newer). Install it, or set PYTHON310=/path/to/python3.10"; exit 1; }
	$(PYTHON310) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip<25"
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(WIDGET_PACKAGES): widget/package.json widget/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the chat widget's packages (apt-get install npm)"; exit 1; }
	cd widget && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Retrain only when the pipeline, domain or training data changed; faq/ edits need no training.
train: $(MODEL)
$(MODEL): $(VENV)/.installed $(TRAINING_INPUTS)
	$(BIN)/python -m bot.training --fixed-model-name supportbot --out models
	touch $@

lint: install
	$(BIN)/ruff check bot actions tests benchmarks
	$(BIN)/supportbot faq lint

bench: $(MODEL)
	$(BIN)/python -m benchmarks.run $(BENCH_FLAGS)

# Issue 9's side-by-side table (~25 min; trains Rasa's default pipeline first): one process, the cluster
# and the default pipeline at 10, 100 and 1,000 REST customers; rewrites only its section of docs/benchmarks.md.
# Needs the cluster's Debian packages (nginx, redis-server, postgresql). SCALE_FLAGS=--skip-cluster etc.
bench-scale: $(MODEL)
	$(BIN)/python -m benchmarks.scale_table $(SCALE_FLAGS)

# One conversation of 500 messages: the time of the last ten against the first ten (about 1 minute);
# rewrites only its section of docs/benchmarks.md.
bench-length: $(MODEL)
	$(BIN)/python -m benchmarks.conversation_length

# Rasa's own cost per message: a do-nothing bot under stock `rasa run` and under our runtime, against the
# product, at 20 and 100 REST customers (~3 min); rewrites only its section of docs/benchmarks.md.
bench-floor: $(MODEL)
	$(BIN)/python -m benchmarks.rasa_floor

# Accuracy per language and language detection against Rasa's default pipeline (~15 min):
# rewrites only the "Five languages" section of docs/benchmarks.md.
bench-languages: install
	$(BIN)/python -m benchmarks.languages

# Re-resolve the pins from pyproject.toml's ranges into requirements.lock.
lock:
	rm -rf /tmp/supportbot-lock && $(PYTHON310) -m venv /tmp/supportbot-lock
	/tmp/supportbot-lock/bin/pip install --quiet --upgrade "pip<25" && /tmp/supportbot-lock/bin/pip install --quiet ".[dev]"
	{ echo "# Exact versions of every package, for a reproducible install (make install)."; echo "# Regenerate: make lock"; \
	  /tmp/supportbot-lock/bin/pip freeze --exclude supportbot; } > requirements.lock

clean:
	rm -rf $(VENV) $(AUDIT_VENV) models .pytest_cache widget/node_modules

# --- The cluster (issue 9): 2 Rasa replicas + 2 action servers + nginx + PostgreSQL + Redis on 127.0.0.1 ---
# deploy/cluster.py; docs/scale.md "Cluster". Needs Debian's nginx, redis-server and postgresql (it says so).
# State (PostgreSQL data, secrets, logs) in var/cluster/; the processes run on until `make cluster-stop`.
.PHONY: cluster cluster-stop

cluster: $(MODEL) $(WIDGET_PACKAGES)
	$(BIN)/python -m deploy.cluster start

cluster-stop:
	$(BIN)/python -m deploy.cluster stop

# ---- Load test (issue 9): simulated customers over REST and socket.io, loopback only (docs/loadtest.md) ----
.PHONY: loadtest soak
# Bounded: 100 REST customers asking FAQ questions (30 s), 100 mixed customers with tickets and
# handoffs (30 s), then 1,000 widgets connecting and held open (60 s), against one started process.
loadtest: $(MODEL)
	$(BIN)/python -m benchmarks.loadtest --preset standard $(LOADTEST_FLAGS)

# Ten minutes of steady mixed load; fails when the server's memory grows (trend over the second half).
SOAK_SECONDS ?= 600
soak: $(MODEL)
	$(BIN)/python -m benchmarks.loadtest --soak $(SOAK_SECONDS) $(LOADTEST_FLAGS)
