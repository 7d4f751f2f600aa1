"""POST/GET/DELETE /v1/jobs on SQLite + local storage (the queue is recorded, not a broker)."""

from collections.abc import Callable

from service_testkit import ApiHarness

from piano_ai.db import jobs as job_store
from piano_ai.db.session import get_session_factory
from piano_ai.midi_io import notes_to_json, write_midi
from piano_ai.storage import job_keys
from piano_ai.types import Note, NoteParams

PROBLEM = "application/problem+json"


def _rows() -> int:
    with get_session_factory()() as session:
        return len(job_store.list_jobs(session, limit=1000)[0])


def _finish(api: ApiHarness, job_id: str, tmp_notes: list[Note]) -> None:
    """Do what a worker does: claim, store results, succeed."""
    keys = job_keys(job_id)
    with get_session_factory()() as session:
        attempt = job_store.claim(session, job_id, "test-worker")
        assert attempt == 1
        api.storage.put_bytes(keys.notes, notes_to_json(tmp_notes).encode())
        path = api.storage.root.parent / "tmp.mid"
        write_midi(tmp_notes, path)
        api.storage.put_file(keys.midi, path)
        assert job_store.succeed(
            session, job_id, attempt, midi_key=keys.midi, notes_key=keys.notes, note_count=len(tmp_notes)
        )


def test_submit_stores_the_upload_creates_a_queued_job_and_enqueues_it(
    api: ApiHarness, wav_bytes: bytes
) -> None:
    response = api.client.post(
        "/v1/jobs", files={"file": ("../../my take.wav", wav_bytes)}, data={"onset_threshold": "0.4"}
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] == "queued" and job["attempts"] == 0 and job["progress"] == 0
    assert job["filename"] == "my take.wav"  # metadata only: path parts dropped
    defaults = NoteParams()  # the knobs not sent keep the model's defaults
    assert job["params"] == {
        "onset_threshold": 0.4,
        "frame_threshold": defaults.frame_threshold,
        "offset_threshold": defaults.offset_threshold,
        "min_note_ms": defaults.min_note_ms,
        "pedal": "cc64",
        "ends": "network",
        "score": False,  # sheet music only when asked for
    }
    assert job["links"] == {
        "self": f"/v1/jobs/{job['id']}", "audio": f"/v1/jobs/{job['id']}/audio",
        "midi": None, "notes": None, "notes_csv": None, "score": None, "score_midi": None,
    }  # fmt: skip
    assert job["score"] is None
    assert job["created_at"].endswith("Z") and job["error"] is None
    assert api.enqueued == [job["id"]]
    assert api.storage.list() == [f"jobs/{job['id']}/input.wav"]
    assert api.storage.get_bytes(f"jobs/{job['id']}/input.wav") == wav_bytes
    polled = api.client.get(f"/v1/jobs/{job['id']}").json()
    assert polled["enqueued_at"] is not None  # recorded once the queue took the message
    assert polled == {**job, "enqueued_at": polled["enqueued_at"]}


