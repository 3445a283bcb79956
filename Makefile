# aiida-cryspai: `make predict` installs everything and predicts Si8 with CHGNet; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# as if the environment were activated: AiiDA's daemon finds `verdi` on PATH
export PATH := $(abspath $(BIN)):$(PATH)
export VIRTUAL_ENV := $(abspath $(VENV))

.PHONY: install predict test test-slow test-all lint clean

# one BLAS/OpenMP thread per test process: the tests' CalcJobs run beside pytest on the same cores, and
# oversubscribed threads made a CPU-bound test up to 10 times slower (the CalcJob scripts set their own threads)
TEST_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

$(STAMP): setup.cfg pyproject.toml
	# From Debian: Abinit 9.6.2 and its pseudopotential tables (PseudoDojo psp8 under /usr/share/abinit/psp);
	# SLURM and munge for the tests' one-node cluster (tests/slurm); Chromium + its driver for the report test;
	# Graphviz for the provenance graph of docs/design.md (`verdi node graph generate`, benchmarks/graph_picture.py)
	command -v abinit >/dev/null && test -d /usr/share/abinit/psp && command -v slurmctld >/dev/null && \
		command -v munged >/dev/null && command -v chromium >/dev/null && \
		command -v chromedriver >/dev/null && command -v dot >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q abinit abinit-data slurm-wlm munge chromium \
		chromium-driver graphviz; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch is pinned to the CPU build 2.13.0 (setup.cfg); install it first so nothing pulls a CUDA build
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	# aiida-abinit 0.5.0 pins pymatgen<=2023.9.10, which does not import with numpy 2: installed without its
	# dependencies (the project requires what it really needs: abipy, aiida-pseudo); see docs/engines.md
	$(BIN)/python -m pip install --quiet --no-deps "aiida-abinit==0.5.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

predict: install
	$(BIN)/cryspai setup
	$(BIN)/cryspai predict Si8 --engine ase:chgnet --protocol fast --seed 1 --output results/Si8

# every test but the long scientific runs marked slow (those: make test-slow; both: make test-all)
test: install
	$(BIN)/ruff check aiida_cryspai tests
	$(TEST_ENV) $(BIN)/python -m pytest -p no:cacheprovider -ra --durations=60 -m "not slow"

test-slow: install
	$(TEST_ENV) $(BIN)/python -m pytest -p no:cacheprovider -ra --durations=25 -m slow

test-all: install
	$(BIN)/ruff check aiida_cryspai tests
	$(TEST_ENV) $(BIN)/python -m pytest -p no:cacheprovider -ra --durations=25

lint: install
	$(BIN)/ruff check aiida_cryspai tests

clean:
	rm -rf $(VENV) results
