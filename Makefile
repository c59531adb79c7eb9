# vnet.lab — the two commands are `make lab` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: lab down inspect verify measure test test-faults lint sanity pytest setup venv engine base-image images bench clean

## The full lab on this machine (emulated boards on the local Docker engine), then its checks and
## its report (measure.yml: a bounded traffic phase, docs/evaluation.md), timed from lab_up's start.
lab: setup
	started=$$(date +%s.%N); \
	$(BIN)/ansible-playbook playbooks/lab_up.yml playbooks/verify.yml playbooks/measure.yml \
		-e vnet_measure_lab_up_started=$$started

down: venv engine
	$(BIN)/ansible-playbook playbooks/lab_down.yml

inspect: venv engine
	$(BIN)/ansible-playbook playbooks/lab_inspect.yml

verify: venv engine
	$(BIN)/ansible-playbook playbooks/verify.yml

measure: venv engine
	$(BIN)/ansible-playbook playbooks/measure.yml

## Everything: linters, ansible-test sanity, unit, integration and molecule tests. The linters and
## sanity run beside the tests, each target's output kept together. The suite keeps both cores busy
## until its last scenario (boards) ends; the linters and sanity (~210 s of CPU) run at the lowest
## priority, in what the tests leave, instead of slowing the scenario everything waits for.
test: setup
	$(MAKE) --no-print-directory -j 3 --output-sync=target pytest lint sanity STATIC_NICE="nice -n 19"

## What `make lab` and `make test` need on this machine. The Debian packages first, in one apt run
## (apt's lock is the machine's): then the venv (pip, ~50 s on a fresh machine) and the engine with
## its base image (debootstrap, ~40 s of CPU where no registry answers) are made at once.
setup:
	scripts/host-deps.sh
	$(MAKE) --no-print-directory -j 2 venv base-image

# STATIC_NICE: a command prefix for the static checks (make test sets it).
STATIC_NICE ?=
lint: venv
	$(STATIC_NICE) $(BIN)/yamllint -s .
	$(STATIC_NICE) $(BIN)/ansible-lint --offline --profile production

sanity: venv
	VENV=$(VENV) $(STATIC_NICE) scripts/sanity.sh

# Tests wait on the engine and on Ansible more than on the CPU: PYTEST_WORKERS of them at once
# (a test file, or a molecule scenario, stays on one worker); then, alone, the tests marked
# `exclusive` (they may restart the Docker daemon).
PYTEST_WORKERS ?= 3
pytest: images
	$(BIN)/pytest tests -m "not exclusive and not faults" -n $(PYTEST_WORKERS) --dist loadgroup --durations=40
	$(BIN)/pytest tests -m "exclusive and not faults" --durations=5

## The fault-injection tests (kills, restarts, a daemon restart and a reboot stand-in when
## VNET_TEST_DAEMON_RESTART=1): their own target, which CI runs after `make test`.
test-faults: venv engine base-image
	$(BIN)/pytest tests -m faults --durations=10

venv: $(STAMP) $(VENV)/.compiled .collections/ansible_collections/vnet/lab .collections/.linked .collections/mitogen_strategy

# --no-compile, then the bytecode of the packages Python imports from the venv, once: pip would also
# compile the ~470 MB of collections that the ansible package bundles, which Ansible's collection
# loader compiles from source whatever is on disk (38 s -> 13 s + 13 s here). Compiled once, because
# with PYTHONDONTWRITEBYTECODE set (as on this project's machines) Python never writes what it
# compiles: every ansible-playbook then compiled ansible and its imports again, 2.3 s of CPU instead
# of 1.25 s for an empty play (`/usr/bin/time ansible-playbook` of a play without tasks).
$(STAMP): requirements.txt
	scripts/host-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --no-compile --upgrade pip
	$(BIN)/python -m pip install -q --no-compile -r requirements.txt
	touch $@

$(VENV)/.compiled: $(STAMP)
	$(BIN)/python -m compileall -q -j 0 -x '/ansible_collections/' $(VENV)/lib >/dev/null
	touch $@

# The checkout is the collection: ansible.cfg's collections_path finds it through this link.
.collections/ansible_collections/vnet/lab:
	mkdir -p $(@D)
	ln -sfn ../../.. $@

# The collections of the ansible package that the checkout uses (galaxy.yml's dependencies with
# theirs, and ansible.posix: the tests' json callback, profile_tasks), linked beside it: ansible.cfg
# does not scan Python's path, so Ansible sees these and no other of the package's ~90 collections.
DEV_COLLECTIONS := ansible.posix
.collections/.linked: $(STAMP) galaxy.yml scripts/link_collections.py
	$(BIN)/python scripts/link_collections.py .collections $(DEV_COLLECTIONS)
	touch $@

# ansible.cfg's strategy_plugins finds Mitogen's strategies (mitogen_linear) through this link. Not
# named mitogen: pytest has .collections on its path, where that name hid Mitogen's own package.
.collections/mitogen_strategy: $(STAMP)
	mkdir -p $(@D)
	rm -f .collections/mitogen
	ln -sfn "$$($(BIN)/python -c 'import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))')/plugins/strategy" $@

engine:
	scripts/ensure-docker.sh

base-image: engine
	scripts/base-image.sh

## Every image of the catalogue, built once where missing or out of date (playbooks/images.yml):
## the tests, several at once, then find them instead of building the same image side by side.
images: venv engine base-image
	$(BIN)/ansible-playbook playbooks/images.yml

## Benchmarks: the planner at scale, then the reference lab from nothing to verified (bench/lab).
bench: venv engine base-image
	bench/plan_scale
	bench/lab

clean:
	rm -rf $(VENV) .collections .pytest_cache tests/output
