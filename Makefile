# The two commands of the README: `make demo` (set up, then run the main job) and `make test`.
PY := .venv/bin/python

.PHONY: setup test test-fast demo train-demo lint bench

setup:
	bash scripts/setup.sh

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

demo: setup
	bash scripts/demo.sh

train-demo: setup
	bash scripts/train_demo.sh

lint:
	.venv/bin/ruff check genomekit classifiers analysis tests bench

bench: setup
	$(PY) bench/latent_sampling.py
	$(PY) bench/train_step.py
