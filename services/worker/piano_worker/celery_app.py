"""The Celery app: `celery -A piano_worker.celery_app:app worker --prefetch-multiplier 1`.

At-least-once delivery with idempotent effects: messages are acknowledged after the task returns
(acks_late), re-queued when a pool process dies (reject_on_worker_lost), one at a time per process
(prefetch 1), and on Redis handed to another worker when unacknowledged for longer than the longest job
(visibility timeout). Job rows change only by conditional updates fenced by the attempt number, so a
re-delivered or duplicate run cannot corrupt a finished job.
"""

import logging
import threading
from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup, worker_process_init, worker_process_shutdown

import piano_worker.heartbeat  # noqa: F401 - wires the liveness file to worker_ready/worker_shutdown
from piano_ai.collector import freeze_startup
from piano_ai.settings import get_settings
from piano_worker import runtime, scratch

logger = logging.getLogger(__name__)
settings = get_settings()

app = Celery("piano_worker", broker=settings.broker_url, include=["piano_worker.tasks"])
app.conf.update(
    task_default_queue=settings.queue,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_concurrency=settings.worker_concurrency,
    # The soft limit raises inside the job (it fails with code "timeout"); the hard one kills the process.
    task_soft_time_limit=settings.task_time_limit_s,
    task_time_limit=settings.task_time_limit_s + 30,
    broker_transport_options=settings.broker_transport_options(),
    broker_transport=settings.broker_transport,
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,  # the job row is the result
    worker_send_task_events=False,
)

_stop = threading.Event()


@celeryd_after_setup.connect
def _remember_node(sender: str, instance: Any = None, **_: Any) -> None:
    """Record the Celery node name (this process's rows name it) and its pool size (the model's threads)."""
    runtime.set_node_name(sender)
    if instance is not None and getattr(instance, "concurrency", None):
        runtime.set_pool_size(int(instance.concurrency))


@worker_process_init.connect
def _init_process(**_: Any) -> None:
    """Per pool process: fresh DB connections, killed runs' scratch folders gone, the model loaded once
    (start-up's objects then frozen: piano_ai.collector), a heartbeat thread."""
    runtime.reset_after_fork()
    scratch.sweep_stale(unnamed_after_s=settings.task_time_limit_s + 60)  # no run lasts longer
    try:
        runtime.load_model()
    except Exception:  # jobs will fail with the reason (e.g. model_not_found); keep the worker up
        logger.exception("could not load the model at start")
    freeze_startup()  # the libraries' and the model's objects out of the full collections' way
    _stop.clear()
    threading.Thread(target=_heartbeat_loop, name="piano-heartbeat", daemon=True).start()


@worker_process_shutdown.connect
def _shutdown_process(**_: Any) -> None:
    """Stop the heartbeat thread and drop this process's heartbeat row: a stopped worker is not live."""
    from piano_ai.db import jobs as job_store

    _stop.set()
    try:
        with runtime.context().sessions() as session:
            job_store.forget_worker(session, runtime.worker_name())
    except Exception:  # the database may be away; the row then ages out of the live window
        logger.warning("could not remove this worker's heartbeat row", exc_info=True)


def _heartbeat_loop() -> None:
    """Say this process is alive, then run the reconciler's sweep (piano_worker.reconciler): renew the
    lease of the job in progress here, hand the jobs of lapsed leases to the queue again, and send the
    queued jobs whose message never reached the queue or was lost by the broker.

    The filesystem broker never redelivers a dead worker's message, and Redis does only after the
    visibility timeout (longer than the longest job); the lease brings such a job back within
    ``PIANO_AI_JOB_LEASE_S``. A late redelivery of the original message then finds the job finished and
    skips it.
    """
    from piano_ai.db import jobs as job_store
    from piano_worker import reconciler

    while not _stop.is_set():
        try:
            with runtime.context().sessions() as session:
                job_store.heartbeat(session, runtime.worker_name())
                reconciler.sweep(app, session, settings)
        except Exception:
            logger.exception("worker heartbeat failed")
        _stop.wait(settings.worker_heartbeat_s)
