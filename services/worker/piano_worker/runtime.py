"""Per-process worker state: settings, database sessions, storage, and the model (loaded once)."""

import logging
import os
import socket
import threading
from functools import lru_cache
from typing import Any

from piano_ai.db.session import get_engine, get_session_factory
from piano_ai.settings import Settings, get_settings
from piano_ai.storage import get_storage
from piano_worker.pipeline import RunState, WorkerContext

logger = logging.getLogger(__name__)

_model: Any = None
_model_lock = threading.Lock()
_node_name: str = socket.gethostname()
_pool_size = 1  # pool processes of this worker (its concurrency): they share the machine's cores
# The run in progress in this process (job id, its RunState): the heartbeat thread renews its lease.
_current_run: tuple[str, RunState] | None = None


def settings() -> Settings:
    """The worker's settings."""
    return get_settings()


def set_node_name(name: str) -> None:
    """Record the Celery node name (celery@host) so this process's rows name it."""
    global _node_name
    _node_name = name


def set_pool_size(processes: int) -> None:
    """Record how many pool processes this worker runs (Celery's concurrency), before they start."""
    global _pool_size
    _pool_size = max(1, processes)


def model_threads() -> int:
    """Threads per model call in each pool process: every core for one process, one each for several
    (piano_ai.runtimes.call_plan; OMP_NUM_THREADS overrides). On 2 cores, 20 queued 60 s jobs took two pool
    processes 1.6 s with one thread each and 1.7-1.8 s with two each (docs/benchmarks.md, "Batching across
    jobs (worker)")."""
    from piano_ai.runtimes import call_plan

    return call_plan(_pool_size)[0]


def worker_name() -> str:
    """This pool process: "<celery node>/<pid>"."""
    return f"{_node_name}/{os.getpid()}"


def set_current_run(job_id: str | None, state: RunState | None = None) -> None:
    """Record the run this process is doing (None: none), whose lease the heartbeat thread renews."""
    global _current_run
    _current_run = (job_id, state) if job_id is not None and state is not None else None


def current_run() -> tuple[str, RunState] | None:
    """(job id, RunState) of the run in progress in this process, or None."""
    return _current_run


def load_model() -> Any:
    """The process's Transcriber, loaded on first use (worker_process_init calls this at start)."""
    global _model
    with _model_lock:
        if _model is None:
            from piano_ai.inference import load_transcriber

            config = settings()
            threads = model_threads()
            logger.info(
                "loading the model (dir=%s, runtime=%s, %d thread(s) a call)",
                config.model_dir or "shipped",
                config.runtime,
                threads,
            )
            _model = load_transcriber(config.model_dir, runtime=config.runtime, threads=threads)
        return _model


def reset_after_fork() -> None:
    """Drop database connections inherited from the parent process (never share them across a fork)."""
    get_engine().dispose(close=False)


@lru_cache
def context() -> WorkerContext:
    """What every job run in this process uses."""
    return WorkerContext(
        sessions=get_session_factory(),
        storage=get_storage(),
        model_loader=load_model,
        name=worker_name(),
        max_audio_s=settings().max_audio_s,
        lease_s=settings().effective_job_lease_s,
    )
