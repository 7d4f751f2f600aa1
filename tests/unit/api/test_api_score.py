"""The score through the API: the upload's ``score`` option, the job's score results,
GET /v1/jobs/{id}/score.musicxml and GET /v1/jobs/{id}/score.mid (a worker's results are written to the row
and storage directly)."""

from collections.abc import Callable
from typing import Any

import pytest
from service_testkit import ApiHarness

from piano_ai.db import jobs as job_store
from piano_ai.db.session import get_session_factory
from piano_ai.storage import job_keys

MUSICXML = "application/vnd.recordare.musicxml+xml"
SUMMARY = {
    "found": True,
    "note": "",
    "key": "Ab major",
    "time_signature": "3/4",
    "tempo_bpm": 100.0,
    "pedal_marks": 2,
    "beats": [0.1, 0.7, 1.3, 1.9],
    "downbeats": [0.1, 1.9],
}
XML = b"<?xml version='1.0'?><score-partwise/>"
QUANTIZED = b"MThd quantized"
# The score's files: (route, job link, media type, download name for Nocturne.wav, content written).
SCORE_FILES = [
    ("score.musicxml", "score", MUSICXML, "Nocturne.musicxml", XML),
    ("score.mid", "score_midi", "audio/midi", "Nocturne.quantized.mid", QUANTIZED),
]
ROUTES = pytest.mark.parametrize("route", [f[0] for f in SCORE_FILES])


def _finish(api: ApiHarness, job_id: str, musicxml: bytes | None, score: dict[str, Any] | None) -> None:
    """What a worker run leaves behind: MIDI, notes and (when made) the MusicXML, and the row's results."""
    keys = job_keys(job_id, "wav")
    with get_session_factory()() as session:
        attempt = job_store.claim(session, job_id, "test-worker")
        assert attempt == 1
        api.storage.put_bytes(keys.midi, b"MThd")
        api.storage.put_bytes(keys.notes, b'{"notes": []}')
        results: dict[str, Any] = {"midi_key": keys.midi, "notes_key": keys.notes, "note_count": 0}
        if musicxml is not None:
            api.storage.put_bytes(keys.score, musicxml)
            api.storage.put_bytes(keys.score_midi, QUANTIZED)
            results["score_key"] = keys.score
        assert job_store.succeed(session, job_id, attempt, score=score, **results)


@pytest.mark.parametrize(("route", "link", "media_type", "filename", "content"), SCORE_FILES)
def test_the_score_files_are_served_once_the_job_succeeds(
    api: ApiHarness, submit: Callable[..., dict], route: str, link: str, media_type: str, filename: str,
    content: bytes,
) -> None:  # fmt: skip
    job_id = submit(name="Nocturne.wav")["id"]
    early = api.client.get(f"/v1/jobs/{job_id}/{route}")
    assert early.status_code == 409 and early.headers["content-type"] == "application/problem+json"
    assert early.json()["code"] == "job_not_succeeded"
    _finish(api, job_id, XML, SUMMARY)
    job = api.client.get(f"/v1/jobs/{job_id}").json()
    assert job["links"][link] == f"/v1/jobs/{job_id}/{route}"
    assert job["score"] == SUMMARY
    response = api.client.get(job["links"][link])
    assert response.status_code == 200 and response.headers["content-type"] == media_type
    assert response.content == content
    assert f"filename*=utf-8''{filename}" in response.headers["content-disposition"]
    listed = api.client.get("/v1/jobs").json()["items"][0]["score"]  # lists leave the beat times out
    assert listed == SUMMARY | {"beats": None, "downbeats": None}
    assert api.client.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert api.storage.list() == []  # the score's files went with the job


@ROUTES
def test_no_steady_beat_is_a_score_with_a_note(
    api: ApiHarness, submit: Callable[..., dict], route: str
) -> None:
    job_id = submit()["id"]
    summary = SUMMARY | {"found": False, "note": "no steady beat: only 1 distinct note onsets"}
    _finish(api, job_id, b"<score-partwise/>", summary)
    job = api.client.get(f"/v1/jobs/{job_id}").json()
    assert job["score"]["found"] is False and job["score"]["note"].startswith("no steady beat")
    assert api.client.get(f"/v1/jobs/{job_id}/{route}").status_code == 200


@ROUTES
def test_score_false_skips_it_and_the_route_says_why(api: ApiHarness, wav_bytes: bytes, route: str) -> None:
    created = api.client.post("/v1/jobs", files={"file": ("clip.wav", wav_bytes)}, data={"score": "false"})
    job = created.json()
    assert created.status_code == 202 and job["params"]["score"] is False
    _finish(api, job["id"], None, None)
    done = api.client.get(f"/v1/jobs/{job['id']}").json()
    assert done["score"] is None and done["links"]["score"] is None and done["links"]["score_midi"] is None
    response = api.client.get(f"/v1/jobs/{job['id']}/{route}")
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "score_not_found" and "without score=true" in response.json()["detail"]


@ROUTES
def test_a_score_that_could_not_be_made_is_404_with_the_reason(
    api: ApiHarness, submit: Callable[..., dict], route: str
) -> None:
    job_id = submit()["id"]
    _finish(api, job_id, None, {"found": False, "note": "no score: ValueError: boom"})
    assert api.client.get(f"/v1/jobs/{job_id}").json()["score"]["note"] == "no score: ValueError: boom"
    response = api.client.get(f"/v1/jobs/{job_id}/{route}")
    assert response.status_code == 404 and "no score: ValueError: boom" in response.json()["detail"]


@pytest.mark.parametrize(("route", "key"), [("score.musicxml", "score"), ("score.mid", "score_midi")])
def test_unknown_job_and_missing_file(
    api: ApiHarness, submit: Callable[..., dict], route: str, key: str
) -> None:
    assert api.client.get(f"/v1/jobs/nope/{route}").json()["code"] == "job_not_found"
    job_id = submit()["id"]
    _finish(api, job_id, b"<score-partwise/>", SUMMARY)
    api.storage.delete(getattr(job_keys(job_id), key))
    response = api.client.get(f"/v1/jobs/{job_id}/{route}")
    assert response.status_code == 410 and response.json()["code"] == "result_missing"


def test_the_score_option_is_part_of_the_idempotent_request(
    api: ApiHarness, submit: Callable[..., dict], wav_bytes: bytes
) -> None:
    submit(headers={"Idempotency-Key": "k-score"})
    other = api.client.post(
        "/v1/jobs",
        files={"file": ("clip.wav", wav_bytes)},
        data={"score": "true"},
        headers={"Idempotency-Key": "k-score"},
    )
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
