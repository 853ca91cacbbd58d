# Two entry points for a new user: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
QUESTION ?= How do I add articles?

.PHONY: demo test test-kernels lint install clean bench soak docker-smoke monitoring-tools docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch is installed first and pinned: an unpinned torch would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[torch,postgres,dev,docs]'
	touch $@

install: $(VENV)/.installed

data/onnx/model.onnx: | $(VENV)/.installed
	$(BIN)/quoth export-onnx --dir data/onnx

demo: install data/onnx/model.onnx
	$(BIN)/quoth index
	$(BIN)/quoth ask "$(QUESTION)"
	@if [ -t 0 ]; then $(BIN)/quoth chat; fi

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

# Fitted cuts must not hang on a BLAS kernel's last bit: the refusal and calibration tests run
# once more under two other OpenBLAS kernels before the whole suite (whose summary ends the log).
KERNEL_TESTS := tests/test_refusal.py tests/test_cli.py::test_calibrate_stores_a_fit_beside_the_index

test-kernels: install
	for kernel in Haswell Sandybridge; do \
		OPENBLAS_CORETYPE=$$kernel $(BIN)/python -m pytest -q -p no:cacheprovider $(KERNEL_TESTS) || exit 1; \
	done

test: lint test-kernels
	$(BIN)/python -m pytest

# The documentation site, into build/site; --strict fails on a broken link or anchor.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

bench: install
	$(BIN)/python -m bench

# A short soak (questions, links, feed rounds and reindexes through the real bot); it fails
# when memory, open files or threads keep growing or an answer is lost. bench/results has an
# hour's run at 100k (python -m bench.soak --minutes 60 --scale 100k --every 120 --sample 30).
soak: install
	$(BIN)/python -m bench.soak --minutes 2 --every 15 --sample 10

# Prometheus and promtool for the monitoring tests (deploy/prometheus); Debian's package,
# installed as root where missing (the tests skip, saying so, without them).
monitoring-tools:
	@command -v promtool >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus >/dev/null

# Build the Docker image with a real engine and run it (root: installs docker.io).
docker-smoke: install
	bash scripts/docker-smoke

clean:
	rm -rf $(VENV) data/index data/onnx .pytest_cache .mypy_cache .ruff_cache
