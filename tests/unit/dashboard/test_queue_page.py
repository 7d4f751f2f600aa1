"""The Queue page against a fake API client."""

import json

import pandas as pd

from piano_dashboard.client import ApiError, QueueStats

QUEUE = "app_pages/queue.py"


def busy_queue(fake_api, job):
    fake_api.stats = QueueStats.model_validate(
        {
            "counts": {"queued": 2, "running": 1, "succeeded": 7, "failed": 1, "canceled": 0},
            "oldest_queued_age_s": 125.0,
            "windows": [
                {"window_s": 300, "finished": 2, "failed": 0, "mean_latency_s": 14.5},
                {"window_s": 3600, "finished": 7, "failed": 1, "mean_latency_s": 20.0},
                {"window_s": 86400, "finished": 7, "failed": 1, "mean_latency_s": 20.0},
            ],
            "workers": [{"name": "celery@box", "last_seen": "2026-01-01T12:00:00"}],
            "errors_by_code": {"invalid_audio": 1},
        }
    )
    fake_api.jobs = [
        job("queued", id="q1" + "0" * 30, filename="waltz.wav"),
        job("running", id="r1" + "0" * 30, filename="etude.flac", stage="inference", progress=0.5),
        job("succeeded", id="s1" + "0" * 30, filename="nocturne.mp3", note_count=812),
        job(
            "failed",
            id="f1" + "0" * 30,
            filename="noise.ogg",
            error={"code": "invalid_audio", "message": "not audio"},
        ),
    ]


def test_counts_oldest_age_workers_errors_and_jobs(dashboard, fake_api, job):
    busy_queue(fake_api, job)
    at = dashboard(QUEUE)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Queued"], metrics["Running"], metrics["Succeeded"], metrics["Failed"]) == (
        "2",
        "1",
        "7",
        "1",
    )
    assert metrics["Oldest queued"] == "2 min 5 s"
    tables = [frame.value for frame in at.dataframe]
    windows, workers, errors, jobs = tables
    assert list(windows["jobs / hour"]) == [24.0, 7.0, 0.3]
    assert list(workers["worker"]) == ["celery@box"]
    assert dict(zip(errors["code"], errors["jobs"], strict=True)) == {"invalid_audio": 1}
    assert list(jobs["file"]) == ["waltz.wav", "etude.flac", "nocturne.mp3", "noise.ogg"]
    assert jobs["error"][3] == "invalid_audio: not audio"


def test_the_status_filter_narrows_the_jobs_table(dashboard, fake_api, job):
    busy_queue(fake_api, job)
    at = dashboard(QUEUE)
    at.multiselect(key="status_filter").set_value(["failed"]).run()
    assert list(at.dataframe[-1].value["file"]) == ["noise.ogg"]
    at.multiselect(key="status_filter").set_value(["queued", "running", "succeeded", "failed"])
    at.text_input(key="text_filter").set_value("ETUDE").run()
    assert list(at.dataframe[-1].value["file"]) == ["etude.flac"]


def test_cancel_buttons_for_active_jobs(dashboard, fake_api, job):
    busy_queue(fake_api, job)
    at = dashboard(QUEUE)
    cancels = sorted(b.key for b in at.button if b.key and b.key.startswith("cancel-"))
    assert cancels == ["cancel-q1" + "0" * 30, "cancel-r1" + "0" * 30]
    at.button(key="cancel-q1" + "0" * 30).click().run()
    assert fake_api.called("cancel") == ["q1" + "0" * 30]
    assert "waltz.wav: canceled" in at.success[0].value


def test_an_empty_queue_says_no_worker_was_seen(dashboard):
    at = dashboard(QUEUE)
    assert not at.exception
    assert "No worker has been seen" in at.warning[0].value


def test_an_unreachable_api_is_an_error_message(dashboard, fake_api):
    fake_api.queue_error = ApiError("api_unreachable", "cannot reach the API at http://fake-api")
    at = dashboard(QUEUE)
    assert not at.exception
    assert "api_unreachable" in at.error[0].value


def test_empty_cells_are_empty_not_none(dashboard, fake_api, job):
    busy_queue(fake_api, job)
    at = dashboard(QUEUE)
    for frame in at.dataframe:
        assert frame.proto.HasField("placeholder") and frame.proto.placeholder == ""
    jobs = at.dataframe[-1].value
    assert pd.isna(jobs["notes"][0]) and pd.isna(jobs["took (s)"][0])  # the queued job: missing, shown empty


def test_stage_and_error_columns_are_wide_enough(dashboard, fake_api, job):
    busy_queue(fake_api, job)
    columns = json.loads(dashboard(QUEUE).dataframe[-1].proto.columns)
    assert columns["stage"]["width"] == "medium"
    assert columns["error"]["width"] == "large"


def test_a_canceled_job_keeps_no_stage_or_progress(dashboard, fake_api, job):
    fake_api.jobs = [job("canceled", id="c1" + "0" * 30, stage="decoding", progress=0.1)]
    jobs = dashboard(QUEUE).dataframe[-1].value
    assert jobs["stage"][0] == ""
    assert pd.isna(jobs["progress"][0])


def test_the_running_job_shows_its_progress_figure(dashboard, fake_api, job):
    busy_queue(fake_api, job)
    at = dashboard(QUEUE)
    texts = [bar.proto.text for bar in at.get("progress")]
    assert "running · inference · 50%" in texts
    assert "queued · waiting for a worker" in texts