def test_bad_parameters_are_422_with_a_code(api: ApiHarness, wav_bytes: bytes) -> None:
    response = api.client.post(
        "/v1/jobs", files={"file": ("a.wav", wav_bytes)}, data={"frame_threshold": "1.5"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "invalid_parameters"
    assert "frame_threshold" in response.json()["detail"]
    assert _rows() == 0 and api.storage.list() == [] and api.enqueued == []


def test_missing_file_field_is_422(api: ApiHarness) -> None:
    # multipart, but the recording is under another field name
    response = api.client.post(
        "/v1/jobs", data={"onset_threshold": "0.4"}, files={"audio": ("clip.wav", b"RIFF")}
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"


def test_unknown_job_is_404_problem(api: ApiHarness) -> None:
    response = api.client.get("/v1/jobs/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "job_not_found" and body["status"] == 404 and body["title"] == "Not Found"


def test_list_is_newest_first_with_cursor_and_status_filter(
    api: ApiHarness, submit: Callable[..., dict]
) -> None:
    ids = [submit()["id"] for _ in range(5)]
    first = api.client.get("/v1/jobs", params={"limit": 2}).json()
    assert [j["id"] for j in first["items"]] == ids[::-1][:2]
    second = api.client.get("/v1/jobs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    third = api.client.get("/v1/jobs", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [j["id"] for j in second["items"] + third["items"]] == ids[::-1][2:]
    assert third["next_cursor"] is None
    api.client.post(f"/v1/jobs/{ids[1]}/cancel")
    canceled = api.client.get("/v1/jobs", params={"status": "canceled"}).json()["items"]
    assert [j["id"] for j in canceled] == [ids[1]]
    assert api.client.get("/v1/jobs", params={"status": "bogus"}).status_code == 422
    assert api.client.get("/v1/jobs", params={"cursor": "abc"}).status_code == 422


def test_idempotency_key_replays_the_first_answer(
    api: ApiHarness, submit: Callable[..., dict], wav_bytes: bytes
) -> None:
    first = submit(headers={"Idempotency-Key": "k-1"})
    again = api.client.post(
        "/v1/jobs", files={"file": ("clip.wav", wav_bytes)}, headers={"Idempotency-Key": "k-1"}
    )
    assert again.status_code == 202
    assert again.json()["id"] == first["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == f"/v1/jobs/{first['id']}"
    assert api.enqueued == [first["id"]] and _rows() == 1
    other = api.client.post(
        "/v1/jobs",
        files={"file": ("clip.wav", wav_bytes)},
        data={"min_note_ms": "50"},
        headers={"Idempotency-Key": "k-1"},
    )
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert _rows() == 1 and len(api.storage.list()) == 1


def test_enqueue_failure_leaves_no_row_and_no_file(api: ApiHarness, wav_bytes: bytes) -> None:
    api.fail_enqueue = True
    response = api.client.post("/v1/jobs", files={"file": ("clip.wav", wav_bytes)})
    assert response.status_code == 503 and response.json()["code"] == "queue_unavailable"
    assert _rows() == 0 and api.storage.list() == []


def test_cancel_queued_then_again_then_finished(api: ApiHarness, submit: Callable[..., dict]) -> None:
    job_id = submit()["id"]
    canceled = api.client.post(f"/v1/jobs/{job_id}/cancel")
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled" and canceled.json()["canceled_at"]
    assert api.client.post(f"/v1/jobs/{job_id}/cancel").json()["status"] == "canceled"  # idempotent
    done_id = submit()["id"]
    _finish(api, done_id, [Note(60, 0.0, 0.5, 80)])
    response = api.client.post(f"/v1/jobs/{done_id}/cancel")
    assert response.status_code == 409 and response.json()["code"] == "job_not_active"


def test_results_after_success(api: ApiHarness, submit: Callable[..., dict]) -> None:
    job_id = submit(name="Etude Op. 10.wav")["id"]
    assert api.client.get(f"/v1/jobs/{job_id}/midi").json()["code"] == "job_not_succeeded"
    assert api.client.get(f"/v1/jobs/{job_id}/notes").status_code == 409
    notes = [Note(60, 0.0, 0.5, 80), Note(64, 0.25, 1.0, 70)]
    _finish(api, job_id, notes)
    job = api.client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded" and job["progress"] == 1.0 and job["note_count"] == 2
    assert job["links"]["midi"] == f"/v1/jobs/{job_id}/midi"
    midi = api.client.get(job["links"]["midi"])
    assert midi.status_code == 200 and midi.headers["content-type"] == "audio/midi"
    assert midi.content.startswith(b"MThd")
    assert "Etude%20Op.%2010.mid" in midi.headers["content-disposition"]
    body = api.client.get(job["links"]["notes"]).json()
    assert body == {
        "job_id": job_id,
        "notes": [
            {"pitch": 60, "start": 0.0, "end": 0.5, "velocity": 80},
            {"pitch": 64, "start": 0.25, "end": 1.0, "velocity": 70},
        ],
        "pedal": None,  # this stand-in result was stored without the pedal fields
        "sustain": [],
    }
    csv = api.client.get(job["links"]["notes_csv"])
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines() == ["start_s,end_s,pitch,velocity,name", "0.0000,0.5000,60,80,C4",
                                     "0.2500,1.0000,64,70,E4"]  # fmt: skip
    assert "filename*=utf-8''Etude%20Op.%2010.csv" in csv.headers["content-disposition"]


def test_attachment_names_survive_any_characters() -> None:
    from piano_api.routes.jobs import attachment

    value = attachment('練習曲 "1".csv')
    value.encode("latin-1")  # a header value must be latin-1: a raw CJK name would be a 500
    assert (
        value
        == "attachment; filename=\"___ _1_.csv\"; filename*=utf-8''%E7%B7%B4%E7%BF%92%E6%9B%B2%20%221%22.csv"
    )


def test_delete_only_terminal_jobs_and_remove_their_files(
    api: ApiHarness, submit: Callable[..., dict]
) -> None:
    job_id = submit()["id"]
    response = api.client.delete(f"/v1/jobs/{job_id}")
    assert response.status_code == 409 and response.json()["code"] == "job_active"
    _finish(api, job_id, [Note(60, 0.0, 0.5, 80)])
    assert len(api.storage.list(f"jobs/{job_id}/")) == 3
    assert api.client.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert api.storage.list() == []
    assert api.client.get(f"/v1/jobs/{job_id}").status_code == 404
    assert api.client.delete(f"/v1/jobs/{job_id}").status_code == 404


def test_midi_redirects_to_a_signed_url_when_storage_can_sign(
    api: ApiHarness, submit: Callable[..., dict]
) -> None:
    from piano_ai.storage import LocalStorage
    from piano_api.deps import get_app_storage

    class SigningStorage(LocalStorage):
        def signed_url(self, key: str, ttl_s: int) -> str | None:
            return f"https://storage.example/{key}?X-Goog-Expires={ttl_s}"

    job_id = submit()["id"]
    _finish(api, job_id, [Note(60, 0.0, 0.5, 80)])
    api.client.app.dependency_overrides[get_app_storage] = lambda: SigningStorage(api.storage.root)  # type: ignore[attr-defined]
    response = api.client.get(f"/v1/jobs/{job_id}/midi", follow_redirects=False)
    assert response.status_code == 307
    assert (
        response.headers["location"] == f"https://storage.example/jobs/{job_id}/output.mid?X-Goog-Expires=900"
    )
