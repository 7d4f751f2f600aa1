"""The score through the API: the upload's ``score`` option, the job's score results and
GET /v1/jobs/{id}/score.musicxml (a worker's results are written to the row and storage directly)."""

from collections.abc import Callable
from typing import Any

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
            results["score_key"] = keys.score
        assert job_store.succeed(session, job_id, attempt, score=score, **results)


def test_the_score_is_served_as_musicxml_once_the_job_succeeds(
    api: ApiHarness, submit: Callable[..., dict]
) -> None:
    job_id = submit(name="Nocturne.wav")["id"]
    early = api.client.get(f"/v1/jobs/{job_id}/score.musicxml")
    assert early.status_code == 409 and early.headers["content-type"] == "application/problem+json"
    assert early.json()["code"] == "job_not_succeeded"
    _finish(api, job_id, b"<?xml version='1.0'?><score-partwise/>", SUMMARY)
    job = api.client.get(f"/v1/jobs/{job_id}").json()
    assert job["links"]["score"] == f"/v1/jobs/{job_id}/score.musicxml"
    assert job["score"] == SUMMARY
    response = api.client.get(job["links"]["score"])
    assert response.status_code == 200 and response.headers["content-type"] == MUSICXML
    assert response.content == b"<?xml version='1.0'?><score-partwise/>"
    assert "filename*=utf-8''Nocturne.musicxml" in response.headers["content-disposition"]
    listed = api.client.get("/v1/jobs").json()["items"][0]["score"]  # lists leave the beat times out
    assert listed == SUMMARY | {"beats": None, "downbeats": None}
    assert api.client.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert api.storage.list() == []  # the MusicXML went with the job


def test_no_steady_beat_is_a_score_with_a_note(api: ApiHarness, submit: Callable[..., dict]) -> None:
    job_id = submit()["id"]
    summary = SUMMARY | {"found": False, "note": "no steady beat: only 1 distinct note onsets"}
    _finish(api, job_id, b"<score-partwise/>", summary)
    job = api.client.get(f"/v1/jobs/{job_id}").json()
    assert job["score"]["found"] is False and job["score"]["note"].startswith("no steady beat")
    assert api.client.get(f"/v1/jobs/{job_id}/score.musicxml").status_code == 200


def test_score_false_skips_it_and_the_route_says_why(api: ApiHarness, wav_bytes: bytes) -> None:
    created = api.client.post("/v1/jobs", files={"file": ("clip.wav", wav_bytes)}, data={"score": "false"})
    job = created.json()
    assert created.status_code == 202 and job["params"]["score"] is False
    _finish(api, job["id"], None, None)
    done = api.client.get(f"/v1/jobs/{job['id']}").json()
    assert done["score"] is None and done["links"]["score"] is None
    response = api.client.get(f"/v1/jobs/{job['id']}/score.musicxml")
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "score_not_found" and "without score=true" in response.json()["detail"]


def test_a_score_that_could_not_be_made_is_404_with_the_reason(
    api: ApiHarness, submit: Callable[..., dict]
) -> None:
    job_id = submit()["id"]
    _finish(api, job_id, None, {"found": False, "note": "no score: ValueError: boom"})
    assert api.client.get(f"/v1/jobs/{job_id}").json()["score"]["note"] == "no score: ValueError: boom"
    response = api.client.get(f"/v1/jobs/{job_id}/score.musicxml")
    assert response.status_code == 404 and "no score: ValueError: boom" in response.json()["detail"]


def test_unknown_job_and_missing_file(api: ApiHarness, submit: Callable[..., dict]) -> None:
    assert api.client.get("/v1/jobs/nope/score.musicxml").json()["code"] == "job_not_found"
    job_id = submit()["id"]
    _finish(api, job_id, b"<score-partwise/>", SUMMARY)
    api.storage.delete(job_keys(job_id).score)
    response = api.client.get(f"/v1/jobs/{job_id}/score.musicxml")
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
