"""Re-decoding on the real stack: a real worker (real model) keeps a job's outputs in storage; the API
(on Postgres) decodes them again with other parameters, serves those downloads, saves them (PATCH), and
deletes the outputs with the job."""

from pathlib import Path

import pytest
from service_testkit import Stack, piano_clip

from piano_ai import activations
from piano_ai.midi_io import midi_to_notes
from piano_ai.storage import job_keys
from piano_ai.types import NoteParams

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _converted(stack: Stack, tmp_path: Path) -> dict:
    clip = piano_clip(tmp_path / "phrase.wav", pitches=(48, 55, 60, 64, 67, 72, 76), seconds=4.0)
    with clip.open("rb") as audio:
        response = stack.client.post("/v1/jobs", files={"file": (clip.name, audio)})
    assert response.status_code == 202, response.text
    job = stack.wait_for(response.json()["id"])
    assert job["status"] == "succeeded", job
    return job


def test_the_worker_keeps_the_outputs_and_the_api_decodes_them_again(stack: Stack, tmp_path: Path) -> None:
    job = _converted(stack, tmp_path)
    job_id = job["id"]
    stored = activations.loads(stack.storage.get_bytes(job_keys(job_id).activations))
    frames = stored.onset.shape[0]
    assert frames == pytest.approx(4.0 * 31.25, abs=2)  # every frame of the 4 s recording

    own = stack.client.post(f"/v1/jobs/{job_id}/decode", json={})
    assert own.status_code == 200, own.text
    assert own.json()["note_count"] == job["note_count"]  # the job's settings: the job's notes
    assert [n["pitch"] for n in own.json()["notes"]] == [
        n["pitch"] for n in stack.client.get(f"/v1/jobs/{job_id}/notes").json()["notes"]
    ]

    # The loosest settings hear at least as many notes as the job's; the strictest at most as many.
    loose = stack.client.post(f"/v1/jobs/{job_id}/decode", json={"onset_threshold": 0.05, "min_note_ms": 0})
    strict = stack.client.post(f"/v1/jobs/{job_id}/decode", json={"onset_threshold": 0.95})
    assert loose.json()["note_count"] >= job["note_count"] >= strict.json()["note_count"]
    assert loose.json()["note_count"] > strict.json()["note_count"]
    midi = stack.client.get(loose.json()["links"]["midi"])
    assert midi.status_code == 200
    (tmp_path / "loose.mid").write_bytes(midi.content)
    assert len(midi_to_notes(tmp_path / "loose.mid")) == loose.json()["note_count"]
    assert stack.job(job_id)["note_count"] == job["note_count"]  # decoding leaves the job as it was


def test_patch_saves_the_parameters_and_delete_removes_the_outputs(stack: Stack, tmp_path: Path) -> None:
    job = _converted(stack, tmp_path)
    job_id = job["id"]
    loose = {"onset_threshold": 0.05, "min_note_ms": 0.0}
    expected = stack.client.post(f"/v1/jobs/{job_id}/decode", json=loose).json()
    saved = stack.client.patch(f"/v1/jobs/{job_id}", json={"note_params": loose})
    assert saved.status_code == 200, saved.text
    assert saved.json()["params"] == {**vars(NoteParams()), **loose, "score": False}
    assert saved.json()["note_count"] == expected["note_count"]
    assert stack.client.get(f"/v1/jobs/{job_id}/notes").json()["notes"] == expected["notes"]
    (tmp_path / "saved.mid").write_bytes(stack.client.get(f"/v1/jobs/{job_id}/midi").content)
    assert len(midi_to_notes(tmp_path / "saved.mid")) == expected["note_count"]

    assert stack.client.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert stack.storage.list(job_keys(job_id).prefix) == []
    assert stack.client.post(f"/v1/jobs/{job_id}/decode", json={}).status_code == 404
