# Thin wrappers over the real tools; CI runs the same targets (see .ci/run).
PY := .venv/bin/python
PIP := .venv/bin/pip
EXTRAS ?= all,dev

.PHONY: install test test-unit lint typecheck bench bench-long bench-runtime bench-batch clean dashboard run bench-service bench-accuracy bench-score

install:  ## create .venv with every pinned dependency and the system tools
	bash scripts/install_system_deps.sh
	test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c requirements.lock -e ".[$(EXTRAS)]"
	$(PY) scripts/warm_caches.py

test:  ## the whole suite: unit, integration (real Postgres/Redis/emulator/worker) and e2e
	$(PY) -m pytest -q

test-unit:
	$(PY) -m pytest -q tests/unit

lint:
	.venv/bin/ruff check shared services tests scripts
	.venv/bin/ruff format --check shared services tests scripts

typecheck:
	.venv/bin/mypy shared/piano_ai

bench:  ## convert >= 10 min of rendered piano: real-time factor, time per stage, peak RSS (BENCH_ARGS=--markdown; --versus-basic-pitch: beside Basic Pitch)
	$(PY) scripts/bench.py $(BENCH_ARGS)

BENCH_LONG_ARGS ?= --write-docs docs/benchmarks.md
bench-long:  ## `piano-ai convert` on a 1-hour and a 3-hour FLAC (built once in data/bench/long): wall time, peak RSS
	$(PY) scripts/bench/long_file.py $(BENCH_LONG_ARGS)

BENCH_RUNTIME_ARGS ?= --write-docs docs/benchmarks.md
bench-runtime:  ## ONNX Runtime fp32 vs int8 (vs OpenVINO if installed): real-time factor on 10 min, note F1
	$(PY) scripts/bench/runtime.py $(BENCH_RUNTIME_ARGS)

BENCH_BATCH_ARGS ?= --files --write-docs docs/benchmarks.md
bench-batch:  ## model calls at batch 1-16 (1 thread and the default), and `convert` of many files one at a time vs 8 at once
	$(PY) scripts/bench/batching.py $(BENCH_BATCH_ARGS)

dashboard:  ## just the Streamlit dashboard on http://127.0.0.1:8501 (the API it uses: PIANO_AI_API_URL)
	$(PY) -m streamlit run services/dashboard/piano_dashboard/app.py --server.port 8501 --server.headless true \
		--client.toolbarMode minimal --client.showErrorDetails type

run:  ## API http://127.0.0.1:8000 + worker + dashboard http://127.0.0.1:8501 (SQLite, local files; Ctrl-C stops)
	$(PY) scripts/run_local.py

# The published table uses v2; a fresh clone renders it first (about 25 min on one core), same seed, same clips.
DATASET ?= data/rendered/v2
V2_ARGS := --out data/rendered/v2 --seed 2 --hours-train 4 --hours-val 0.3333
ACCURACY_ARGS ?=
# Transkun V2 joins when .venv-transkun exists; ACCURACY_ARGS="--peers basic-pitch transkun" makes it first
# (scripts/bench/setup_transkun.sh: torch CPU + transkun, 1.5 GB). It runs near real time: outputs are cached.
bench-accuracy:  ## onset/offset/velocity/frame F1 vs Basic Pitch (and Transkun) on $(DATASET)'s validation split
	test -f $(DATASET)/manifest.json || test "$(DATASET)" != data/rendered/v2 || $(PY) -m piano_ai.data.build $(V2_ARGS)
	bash scripts/bench/setup_basic_pitch.sh
	$(if $(findstring transkun,$(ACCURACY_ARGS)),bash scripts/bench/setup_transkun.sh)
	$(PY) scripts/bench/accuracy.py --dataset $(DATASET) $(ACCURACY_ARGS)

BENCH_SCORE_ARGS ?=
bench-score:  ## beat/downbeat F-measure (mir_eval, 70 ms) on rendered held-out ASAP excerpts (docs/score.md)
	$(PY) scripts/bench/score.py $(BENCH_SCORE_ARGS)

BENCH_SERVICE_ARGS ?= --write-docs docs/benchmarks.md
bench-service:  ## submit latency at 20 clients; 100 short jobs through the queue vs the bare CLI path (--postgres: Postgres + Redis)
	$(PY) scripts/bench_service.py $(BENCH_SERVICE_ARGS)

.PHONY: data
DATA_ARGS ?= --out data/rendered/dev --hours-train 1.5 --hours-val 0.17
data:  ## render a training dataset (DATA_ARGS="--out gs://bucket/prefix --hours-train 4 --workers 2")
	$(PY) -m piano_ai.data.build $(DATA_ARGS)

# ---- containers (docker/, docker-compose*.yml, k8s/; docs/deploy.md). Needs a Docker host and a .env ----
.PHONY: up down logs scale validate-deploy
COMPOSE ?= docker compose
COMPOSE_FILES = -f docker-compose.yml $(if $(GPU),-f docker-compose.gpu.yml)
N ?= 4

up:  ## build and start the stack in Docker (cp .env.example .env first); GPU=1 for GPU workers
	$(COMPOSE) $(COMPOSE_FILES) up -d --build

down:  ## stop the stack (volumes are kept; `docker compose down -v` deletes them)
	$(COMPOSE) $(COMPOSE_FILES) down

logs:  ## follow the stack's logs (SERVICE=worker for one service)
	$(COMPOSE) $(COMPOSE_FILES) logs -f --tail=200 $(SERVICE)

scale:  ## run N workers, e.g. make scale N=4 (running workers are left alone)
	$(COMPOSE) $(COMPOSE_FILES) up -d --no-recreate --scale worker=$(N) worker

validate-deploy:  ## offline checks of the Dockerfiles, compose files and k8s manifests (no Docker needed)
	$(PY) -m pytest -q tests/unit/deploy

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build *.egg-info
