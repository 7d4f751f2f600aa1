"""The score on the real stack: a job's MusicXML and quantized MIDI beside its MIDI, its beats in the job's
results and in the MIDI's tempo map, GET /v1/jobs/{id}/score.musicxml and score.mid, a recording with no
steady beat, and a job without score=true."""

import io
from pathlib import Path

import music21
import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from service_testkit import Stack, long_clip, piano_clip

from piano_ai.storage import job_keys

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MUSICXML = "application/vnd.recordare.musicxml+xml"
PERIOD_S = 0.6  # 100 bpm


def steady(path: Path, count: int = 24, sr: int = 16000) -> Path:
    """Piano-like tones every PERIOD_S, each bar's first lower and louder."""
    audio = np.zeros(int((count * PERIOD_S + 1.0) * sr), dtype=np.float32)
    t = np.arange(int(0.3 * sr)) / sr
    for i in range(count):
        pitch = 48 if i % 4 == 0 else 60 + (i % 4) * 4
        tone = (0.6 if i % 4 == 0 else 0.3) * np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * t)
        at = int(i * PERIOD_S * sr)
        audio[at : at + t.size] += (tone * np.exp(-t * 12)).astype(np.float32)
    sf.write(path, audio, sr)
    return path


def _submit(stack: Stack, path: Path, **form: str) -> str:
    with path.open("rb") as audio:
        response = stack.client.post("/v1/jobs", files={"file": (path.name, audio)}, data=form)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_a_job_serves_its_score_and_its_beats(stack: Stack, tmp_path: Path) -> None:
    job_id = _submit(stack, steady(tmp_path / "Waltz.wav"), score="true")
    early = stack.client.get(f"/v1/jobs/{job_id}/score.musicxml")
    if early.status_code != 200:  # still queued or running (a fast machine may have finished)
        assert early.status_code == 409 and early.headers["content-type"] == "application/problem+json"
    job = stack.wait_for(job_id)
    assert job["status"] == "succeeded", job
    score = job["score"]
    assert score["found"] and score["note"] == "" and score["tempo_bpm"] == pytest.approx(100, abs=5)
    assert score["time_signature"] in ("3/4", "4/4") and score["key"].endswith(("major", "minor"))
    response = stack.client.get(job["links"]["score"])
    assert response.status_code == 200 and response.headers["content-type"] == MUSICXML
    assert "Waltz.musicxml" in response.headers["content-disposition"]
    parsed = music21.converter.parseData(response.content.decode())
    assert len(parsed.parts) == 2 and len(parsed.flatten().notes) > 0
    midi = pretty_midi.PrettyMIDI(io.BytesIO(stack.client.get(job["links"]["midi"]).content))
    beats = midi.get_beats()
    first = int(np.argmin(np.abs(beats - score["beats"][0])))
    tracked = score["beats"]
    # The MIDI's beats are the tracked ones (a first beat within 10 ms of the start is moved to 0 s).
    np.testing.assert_allclose(beats[first + 1 : first + len(tracked)], tracked[1:], atol=1e-3)
    assert stack.storage.exists(job_keys(job_id).score)
    quantized = stack.client.get(job["links"]["score_midi"])  # the score's notes at one tempo
    assert quantized.status_code == 200 and "Waltz.quantized.mid" in quantized.headers["content-disposition"]
    as_score = pretty_midi.PrettyMIDI(io.BytesIO(quantized.content))
    assert len(as_score.get_tempo_changes()[1]) == 1 and sum(len(i.notes) for i in as_score.instruments) > 0
    assert stack.client.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert stack.storage.list(f"jobs/{job_id}/") == []  # deleted with the job


def test_no_steady_beat_still_gives_a_score_with_a_note(stack: Stack, tmp_path: Path) -> None:
    chord = piano_clip(tmp_path / "chord.wav", pitches=(48, 55), seconds=2.0)
    job = stack.wait_for(_submit(stack, chord, score="true"))
    assert job["status"] == "succeeded" and job["score"]["found"] is False
    assert job["score"]["note"].startswith("no steady beat")
    response = stack.client.get(job["links"]["score"])
    assert response.status_code == 200 and b"no steady beat found" in response.content


def test_score_false_makes_no_score(stack: Stack, tmp_path: Path) -> None:
    job = stack.wait_for(_submit(stack, long_clip(tmp_path / "plain.wav", seconds=12)))  # no score=true
    assert job["status"] == "succeeded" and job["params"]["score"] is False and job["score"] is None
    response = stack.client.get(f"/v1/jobs/{job['id']}/score.musicxml")
    assert response.status_code == 404 and response.json()["code"] == "score_not_found"
    assert not stack.storage.exists(job_keys(job["id"]).score)
    assert not stack.storage.exists(job_keys(job["id"]).score_midi)
