"""Re-decoding a finished job (POST .../decode, downloads with parameters, PATCH) and the list's search,
on SQLite + local storage with stored model outputs written as the worker writes them."""

import io
from collections.abc import Callable

import numpy as np
import pytest
from service_testkit import ApiHarness

from piano_ai import activations
from piano_ai.constants import LOWEST_KEY, N_KEYS, SECONDS_PER_FRAME
from piano_ai.db import jobs as job_store
from piano_ai.db.session import get_session_factory
from piano_ai.midi_io import midi_to_notes, notes_to_json, write_midi
from piano_ai.notes import notes_from_activations
from piano_ai.storage import job_keys
from piano_ai.types import Activations, NoteParams

FRAMES = 100  # 3.2 s of model outputs
PROBLEM = "application/problem+json"


def two_notes() -> Activations:
    """C4 struck at frame 10 (onset 0.9, sounding 20 frames) and E4 at frame 40 (onset 0.21 and a silent
    frame head: the shipped onset network gives it 0.45, so it is heard at onset threshold 0.2, not at the
    default)."""
    onset, frame, offset, velocity = (np.zeros((FRAMES, N_KEYS), np.float32) for _ in range(4))
    for pitch, at, peak, sounding in ((60, 10, 0.9, 0.9), (64, 40, 0.21, 0.0)):
        key = pitch - LOWEST_KEY
        onset[at, key] = peak
        frame[at : at + 20, key] = sounding
        velocity[at - 1 : at + 2, key] = 0.5
    return Activations(onset, frame, offset, velocity)


def finish_with_outputs(api: ApiHarness, job_id: str, outputs: Activations, store: bool = True) -> None:
    """Do what a worker does: claim, store the outputs, MIDI and notes at the job's parameters, succeed."""
    keys = job_keys(job_id)
    with get_session_factory()() as session:
        job = job_store.get_job(session, job_id)
        attempt = job_store.claim(session, job_id, "test-worker")
        assert job is not None and attempt == 1
        notes = notes_from_activations(outputs, NoteParams(**job.params))
        if store:
            api.storage.put_bytes(keys.activations, activations.dumps(outputs))
        api.storage.put_bytes(keys.notes, notes_to_json(notes).encode())
        api.storage.put_file(keys.midi, write_midi(notes, api.storage.root.parent / "tmp.mid"))
        assert job_store.succeed(
            session, job_id, attempt, midi_key=keys.midi, notes_key=keys.notes, note_count=len(notes)
        )


@pytest.fixture
def finished(api: ApiHarness, submit: Callable[..., dict]) -> str:
    job_id = submit()["id"]
    finish_with_outputs(api, job_id, two_notes())
    return str(job_id)


