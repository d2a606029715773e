# ElectNepal mail: developer entry points.
#
#   make test    fresh clone -> venv + install + translations + Redis/PostgreSQL + Chromium + pytest (what CI runs)
#   make messages  locale/*/LC_MESSAGES/django.po (+ locale-fragments/*.po) -> django.mo (bin/compile-messages)
#   make run     web + worker + beat + Flower in the foreground (bin/run)
#   make hosts   three worker hosts as network namespaces, one cut off mid-burst (root; bench/hosts.py)
#   make faults  worker, Redis, PostgreSQL and SES faults under a burst: lost, duplicated, recovery (bench/faults.py)
#   make clean   remove the venv and the local SQLite database
#
# PYTEST_ARGS is passed to pytest, e.g. `make test PYTEST_ARGS="-x -k outbox"`.

SHELL := /bin/bash
.DEFAULT_GOAL := test

VENV := .venv
STAMP := $(VENV)/.installed
# Python 3.11 where it is on PATH (the project's target), else whatever python3 is.
PYTHON := $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
PYTEST_ARGS ?=
# e.g. make bench BENCH_ARGS=--quick (smaller N), or BENCH_ARGS="--skip cleanup"
BENCH_ARGS ?=
# e.g. make hosts HOSTS_ARGS="--emails 500 --rate 14", or HOSTS_ARGS="--lease shipped --keeper shipped"
HOSTS_ARGS ?=
# e.g. make faults FAULTS_ARGS="--broker redis,amqp", or FAULTS_ARGS="--emails 500 --only worker-kill,rolling"
FAULTS_ARGS ?=

.PHONY: venv messages services browser test run bench hosts faults clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "error: neither python3.11 nor python3 is on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -r requirements-dev.txt
	$(VENV)/bin/pip check
	touch $@

# The site's translations, compiled with polib (no gettext tools needed), fragments merged in.
messages: venv
	$(VENV)/bin/python bin/compile-messages

services:
	bin/ensure-services

# Debian's chromium (+ chromium-driver) and a Devanagari font for tests/browser, with apt if absent.
browser:
	bin/ensure-browser

# No `|| true` anywhere: pytest's exit code 5 (no tests collected) fails `make test`.
test: venv messages services browser
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

run: venv messages
	bin/run

bench:
	@if [ -f bench/__main__.py ]; then \
		$(MAKE) --no-print-directory venv && $(VENV)/bin/python -m bench $(BENCH_ARGS); \
	else \
		echo "no benchmarks yet"; \
	fi

# Needs root: it creates network namespaces and veth pairs (and removes them again).
hosts:
	$(MAKE) --no-print-directory venv services && $(VENV)/bin/python -m bench.hosts $(HOSTS_ARGS)

faults:
	$(MAKE) --no-print-directory venv services && $(VENV)/bin/python -m bench.faults $(FAULTS_ARGS)

clean:
	rm -rf $(VENV) var/*.sqlite3
