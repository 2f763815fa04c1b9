# temakarta — set-up, run and test on a fresh machine.
#   make run    create .venv, install, build the model, run the flow on corpus/
#   make test   the same set-up, then the whole test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export TOKENIZERS_PARALLELISM := false

.PHONY: run test setup system-deps model lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned, so pip takes the CPU build instead of pulling a multi-GB CUDA one.
$(VENV)/.installed: pyproject.toml setup.py deps/apt.txt pipeline/_attend.c | $(BIN)/python
	$(MAKE) system-deps
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

system-deps:
	@pkgs=$$(grep -v '^#' deps/apt.txt | xargs); missing=""; \
	for p in $$pkgs; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

setup: $(VENV)/.installed model

model: $(VENV)/.installed
	$(BIN)/python -m flows.build_model

run: setup
	$(BIN)/temakarta run corpus --output outputs

test: setup
	PREFECT_HOME=$$(mktemp -d) $(BIN)/python -m pytest -q

# bench/ is type-checked too (explicit package bases: its scripts import it as `bench.x`).
lint: $(VENV)/.installed
	$(BIN)/ruff check pipeline flows tests bench
	$(BIN)/mypy pipeline flows
	MYPYPATH=. $(BIN)/mypy --explicit-package-bases bench

# The bench extra (BERTopic) is only for `make bench`; run/test never need it.
$(VENV)/.bench-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

# The scale table (bench/scale.py) runs up to SCALE_MAX statements: 100 000 by default (about
# half an hour); `make bench SCALE_MAX=1000000` adds the million-statement row (hours).
SCALE_MAX ?= 100000

bench: setup $(VENV)/.bench-installed
	SCALE_MAX=$(SCALE_MAX) OMP_NUM_THREADS=1 nice -n 10 $(BIN)/python bench/scale.py
	SCALE_MAX=$(SCALE_MAX) nice -n 10 $(BIN)/python bench/scale_flow.py
	OMP_NUM_THREADS=1 nice -n 10 $(BIN)/python bench/dask_throughput.py
	$(BIN)/python bench/bench_embed.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/bench_kernels.py
	$(BIN)/python bench/embed_onnx.py --threads $$(nproc)
	OMP_NUM_THREADS=1 $(BIN)/python bench/incremental.py
	$(BIN)/python bench/gold_accuracy.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/tune_themes.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/learning_curve.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/calibration.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/themes_speed.py
	$(BIN)/python bench/fuzz_extract.py --examples 200
	OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $(BIN)/python bench/bertopic_compare.py

clean:
	rm -rf $(VENV) models/e5-small-st models/.cache outputs
