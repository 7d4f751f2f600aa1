"""The Convert page's "Sheet music" view: the job's MusicXML, fetched through the client, engraved by verovio
to SVG a page at a time, with downloads of the MusicXML and the quantized MIDI; a note when no steady beat was
found; nothing fetched without a score."""

from pathlib import Path

import pytest

from piano_ai.score.beats import Beats
from piano_ai.score.pipeline import score_notes
from piano_ai.types import Note
from piano_dashboard.client import ApiError, JobParams
from piano_dashboard.sheet_music import engrave

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "score" / "clip.musicxml"
JOB_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
LINKS = {
    "self": f"/v1/jobs/{JOB_ID}",
    "midi": f"/v1/jobs/{JOB_ID}/midi",
    "score": f"/v1/jobs/{JOB_ID}/score.musicxml",
}
SCORE = {
    "found": True,
    "note": "",
    "key": "Eb major",
    "time_signature": "3/4",
    "tempo_bpm": 92.4,
    "pedal_marks": 3,
}


@pytest.fixture(scope="module")
def long_score() -> bytes:
    """48 bars of running sixteenths in both hands: more than one page."""
    beats = Beats(tuple(0.5 * i for i in range(193)), tuple(i % 4 + 1 for i in range(193)), 4, True)
    notes = [Note(60 + (i * 5) % 19, 0.125 * i, 0.125 * i + 0.12, 80) for i in range(768)]
    notes += [Note(36 + (i * 7) % 17, 0.5 * i, 0.5 * i + 0.45, 70) for i in range(192)]
    return score_notes(notes, beats, 96.0).musicxml


def result_page(dashboard, fake_api, job, short_wav, **score):
    fake_api.job_states = [
        job("succeeded", note_count=4, audio_duration_s=1.0, links=LINKS, score=score or SCORE)
    ]
    at = dashboard()
    at.file_uploader[0].set_value(("Nocturne.wav", short_wav, "audio/wav"))
    at.run()
    at.button[0].click()  # Transcribe
    return at.run()


def svg_pages(at) -> list[str]:
    return [url for image in at.get("image") for url in image.value]


def test_the_score_is_engraved_with_a_download(dashboard, fake_api, job, short_wav):
    fake_api.musicxml = GOLDEN.read_bytes()
    at = result_page(dashboard, fake_api, job, short_wav)
    assert not at.exception and [e.value for e in at.error] == []
    assert "Sheet music" in [h.value for h in at.subheader]
    assert fake_api.called("get_score") == [JOB_ID]
    labels = [b.label for b in at.get("download_button")]
    assert "Download MusicXML" in labels and "Download quantized MIDI" in labels
    assert fake_api.called("get_score_midi") == [JOB_ID]
    assert "Eb major · 3/4 · ♩ = 92 · 3 pedal marks" in [c.value for c in at.caption]
    (image,) = svg_pages(at)
    assert image.startswith("data:image/svg+xml")  # the engraved SVG, inline
    assert len(at.number_input) == 1  # the page picker is for long scores only: this is the threshold knob


def test_no_steady_beat_is_said_above_the_score(dashboard, fake_api, job, short_wav):
    fake_api.musicxml = GOLDEN.read_bytes()
    at = result_page(
        dashboard, fake_api, job, short_wav, found=False, note="no steady beat: only 1 distinct note onsets"
    )
    assert not at.exception
    assert any("no steady beat: only 1 distinct note onsets" in w.value for w in at.warning)
    assert len(svg_pages(at)) == 1


def test_a_long_score_is_paged(dashboard, fake_api, job, short_wav, long_score):
    pages = engrave(long_score)
    assert len(pages) >= 2 and all(p.lstrip().startswith(("<svg", "<?xml")) for p in pages)
    fake_api.musicxml = long_score
    at = result_page(dashboard, fake_api, job, short_wav)
    picker = at.number_input(key=f"score-page-{JOB_ID}")
    assert picker.value == 1 and picker.label == f"Page (of {len(pages)})"
    first = svg_pages(at)
    at = picker.set_value(2).run()
    assert not at.exception and svg_pages(at) != first
    assert fake_api.called("get_score") == [JOB_ID]  # fetched once, kept for the session
    assert fake_api.called("get_score_midi") == [JOB_ID]


def test_a_job_without_a_score_fetches_none(dashboard, fake_api, job, short_wav):
    fake_api.job_states = [job("succeeded", note_count=4, audio_duration_s=1.0)]
    at = dashboard()
    at.file_uploader[0].set_value(("clip.wav", short_wav, "audio/wav"))
    at.run()
    at.button[0].click()
    at = at.run()
    assert not at.exception and fake_api.called("get_score") == [] and fake_api.called("get_score_midi") == []
    assert any("No sheet music for this job" in i.value for i in at.info)


def test_an_api_error_is_a_message(dashboard, fake_api, job, short_wav):
    fake_api.score_error = ApiError("result_missing", "the MusicXML file is gone from storage", 410)
    at = result_page(dashboard, fake_api, job, short_wav)
    assert not at.exception
    assert any("result_missing" in e.value and "gone from storage" in e.value for e in at.error)


def test_a_score_without_quantized_midi_still_shows(dashboard, fake_api, job, short_wav):
    fake_api.musicxml = GOLDEN.read_bytes()
    fake_api.score_midi_error = ApiError(
        "result_missing", "the quantized MIDI file is gone from storage", 410
    )
    at = result_page(dashboard, fake_api, job, short_wav)
    assert not at.exception and len(svg_pages(at)) == 1
    assert [b.label for b in at.get("download_button") if "quantized" in b.label] == []
    assert any("No quantized MIDI: the quantized MIDI file is gone" in c.value for c in at.caption)


def test_the_sheet_music_option_is_sent_with_the_job(dashboard, fake_api, short_wav):
    at = dashboard()
    at.file_uploader[0].set_value(("clip.wav", short_wav, "audio/wav"))
    at.run()
    at.checkbox[0].uncheck()
    at.button[0].click()
    at.run()
    assert fake_api.called("submit") == [("clip.wav", len(short_wav), JobParams(score=False))]