def test_decode_with_a_lower_onset_threshold_finds_the_softer_note(api: ApiHarness, finished: str) -> None:
    assert api.client.get(f"/v1/jobs/{finished}").json()["note_count"] == 1  # defaults: onset 0.6
    response = api.client.post(f"/v1/jobs/{finished}/decode", json={"onset_threshold": 0.2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["params"] == {
        **vars(NoteParams()),
        "onset_threshold": 0.2,
        "score": False,
    }  # the rest: the job's
    assert body["note_count"] == 2
    assert [(n["pitch"], n["start"]) for n in body["notes"]] == [
        (60, pytest.approx(10 * SECONDS_PER_FRAME)),
        (64, pytest.approx(40 * SECONDS_PER_FRAME)),
    ]
    assert body["links"]["midi"].startswith(f"/v1/jobs/{finished}/midi?onset_threshold=0.2&")
    job = api.client.get(f"/v1/jobs/{finished}").json()  # the job itself is unchanged
    assert (job["note_count"], job["params"]["onset_threshold"]) == (1, NoteParams().onset_threshold)
    assert len(api.client.get(f"/v1/jobs/{finished}/notes").json()["notes"]) == 1


def test_decode_without_parameters_gives_the_job_s_own_notes(api: ApiHarness, finished: str) -> None:
    body = api.client.post(f"/v1/jobs/{finished}/decode").json()
    own = api.client.get(f"/v1/jobs/{finished}/notes").json()["notes"]
    assert body["notes"] == own and body["note_count"] == 1


def test_downloads_follow_the_parameters_in_their_link(api: ApiHarness, finished: str, tmp_path) -> None:
    links = api.client.post(f"/v1/jobs/{finished}/decode", json={"onset_threshold": 0.2}).json()["links"]
    midi = api.client.get(links["midi"])
    assert midi.status_code == 200 and midi.headers["content-type"] == "audio/midi"
    (tmp_path / "decoded.mid").write_bytes(midi.content)
    assert [n.pitch for n in midi_to_notes(tmp_path / "decoded.mid")] == [60, 64]
    csv_rows = api.client.get(links["notes_csv"]).text.strip().splitlines()
    assert len(csv_rows) == 3  # header + two notes
    assert len(api.client.get(f"/v1/jobs/{finished}/notes?onset_threshold=0.2").json()["notes"]) == 2
    (tmp_path / "own.mid").write_bytes(api.client.get(f"/v1/jobs/{finished}/midi").content)
    assert [n.pitch for n in midi_to_notes(tmp_path / "own.mid")] == [60]


def test_the_frame_threshold_ends_notes_only_by_the_rule(api: ApiHarness, finished: str) -> None:
    def c4_end(change: dict) -> float:
        response = api.client.post(f"/v1/jobs/{finished}/decode", json=change)
        assert response.status_code == 200, response.text
        assert response.json()["params"]["ends"] == change.get("ends", "network")
        return next(n["end"] for n in response.json()["notes"] if n["pitch"] == 60)

    # C4 sounds from frame 10 to 29: by the rule it ends there, or right after its onset when the frame
    # threshold is above the head; the network's choice does not read the threshold
    assert c4_end({"ends": "rule"}) == pytest.approx(29 * SECONDS_PER_FRAME)
    assert c4_end({"ends": "rule", "frame_threshold": 0.95}) == pytest.approx(11 * SECONDS_PER_FRAME)
    assert c4_end({"frame_threshold": 0.95}) == c4_end({})
    bad = api.client.post(f"/v1/jobs/{finished}/decode", json={"ends": "guess"})
    assert bad.status_code == 422


def test_patch_saves_the_parameters_as_the_job_s_own(api: ApiHarness, finished: str, tmp_path) -> None:
    response = api.client.patch(f"/v1/jobs/{finished}", json={"note_params": {"onset_threshold": 0.2}})
    assert response.status_code == 200, response.text
    job = response.json()
    assert (job["note_count"], job["params"]["onset_threshold"]) == (2, 0.2)
    assert job["params"]["frame_threshold"] == NoteParams().frame_threshold
    assert api.client.get(f"/v1/jobs/{finished}").json() == job
    assert [n["pitch"] for n in api.client.get(f"/v1/jobs/{finished}/notes").json()["notes"]] == [60, 64]
    (tmp_path / "saved.mid").write_bytes(api.client.get(f"/v1/jobs/{finished}/midi").content)
    assert [n.pitch for n in midi_to_notes(tmp_path / "saved.mid")] == [60, 64]
    back = api.client.patch(
        f"/v1/jobs/{finished}", json={"note_params": {"onset_threshold": NoteParams().onset_threshold}}
    )
    assert back.json()["note_count"] == 1  # and back again: the model's outputs are still there


@pytest.mark.parametrize(
    ("method", "body"),
    [("post", {"onset_threshold": 1.5}), ("patch", {"note_params": {"min_note_ms": -1}})],
)
def test_out_of_range_parameters_are_422(api: ApiHarness, finished: str, method: str, body: dict) -> None:
    path = f"/v1/jobs/{finished}/decode" if method == "post" else f"/v1/jobs/{finished}"
    response = api.client.request(method.upper(), path, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "invalid_parameters"


def test_an_unfinished_or_unknown_job_cannot_be_decoded(api: ApiHarness, submit: Callable[..., dict]) -> None:
    queued = submit()["id"]
    response = api.client.post(f"/v1/jobs/{queued}/decode", json={})
    assert (response.status_code, response.json()["code"]) == (409, "job_not_succeeded")
    missing = api.client.post("/v1/jobs/no-such-job/decode", json={})
    assert (missing.status_code, missing.json()["code"]) == (404, "job_not_found")


def test_a_job_without_stored_outputs_says_so(api: ApiHarness, submit: Callable[..., dict]) -> None:
    job_id = submit()["id"]
    finish_with_outputs(api, job_id, two_notes(), store=False)  # finished before outputs were kept
    response = api.client.post(f"/v1/jobs/{job_id}/decode", json={"onset_threshold": 0.2})
    assert (response.status_code, response.json()["code"]) == (409, "activations_missing")
    assert "submit it again" in response.json()["detail"]
    assert api.client.get(f"/v1/jobs/{job_id}/midi").status_code == 200  # its own MIDI still downloads


def test_delete_removes_the_stored_outputs(api: ApiHarness, finished: str) -> None:
    assert api.storage.exists(job_keys(finished).activations)
    assert api.client.delete(f"/v1/jobs/{finished}").status_code == 204
    assert api.storage.list() == []


def test_list_searches_file_names_and_filters_status(
    api: ApiHarness, submit: Callable[..., dict], wav_bytes: bytes
) -> None:
    ids = {name: submit(name=name)["id"] for name in ("Chopin Nocturne.wav", "scales_100%.wav", "bach.wav")}
    finish_with_outputs(api, ids["bach.wav"], two_notes())

    def names(query: str) -> list[str]:
        response = api.client.get(f"/v1/jobs?{query}")
        assert response.status_code == 200, response.text
        return [job["filename"] for job in response.json()["items"]]

    assert names("q=nocturne") == ["Chopin Nocturne.wav"]  # any case
    assert names("q=100%25") == ["scales_100%.wav"]  # % is literal, not a wildcard
    assert names("q=s_1") == ["scales_100%.wav"]  # and so is _
    assert names("q=.wav") == ["bach.wav", "scales_100%.wav", "Chopin Nocturne.wav"]  # newest first
    assert names("q=.wav&status=queued") == ["scales_100%.wav", "Chopin Nocturne.wav"]
    assert names("q=.wav&status=succeeded") == ["bach.wav"]
    assert names("q=mozart") == []
    page = api.client.get("/v1/jobs?q=.wav&limit=2").json()
    older = api.client.get(f"/v1/jobs?q=.wav&limit=2&cursor={page['next_cursor']}").json()
    assert [j["filename"] for j in older["items"]] == ["Chopin Nocturne.wav"] and older["next_cursor"] is None


def test_stored_outputs_are_small(finished: str, api: ApiHarness) -> None:
    data = api.storage.get_bytes(job_keys(finished).activations)
    assert len(data) < FRAMES * N_KEYS  # under a byte per value once compressed
    with np.load(io.BytesIO(data)) as npz:
        assert npz["onset"].dtype == np.uint8
