# ElectNepal mail: developer entry points.
#
#   make test    fresh clone -> venv + install + lint + translations + Redis/PostgreSQL + Chromium + pytest (what CI runs)
#   make test-fast  the same without the browser tests (and without installing Chromium): while you work
#   make lint    ruff check + ruff format --check (ruff.toml)
#   make messages  locale/*/LC_MESSAGES/django.po (+ locale-fragments/*.po) -> django.mo (bin/compile-messages)
#   make run     web + worker + beat + Flower in the foreground (bin/run)
#   make lock    requirements*.in -> requirements*.txt: every package pinned, with PyPI's hashes (uv)
#   make hosts   three worker hosts as network namespaces, one cut off mid-burst (root; bench/hosts.py)
#   make faults  worker, Redis, PostgreSQL and SES faults under a burst: lost, duplicated, recovery (bench/faults.py)
#   make clean   remove the venv and the local SQLite database
#
# PYTEST_ARGS is passed to pytest, e.g. `make test PYTEST_ARGS="-x -k outbox"`.

SHELL := /bin/bash
comma := ,
.DEFAULT_GOAL := test

VENV := .venv
STAMP := $(VENV)/.installed
# The project runs on Python 3.11 (Django 5.2 LTS with django-ses 4.8 and
# django-celery-beat 2.9; the Dockerfile's python:3.11-slim). python3.11 where it is
# on PATH, else python3 if that is 3.11; `make PYTHON=/path/to/python3.11` to choose.
PYTHON_VERSION := 3.11
PYTHON ?= $(shell command -v python$(PYTHON_VERSION) 2>/dev/null || command -v python3 2>/dev/null)
PYTEST_ARGS ?=
# e.g. make bench BENCH_ARGS=--quick (smaller N), or BENCH_ARGS="--skip cleanup"
BENCH_ARGS ?=
# e.g. make hosts HOSTS_ARGS="--emails 500 --rate 14", or HOSTS_ARGS="--lease shipped --keeper shipped"
HOSTS_ARGS ?=
# e.g. make faults FAULTS_ARGS="--broker redis,amqp", or FAULTS_ARGS="--emails 500 --only worker-kill,rolling"
FAULTS_ARGS ?=

.PHONY: venv python messages services browser lint test test-fast run lock bench hosts faults clean

venv: $(STAMP)

python:
	@if [ -z "$(PYTHON)" ] || ! "$(PYTHON)" -c 'import sys; sys.exit(sys.version_info[:2] != ($(subst .,$(comma) ,$(PYTHON_VERSION))))' 2>/dev/null; then \
		echo "error: Python $(PYTHON_VERSION) is needed, and $(or $(PYTHON),python3 (not on PATH)) is not it" >&2; \
		echo "  Debian 12:         sudo apt-get install python3.11 python3.11-venv" >&2; \
		echo "  Ubuntu:            sudo add-apt-repository ppa:deadsnakes/ppa && sudo apt-get install python3.11 python3.11-venv" >&2; \
		echo "  Fedora:            sudo dnf install python3.11" >&2; \
		echo "  macOS (Homebrew):  brew install python@3.11" >&2; \
		echo "  anywhere:          uv python install 3.11  (or pyenv install 3.11), then make PYTHON=\$$(uv python find 3.11)" >&2; \
		exit 1; \
	fi

# The locks, with hashes: pip refuses any file whose hash is not PyPI's, and any
# package the lock does not name (--no-deps: the lock names them all).
$(STAMP): requirements.txt requirements-dev.txt | python
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --require-hashes --no-deps -r requirements-dev.txt
	$(VENV)/bin/pip check
	touch $@

# After editing requirements*.in: resolve again for every platform (macOS and Linux
# alike), with the hashes of the files PyPI serves (uv reads no pip.conf mirror).
UV_COMPILE := UV_NO_CONFIG=1 $(VENV)/bin/uv pip compile --universal --python-version $(PYTHON_VERSION) \
	--generate-hashes --index-url https://pypi.org/simple --custom-compile-command "make lock" --quiet
lock: venv
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements-dev.in -o requirements-dev.txt

# The site's translations, compiled with polib (no gettext tools needed), fragments merged in.
messages: venv
	$(VENV)/bin/python bin/compile-messages

services:
	bin/ensure-services

# Debian's chromium (+ chromium-driver) and a Devanagari font for tests/browser, with apt if absent.
browser:
	bin/ensure-browser

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# No `|| true` anywhere: pytest's exit code 5 (no tests collected) fails `make test`.
test: venv lint messages services browser
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The browser tests (marker `browser`, tests/browser) left out, and Chromium not installed.
test-fast: venv lint messages services
	$(VENV)/bin/python -m pytest -m "not browser" $(PYTEST_ARGS)

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
