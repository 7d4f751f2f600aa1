"""The typed API client against httpx.MockTransport (no network)."""

import json
from datetime import UTC

import httpx
import pytest

from piano_dashboard.client import ApiClient, ApiError, JobParams

JOB_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
JOB = {
    "id": JOB_ID,
    "status": "queued",
    "stage": None,
    "progress": 0.0,
    "filename": "clip.wav",
    "params": {"onset_threshold": 0.5, "frame_threshold": 0.3, "offset_threshold": 0.5, "min_note_ms": 30},
    "attempts": 0,
    "error": None,
    "created_at": "2026-11-25T12:00:00Z",
    "started_at": None,
    "finished_at": None,
    "canceled_at": None,
    "updated_at": "2026-11-25T12:00:00",
    "audio_duration_s": None,
    "note_count": None,
    "links": {"self": f"/v1/jobs/{JOB_ID}", "midi": None, "notes": None},
}


def client_for(handler) -> ApiClient:
    return ApiClient("http://api.test/", transport=httpx.MockTransport(handler))


def test_submit_posts_the_file_and_the_four_knobs_as_multipart():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["method"], seen["path"] = request.method, request.url.path
        seen["body"] = request.read()
        return httpx.Response(202, json=JOB, headers={"Location": f"/v1/jobs/{JOB_ID}"})

    job = client_for(handler).submit("clip.wav", b"RIFF-bytes", JobParams(onset_threshold=0.4))
    assert (seen["method"], seen["path"]) == ("POST", "/v1/jobs")
    body = seen["body"].decode(errors="replace")
    assert 'name="file"; filename="clip.wav"' in body and "RIFF-bytes" in body
    assert 'name="onset_threshold"\r\n\r\n0.4' in body and 'name="min_note_ms"\r\n\r\n30.0' in body
    assert job.id == JOB_ID and job.status == "queued"


def test_timestamps_without_an_offset_are_read_as_utc():
    job = client_for(lambda r: httpx.Response(200, json=JOB)).get_job(JOB_ID)
    assert job.created_at is not None and job.created_at.tzinfo is not None
    assert job.updated_at is not None and job.updated_at.utcoffset() == UTC.utcoffset(None)


def test_problem_json_becomes_api_error_with_code_and_detail():
    problem = {
        "type": "about:blank",
        "title": "Unsupported",
        "status": 415,
        "detail": "x.txt: not audio",
        "code": "invalid_audio",
    }

    def handler(request):
        return httpx.Response(
            415, content=json.dumps(problem), headers={"content-type": "application/problem+json"}
        )

    with pytest.raises(ApiError) as caught:
        client_for(handler).submit("x.txt", b"hello", JobParams())
    assert (caught.value.code, caught.value.message, caught.value.status) == (
        "invalid_audio",
        "x.txt: not audio",
        415,
    )


def test_validation_error_lists_are_joined_into_one_message():
    detail = [{"loc": ["body", "onset_threshold"], "msg": "must be < 1"}]
    with pytest.raises(ApiError) as caught:
        client_for(lambda r: httpx.Response(422, json={"detail": detail})).submit("a.wav", b"", JobParams())
    assert caught.value.code == "http_422"
    assert caught.value.message == "body.onset_threshold: must be < 1"


def test_a_non_json_error_keeps_the_status():
    with pytest.raises(ApiError) as caught:
        client_for(lambda r: httpx.Response(502, text="Bad Gateway")).queue()
    assert (caught.value.code, caught.value.message) == ("http_502", "Bad Gateway")


def test_an_unreachable_server_is_api_unreachable():
    def handler(request):
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ApiError) as caught:
        client_for(handler).list_jobs()
    assert caught.value.code == "api_unreachable"
    assert "http://api.test" in caught.value.message and "make run" in caught.value.message


def test_midi_follows_a_redirect_to_signed_storage():
    def handler(request):
        if request.url.host == "api.test":
            return httpx.Response(307, headers={"Location": "https://storage.test/signed/x.mid?sig=1"})
        return httpx.Response(200, content=b"MThd-midi")

    assert client_for(handler).get_midi(JOB_ID) == b"MThd-midi"


