# neuro_decode: `make run` (main job on the simulated NSD) and `make test` (every check); both set up .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# PyTorch as DEVELOPERS.md asks on this machine; `make TORCH="torch torchvision" ...` for your own build
TORCH ?= torch==2.14.1 torchvision==0.29.1
PRESET ?= default

.PHONY: run test docs bench readme results export clean-nbs check-sync venv help

help:
	@echo "make run | test | docs | bench | readme | results | export"

$(STAMP): setup.py settings.ini
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/neuro-decode run --preset $(PRESET)

# library and notebooks in sync, notebooks clean, README current, then every notebook and the tests (two at a time, a file per worker;
# a passing test's temporary folders are deleted: the tests write about 5 GB, which filled a CI disk once)
test: $(STAMP)
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} bash tools/check_sync.sh
	$(PY) tools/docs.py readme --check
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(VENV)/bin/nbdev_test --n_workers 2 --do_print
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest tests/ -q -rs -n 2 --dist loadfile --durations=15 -o tmp_path_retention_policy=failed

docs: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) tools/docs.py site

readme: $(STAMP)
	$(PY) tools/docs.py readme

# keep the default run's findings and tables (runs/sim-$(PRESET)/report/results) in results/, then regenerate the README that reads them
results: $(STAMP)
	$(PY) -c "from neuro_decode.report import keep_results; print('kept in', keep_results('runs/sim-$(PRESET)', 'results/sim-$(PRESET)'))"
	$(PY) tools/docs.py readme

export: $(STAMP)
	$(VENV)/bin/nbdev_export && $(VENV)/bin/nbdev_clean

bench: $(STAMP)
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) bench/run.py $(BENCH)
