# sermodels: speech emotion recognition with PyTorch Lightning.  `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNS ?= runs
DATA ?= $(HOME)/.cache/sermodels/corpora
export PYTHONUNBUFFERED := 1

.DEFAULT_GOAL := help
.PHONY: help install test test-fast lint demo demo-sta-cnn demo-export materialize bench-features bench-train study-baseline report clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}'

# Free disk a new venv needs (GiB): INSTALL_GIB beside it (the venv with torch's CUDA wheels measured 7.7 GiB; the
# rest is room for pip's downloaded wheels, not measured, when TMPDIR is on the same disk, the usual case) and TMP_GIB
# in pip's temporary folder. Checked before a venv is created (a reinstall into an existing one is not checked), so a
# full disk fails in a second with the folder named, not minutes into pip. 0 skips a check.
INSTALL_GIB ?= 11
TMP_GIB ?= 4

$(STAMP): pyproject.toml
	@[ -x $(BIN)/python ] || bash scripts/check_free_space.sh "$(VENV)" $(INSTALL_GIB) "make install (a new $(VENV))" \
		"set VENV to a folder on a larger disk, or INSTALL_GIB=0 to skip this check"
	@[ -x $(BIN)/python ] || bash scripts/check_free_space.sh "$${TMPDIR:-/tmp}" $(TMP_GIB) "pip's temporary files in make install" \
		"set TMPDIR to a folder on a larger disk, or TMP_GIB=0 to skip this check"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --no-cache-dir --upgrade pip
	# torchaudio on PyPI must match torch exactly; install the pair first (CUDA wheels, CPU works).
	# --no-cache-dir: the CUDA wheels are several GB; caching them too doubles the disk an install needs.
	$(BIN)/pip install -q --no-cache-dir torch==2.9.1 torchaudio==2.9.1
	$(BIN)/pip install -q --no-cache-dir -e '.[dev,export]'
	touch $(STAMP)

install: $(STAMP) ## Build .venv with the pinned, known-good versions (idempotent)

# One thread per process: torch's OpenMP threads spin against the tests' own worker processes.
test: install ## Run the test suite (synthetic audio only; ~minutes on 2 cores)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

test-fast: install ## Tests without the slow end-to-end ones
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m "not slow"

lint: install ## ruff lint + import order, mypy type check (settings in pyproject.toml)
	$(BIN)/ruff check sermodels datamodules tests scripts
	$(BIN)/python -m mypy

# Config option groups (configs/): shared trainer defaults + one model + one corpus (+ the pair's experiment file).
DEMO_STRL := -c configs/trainer.yaml -c configs/model/strl_ser.yaml -c configs/data/synthetic.yaml -c configs/experiment/strl_ser_synthetic.yaml
DEMO_STA := -c configs/trainer.yaml -c configs/model/sta_cnn.yaml -c configs/data/synthetic.yaml -c configs/experiment/sta_cnn_synthetic.yaml

demo: install ## Main job: train + test STRL-SER on the built-in synthetic corpus, print utterance metrics
	$(BIN)/ser fit $(DEMO_STRL)
	$(BIN)/ser test $(DEMO_STRL) --ckpt_path runs/strl_ser/synthetic/checkpoints/last.ckpt

demo-sta-cnn: install ## Train + test STA-CNN on the synthetic corpus
	$(BIN)/ser fit $(DEMO_STA)
	$(BIN)/ser test $(DEMO_STA) --ckpt_path runs/sta_cnn/synthetic/checkpoints/last.ckpt

demo-export: install ## After `make demo`: predict with a timeline, export a bundle, predict with the bundle
	$(BIN)/python scripts/demo_clip.py --out $(RUNS)/demo_clip.wav
	$(BIN)/ser predict --ckpt_path $(RUNS)/strl_ser/synthetic/checkpoints/last.ckpt --data.predict_paths '[$(RUNS)/demo_clip.wav]' --timeline true
	$(BIN)/ser-export --ckpt_path $(RUNS)/strl_ser/synthetic/checkpoints/last.ckpt --overwrite true
	$(BIN)/python -m sermodels.bundle $(RUNS)/strl_ser/synthetic-export/last $(RUNS)/demo_clip.wav

materialize: install ## Write ../shared/data corpora as WAV under $(DATA) (this workplace only)
	$(BIN)/python ../shared/data/materialize ravdess $(DATA)/RAVDESS
	$(BIN)/python ../shared/data/materialize emodb $(DATA)/EMODB

bench-features: install ## Feature-extraction throughput on RAVDESS (cold and cached)
	$(BIN)/python scripts/bench_features.py --root $(DATA)/RAVDESS

bench-train: install ## Step vs epoch time of STRL-SER on cached RAVDESS features (CPU, or the GPU if present)
	$(BIN)/python scripts/bench_train.py --epochs 3 -- -c configs/trainer.yaml -c configs/model/strl_ser.yaml -c configs/data/ravdess.yaml --data.root $(DATA)/RAVDESS

STUDY ?= $(HOME)/study
study-baseline: install ## Linear baseline on every study split (RAVDESS/EMO-DB under $(DATA); results in $(STUDY))
	source $(BIN)/activate && RAVDESS=$(DATA)/RAVDESS EMODB=$(DATA)/EMODB OUT=$(STUDY) bash scripts/study_baseline.sh

# `make report` syncs the committed ledger docs/study/ from the study folders in $(STUDY) when that folder exists,
# then renders both pages from the ledger alone (so a fresh clone regenerates them too).
report: install ## Regenerate docs/reproduction.md and docs/results.md's summary table from the study ledger (docs/study/)
	$(BIN)/python scripts/reproduction_report.py $(if $(wildcard $(STUDY)/.),--study $(STUDY)) --out docs/reproduction.md --results docs/results.md

clean: ## Remove runs and caches made by the tests/demo (not .venv)
	rm -rf $(RUNS) .pytest_cache .ruff_cache