def test_list_jobs_and_queue_parse_the_contract():
    def handler(request):
        if request.url.path == "/v1/jobs":
            assert request.url.params["status"] == "failed" and request.url.params["limit"] == "5"
            return httpx.Response(200, json={"items": [JOB], "next_cursor": None})
        return httpx.Response(
            200,
            json={
                "counts": {"queued": 1, "running": 0, "succeeded": 0, "failed": 0, "canceled": 0},
                "oldest_queued_age_s": 3.5,
                "windows": [{"window_s": 300, "finished": 0, "failed": 0, "mean_latency_s": None}],
                "workers": [{"name": "w1", "last_seen": "2026-11-25T12:00:00+00:00"}],
                "errors_by_code": {},
            },
        )

    api = client_for(handler)
    assert [job.id for job in api.list_jobs(status="failed", limit=5).items] == [JOB_ID]
    stats = api.queue()
    assert stats.counts["queued"] == 1 and stats.windows[0].window_s == 300 and stats.workers[0].name == "w1"


def test_an_answer_that_breaks_the_contract_is_bad_response():
    with pytest.raises(ApiError) as caught:
        client_for(lambda r: httpx.Response(200, json={"id": JOB_ID})).get_job(JOB_ID)
    assert caught.value.code == "bad_response" and f"/v1/jobs/{JOB_ID}" in caught.value.message


def test_library_calls_search_decode_save_and_delete():
    seen: list[tuple[str, str, str, bytes]] = []
    decoded = {
        "job_id": JOB_ID,
        "params": {**JOB["params"], "onset_threshold": 0.4},
        "note_count": 1,
        "notes": [{"pitch": 60, "start": 0.1, "end": 0.5, "velocity": 80}],
        "links": {"midi": f"/v1/jobs/{JOB_ID}/midi?onset_threshold=0.4", "notes_csv": "/x.csv"},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, str(request.url.query, "ascii"), request.read()))
        if request.url.path.endswith("/decode"):
            return httpx.Response(200, json=decoded)
        if request.method == "DELETE":
            return httpx.Response(204)
        if request.url.path.endswith("/midi"):
            return httpx.Response(200, content=b"MThd")
        if request.url.path == "/v1/jobs":
            return httpx.Response(200, json={"items": [JOB], "next_cursor": None})
        return httpx.Response(200, json=JOB)

    client = client_for(handler)
    assert client.list_jobs(status="succeeded", limit=20, q="noct").items[0].id == JOB_ID
    result = client.decode(JOB_ID, JobParams(onset_threshold=0.4))
    assert result.note_count == 1 and result.params.onset_threshold == 0.4
    assert client.download(result.links.midi) == b"MThd"
    client.save_params(JOB_ID, JobParams(onset_threshold=0.4))
    client.delete(JOB_ID)
    assert [(m, p, q) for m, p, q, _ in seen] == [
        ("GET", "/v1/jobs", "limit=20&status=succeeded&q=noct"),
        ("POST", f"/v1/jobs/{JOB_ID}/decode", ""),
        ("GET", f"/v1/jobs/{JOB_ID}/midi", "onset_threshold=0.4"),
        ("PATCH", f"/v1/jobs/{JOB_ID}", ""),
        ("DELETE", f"/v1/jobs/{JOB_ID}", ""),
    ]
    assert json.loads(seen[1][3])["onset_threshold"] == 0.4
    assert json.loads(seen[3][3]) == {"note_params": JobParams(onset_threshold=0.4).model_dump()}


def test_deleting_a_running_job_is_an_api_error():
    problem = {
        "title": "Conflict",
        "status": 409,
        "detail": "job is running; cancel it",
        "code": "job_active",
    }
    client = client_for(lambda r: httpx.Response(409, json=problem))
    with pytest.raises(ApiError) as error:
        client.delete(JOB_ID)
    assert (error.value.code, error.value.status) == ("job_active", 409)


def test_every_request_sends_the_api_key_as_a_bearer_token():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json=JOB)

    client = ApiClient("http://api.test", api_key="pai_secret", transport=httpx.MockTransport(handler))
    client.get_job(JOB_ID)
    client.cancel(JOB_ID)
    assert seen == ["Bearer pai_secret", "Bearer pai_secret"]


def test_a_refused_key_says_how_to_set_one():
    problem = {"status": 401, "code": "invalid_api_key", "detail": "the API key is unknown or revoked"}
    client = client_for(lambda r: httpx.Response(401, json=problem))
    with pytest.raises(ApiError) as error:
        client.list_jobs()
    assert error.value.code == "invalid_api_key" and error.value.status == 401
    assert "PIANO_AI_API_KEY" in error.value.message
