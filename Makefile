# vnet.lab — the two commands are `make lab` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: lab down inspect verify test lint sanity pytest venv engine base-image bench clean

## The full lab on this machine (emulated boards on the local Docker engine), then its report.
lab: venv engine base-image
	$(BIN)/ansible-playbook playbooks/lab_up.yml
	$(BIN)/ansible-playbook playbooks/verify.yml

down: venv engine
	$(BIN)/ansible-playbook playbooks/lab_down.yml

inspect: venv engine
	$(BIN)/ansible-playbook playbooks/lab_inspect.yml

verify: venv engine
	$(BIN)/ansible-playbook playbooks/verify.yml

## Everything: linters, ansible-test sanity, unit, integration and molecule tests.
test: venv engine base-image lint sanity pytest

lint: venv
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --offline --profile production

sanity: venv
	VENV=$(VENV) scripts/sanity.sh

pytest: venv engine base-image
	$(BIN)/pytest tests --durations=15

venv: $(STAMP) .collections/ansible_collections/vnet/lab .collections/mitogen

$(STAMP): requirements.txt
	scripts/host-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

# The checkout is the collection: ansible.cfg's collections_path finds it through this link.
.collections/ansible_collections/vnet/lab:
	mkdir -p $(@D)
	ln -sfn ../../.. $@

# ansible.cfg's strategy_plugins finds Mitogen's strategies (mitogen_linear) through this link.
.collections/mitogen: $(STAMP)
	mkdir -p $(@D)
	ln -sfn "$$($(BIN)/python -c 'import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))')/plugins/strategy" $@

engine:
	scripts/ensure-docker.sh

base-image: engine
	scripts/base-image.sh

## Benchmarks: the planner at scale, then the reference lab from nothing to verified (bench/lab).
bench: venv engine base-image
	bench/plan_scale
	bench/lab

clean:
	rm -rf $(VENV) .collections .pytest_cache tests/output
