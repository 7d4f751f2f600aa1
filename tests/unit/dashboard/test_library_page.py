"""The Library page, driven through AppTest against a fake API client: list, search, open (?job=<id>),
re-decode with the sliders, save, delete."""

from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from piano_dashboard.client import ApiError, JobParams

LIBRARY = "app_pages/library.py"


@pytest.fixture
def library(fake_api, job):
    """Three jobs, newest first as the API lists them."""
    now = datetime.now(UTC)
    fake_api.jobs = [
        job(
            "succeeded",
            id=f"job-{i}",
            filename=name,
            note_count=4,
            audio_duration_s=1.5,
            created_at=(now - timedelta(hours=i)).isoformat(),
        )  # fmt: skip
        for i, name in enumerate(("nocturne.wav", "scales.mp3", "Nocturne take 2.flac"))
    ]
    fake_api.jobs[1] = job("failed", id="job-1", filename="scales.mp3",
                           error={"code": "invalid_audio", "message": "truncated"})  # fmt: skip
    fake_api.job_states = [fake_api.jobs[0]]  # get_job answers the first job
    return fake_api


def links(at: AppTest) -> list[str]:
    return [link.proto.label for link in at.get("page_link")]


def open_job(dashboard, job_id: str) -> AppTest:
    at = dashboard(LIBRARY)
    at.query_params["job"] = job_id
    return at.run()


def test_an_empty_library_says_how_to_fill_it(dashboard, fake_api):
    at = dashboard(LIBRARY)
    assert not at.exception
    assert "No transcriptions yet" in at.info[0].value


def test_every_job_is_listed_newest_first_with_a_link_of_its_own(dashboard, library):
    at = dashboard(LIBRARY)
    assert not at.exception
    assert links(at) == ["nocturne.wav", "scales.mp3", "Nocturne take 2.flac"]
    first = at.get("page_link")[0].proto
    assert (first.page, first.query_string) == ("library", "job=job-0")  # /library?job=job-0
    assert "3 transcriptions, newest first." in [c.value for c in at.caption]


def test_search_and_status_filter_ask_the_api(dashboard, library):
    at = dashboard(LIBRARY)
    at.text_input(key="library_q").input("nocturne").run()
    assert links(at) == ["nocturne.wav", "Nocturne take 2.flac"]
    assert library.called("list_jobs")[-1] == (None, "nocturne")
    at.selectbox(key="library_status").select("failed").run()
    assert "No transcription matches." in at.info[0].value
    assert library.called("list_jobs")[-1] == ("failed", "nocturne")


def test_opening_a_job_shows_its_full_result(dashboard, library):
    at = open_job(dashboard, "job-0")
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == []
    assert at.header[0].value == "nocturne.wav"
    assert library.called("get_job") == ["job-0"]
    assert {m.label: m.value for m in at.metric}["Notes with these settings"] == "4"
    assert [b.label for b in at.get("download_button")] == ["Download .mid", "Notes CSV", "Notes JSON"]
    assert len(at.get("plotly_chart")) >= 1  # the piano roll
    assert library.called("decode") == []  # the job's own settings: its own MIDI, nothing decoded


def test_a_slider_re_decodes_through_the_api_and_the_count_follows(dashboard, library):
    at = open_job(dashboard, "job-0")
    at.slider(key="onset-job-0").set_value(0.35).run()
    assert not at.exception, at.exception
    assert library.called("decode") == [("job-0", JobParams(onset_threshold=0.35))]
    metric = next(m for m in at.metric if m.label == "Notes with these settings")
    assert (metric.value, metric.delta) == ("5", "1")
    assert library.called("download") == ["/v1/jobs/job-0/midi?onset_threshold=0.35"]  # downloads follow
    assert {m.label: m.value for m in at.metric}["Notes"] == "5"  # the statistics of the decoded MIDI
    at.button(key="save-job-0").click().run()
    assert library.called("save_params") == [("job-0", JobParams(onset_threshold=0.35))]
    assert "Saved" in at.info[0].value


def test_a_failed_decode_is_a_message(dashboard, library):
    library.decode_error = ApiError("activations_missing", "job has no stored model outputs; submit it again")
    at = open_job(dashboard, "job-0")
    at.slider(key="onset-job-0").set_value(0.5).run()
    assert not at.exception
    assert "activations_missing" in at.error[0].value and "submit it again" in at.error[0].value


def test_a_failed_job_shows_why(dashboard, library):
    library.job_states = [library.jobs[1]]
    at = open_job(dashboard, "job-1")
    assert not at.exception
    assert "invalid_audio" in at.error[0].value and "truncated" in at.error[0].value
    assert at.get("download_button") == []


def test_an_unknown_job_in_the_url_is_a_message(dashboard, library):
    def missing(job_id: str):
        raise ApiError("job_not_found", f"no job with id {job_id}", 404)

    library.get_job = missing
    at = open_job(dashboard, "nope")
    assert not at.exception
    assert "job_not_found" in at.error[0].value
    assert links(at) == ["Library"]  # the way back


def test_delete_from_the_list_calls_the_api(dashboard, library):
    at = dashboard(LIBRARY)
    at.button(key="delete-job-0").click().run()
    assert not at.exception
    assert library.called("delete") == ["job-0"]
    assert "Deleted nocturne.wav." in at.success[0].value
    assert links(at) == ["scales.mp3", "Nocturne take 2.flac"]


def test_delete_of_an_open_job_goes_back_to_the_list(dashboard, library):
    at = open_job(dashboard, "job-0")
    at.button(key="delete-job-0").click().run()
    assert library.called("delete") == ["job-0"]
    assert "job" not in at.query_params
    assert links(at) == ["scales.mp3", "Nocturne take 2.flac"]


def test_a_refused_delete_is_a_message(dashboard, library):
    library.delete_error = ApiError("job_active", "job job-0 is running; cancel it before deleting", 409)
    at = dashboard(LIBRARY)
    at.button(key="delete-job-0").click().run()
    assert "job_active" in at.error[0].value


def test_an_opened_job_plays_its_upload_under_the_piano_roll(dashboard, library, job):
    import base64

    library.job_states = [
        job("succeeded", id="job-0", filename="nocturne.mp3", note_count=4, audio_duration_s=1.5,
            score={"found": True, "key": "Ab major"})
    ]  # fmt: skip
    library.audio = (b"ID3-the-upload-itself", "audio/mpeg")
    at = open_job(dashboard, "job-0")
    assert not at.exception
    assert library.called("get_audio") == ["job-0"]
    player = at.get("iframe")[0].proto.srcdoc
    upload = base64.b64encode(b"ID3-the-upload-itself").decode()
    assert f"data:audio/mpeg;base64,{upload}" in player  # the upload as sent, with its content type
    assert "<option>Original recording</option><option>MIDI rendering</option>" in player
    assert '"piano_roll_box"' in player  # it drives the roll in that container
    assert any("spelled in Ab major" in c.value for c in at.caption)


def test_a_missing_upload_leaves_the_midi_rendering_to_play(dashboard, library):
    library.audio_error = ApiError("upload_missing", "the uploaded recording is gone from storage")
    at = open_job(dashboard, "job-0")
    assert not at.exception
    player = at.get("iframe")[0].proto.srcdoc
    assert "Original recording" not in player and "<option>MIDI rendering</option>" in player
    assert any("upload_missing" in c.value for c in at.caption)
