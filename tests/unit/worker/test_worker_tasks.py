"""The worker's task wiring: explicit name shared with the API, delivery settings, failure policy."""

from piano_api.queue import TRANSCRIBE_TASK as API_TASK_NAME
from piano_worker.celery_app import app
from piano_worker.tasks import TRANSCRIBE_TASK, transcribe_job


def test_the_api_sends_the_name_the_worker_registers() -> None:
    assert API_TASK_NAME == TRANSCRIBE_TASK == transcribe_job.name
    assert TRANSCRIBE_TASK in app.tasks


def test_at_least_once_delivery_settings() -> None:
    assert transcribe_job.acks_late and transcribe_job.reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit
    assert app.conf.task_ignore_result
