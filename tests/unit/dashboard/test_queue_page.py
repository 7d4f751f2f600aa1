"""The Queue page against a fake API client."""

import json
from datetime import UTC, datetime, timedelta

import pandas as pd

from piano_dashboard.client import ApiError, QueueHistory, QueueStats

QUEUE = "app_pages/queue.py"


def jobs_frame(at) -> pd.DataFrame:
    """The recent-jobs table (the one with a file column)."""
    return next(frame.value for frame in at.dataframe if "file" in frame.value.columns)


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
            "workers": [
                {
                    "name": "celery@box",
                    "last_seen": "2026-01-01T12:00:00",
                    "busy": True,
                    "current_job": "r1" + "0" * 30,
                    "processed": 41,
                    "failed": 2,
                }
            ],
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
    windows, workers, errors, jobs = tables[:4]
    assert list(windows["jobs / hour"]) == [24.0, 7.0, 0.3]
    assert list(workers["worker"]) == ["celery@box"]
    assert workers.iloc[0][["current job", "processed", "failed"]].tolist() == ["r1000000", 41, 2]
    assert dict(zip(errors["code"], errors["jobs"], strict=True)) == {"invalid_audio": 1}
    assert list(jobs["file"]) == ["waltz.wav", "etude.flac", "nocturne.mp3", "noise.ogg"]
    assert jobs["error"][3] == "invalid_audio: not audio"


def test_the_status_filter_narrows_the_jobs_table(dashboard, fake_api, job):
    busy_queue(fake_api, job)
    at = dashboard(QUEUE)
    at.multiselect(key="status_filter").set_value(["failed"]).run()
    assert list(jobs_frame(at)["file"]) == ["noise.ogg"]
    at.multiselect(key="status_filter").set_value(["queued", "running", "succeeded", "failed"])
    at.text_input(key="text_filter").set_value("ETUDE").run()
    assert list(jobs_frame(at)["file"]) == ["etude.flac"]


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
    jobs = jobs_frame(at)
    assert pd.isna(jobs["notes"][0]) and pd.isna(jobs["wait (s)"][0])  # the queued job: missing, shown empty


def test_stage_and_error_columns_are_wide_enough(dashboard, fake_api, job):
    busy_queue(fake_api, job)
    at = dashboard(QUEUE)
    frame = next(f for f in at.dataframe if "file" in f.value.columns)
    columns = json.loads(frame.proto.columns)
    assert columns["stage"]["width"] == "medium"
    assert columns["error"]["width"] == "large"


def test_a_canceled_job_keeps_no_stage_or_progress(dashboard, fake_api, job):
    fake_api.jobs = [job("canceled", id="c1" + "0" * 30, stage="decoding", progress=0.1)]
    jobs = jobs_frame(dashboard(QUEUE))
    assert jobs["stage"][0] == ""
    assert pd.isna(jobs["progress"][0])


def test_the_running_job_shows_its_progress_figure(dashboard, fake_api, job):
    busy_queue(fake_api, job)
    at = dashboard(QUEUE)
    texts = [bar.proto.text for bar in at.get("progress")]
    assert "running · inference · 50%" in texts
    assert "queued · waiting for a worker" in texts


def test_took_is_split_into_queue_wait_and_work_time(dashboard, fake_api, job):
    created = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    fake_api.jobs = [
        job(
            "succeeded", id="s1" + "0" * 30, filename="nocturne.mp3",
            created_at=created.isoformat(), enqueued_at=(created + timedelta(seconds=1)).isoformat(),
            started_at=(created + timedelta(seconds=13)).isoformat(),
            finished_at=(created + timedelta(seconds=20.5)).isoformat(),
        )
    ]  # fmt: skip
    jobs = jobs_frame(dashboard(QUEUE))
    assert (jobs["wait (s)"][0], jobs["work (s)"][0]) == (12.0, 7.5)
    assert "took (s)" not in jobs.columns


def test_queue_depth_history_comes_from_the_api_not_from_page_samples(dashboard, fake_api):
    start = datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
    fake_api.history = QueueHistory.model_validate(
        {
            "window_s": 3600,
            "step_s": 1800,
            "points": [
                {"time": (start + timedelta(minutes=m)).isoformat(), "queued": q, "running": r}
                for m, q, r in ((0, 4, 1), (30, 2, 1), (60, 0, 0))
            ],
        }
    )
    at = dashboard(QUEUE)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    queued = next(trace for trace in figure["data"] if trace["name"] == "queued")
    assert queued["y"] == [4, 2, 0]  # the whole past hour on the first view
    assert "from the job table" in figure["layout"]["title"]["text"]
    assert fake_api.called("queue_history") == [3600]
    at.selectbox(key="depth_window").set_value("last 24 hours").run()
    assert fake_api.called("queue_history")[-1] == 86400


def test_job_detail_shows_timestamps_attempts_worker_error_and_links(dashboard, fake_api, job):
    busy_queue(fake_api, job)
    failed_id = "f1" + "0" * 30
    fake_api.jobs[3] = job(
        "failed", id=failed_id, filename="noise.ogg", attempts=2, worker="celery@box",
        started_at=datetime.now(UTC).isoformat(), error={"code": "invalid_audio", "message": "not audio"},
    )  # fmt: skip
    at = dashboard(QUEUE)
    at.selectbox(key="detail_job").set_value(failed_id).run()
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Status"], metrics["Attempts"]) == ("failed", "2")
    assert any("celery@box" in md.value for md in at.markdown)
    assert any("invalid_audio" in e.value and "not audio" in e.value for e in at.error)
    timeline = next(f.value for f in at.dataframe if "event" in f.value.columns)
    assert list(timeline["event"]) == ["submitted", "started by a worker", "finished", "last updated"]
    links = [link.proto for link in at.get("page_link")]
    assert any(f"job={failed_id}" in link.query_string for link in links)
    assert any(f"/v1/jobs/{failed_id}" in md.value for md in at.markdown)


def test_retry_and_delete_from_the_job_detail(dashboard, fake_api, job):
    busy_queue(fake_api, job)
    failed_id = "f1" + "0" * 30
    at = dashboard(QUEUE)
    at.selectbox(key="detail_job").set_value(failed_id).run()
    assert at.button(key=f"retry-{failed_id}")
    at.button(key=f"retry-{failed_id}").click().run()
    assert fake_api.called("retry") == [failed_id]
    assert "noise.ogg: queued" in at.success[0].value
    at.button(key=f"delete-{failed_id}").click().run()
    assert fake_api.called("delete") == [failed_id]


def test_no_retry_for_a_running_or_succeeded_job_and_a_refused_retry_is_shown(dashboard, fake_api, job):
    busy_queue(fake_api, job)
    at = dashboard(QUEUE)
    for job_id in ("r1" + "0" * 30, "s1" + "0" * 30):
        at.selectbox(key="detail_job").set_value(job_id).run()
        assert not [b for b in at.button if b.key == f"retry-{job_id}"]
    fake_api.retry_error = ApiError("job_not_retryable", "job f1 is queued")
    at.selectbox(key="detail_job").set_value("f1" + "0" * 30).run()
    at.button(key="retry-f1" + "0" * 30).click().run()
    assert any("job_not_retryable" in e.value for e in at.error)
