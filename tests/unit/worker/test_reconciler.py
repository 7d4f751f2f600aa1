"""The reconciler's view of the broker: which jobs still have a message (filesystem transport, no server)."""

from pathlib import Path

from piano_ai.settings import Settings
from piano_api.queue import make_client
from piano_worker.reconciler import live_job_ids
from piano_worker.tasks import TRANSCRIBE_TASK


def test_live_job_ids_reads_the_transcription_messages_waiting_in_the_queue(tmp_path: Path) -> None:
    settings = Settings(broker_dir=tmp_path / "broker", queue="transcribe_unit")
    client = make_client(settings)
    assert live_job_ids(client, settings.queue) == set()
    client.send_task(TRANSCRIBE_TASK, args=["job-a"], queue=settings.queue)
    client.send_task(TRANSCRIBE_TASK, args=["job-b"], queue=settings.queue)
    client.send_task("some.other_task", args=["job-c"], queue=settings.queue)
    client.send_task(TRANSCRIBE_TASK, args=["job-d"], queue="another_queue")
    assert live_job_ids(client, settings.queue) == {"job-a", "job-b"}
    (tmp_path / "broker" / "queue" / f"0_broken.{settings.queue}.msg").write_text("{not json")
    assert live_job_ids(client, settings.queue) == {"job-a", "job-b"}  # an unreadable file is skipped
