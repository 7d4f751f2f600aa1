"""Enqueue jobs by task name: the API never imports worker code (or TensorFlow)."""

from functools import lru_cache

from celery import Celery

from piano_ai.settings import Settings, get_settings

# Must equal the name the worker registers (piano_worker.tasks); a unit test checks they agree.
TRANSCRIBE_TASK = "piano_ai.transcribe_job"
# A broker blip is retried briefly; a dead broker answers the client with 503 within about 2 s.
SEND_RETRY_POLICY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


def make_client(settings: Settings) -> Celery:
    """A Celery app used only to send messages to the worker's broker."""
    app = Celery("piano_api", broker=settings.broker_url)
    app.conf.update(
        broker_transport_options=settings.broker_transport_options(),
        broker_transport=settings.broker_transport,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
    )
    return app


@lru_cache
def get_client() -> Celery:
    """The process-wide broker client."""
    return make_client(get_settings())


def enqueue_transcription(job_id: str) -> None:
    """Send job ``job_id`` to the transcription queue."""
    settings = get_settings()
    get_client().send_task(
        TRANSCRIBE_TASK, args=[job_id], queue=settings.queue, retry=True, retry_policy=SEND_RETRY_POLICY
    )


def ping_broker() -> None:
    """Raise when the broker cannot be reached (readiness probe)."""
    with get_client().connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
