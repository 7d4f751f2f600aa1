"""The Convert page, driven through AppTest against a fake API client."""

import io

import pretty_midi

from piano_dashboard.client import ApiError, JobParams


def upload(at, name, content):
    at.file_uploader[0].set_value((name, content, "audio/wav"))
    return at.run()


def transcribe(at):
    at.button[0].click()  # the form's one submit button: Transcribe
    return at.run()


def test_without_an_upload_it_asks_for_one(dashboard):
    at = dashboard()
    assert not at.exception
    assert "Upload a piano recording" in at.info[0].value
    assert at.get("plotly_chart") == []


def test_an_upload_shows_waveform_and_spectrogram_before_submitting(dashboard, short_wav, fake_api):
    at = upload(dashboard(), "clip.wav", short_wav)
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2  # waveform + log-mel spectrogram
    assert "press **Transcribe**" in at.info[0].value
    assert fake_api.called("submit") == []


def test_upload_submit_result(dashboard, short_wav, fake_api):
    at = upload(dashboard(), "clip.wav", short_wav)
    at.slider[0].set_value(0.4)  # onset threshold
    at = transcribe(at)

    assert not at.exception
    assert [e.value for e in at.error] == []
    assert fake_api.called("submit") == [("clip.wav", len(short_wav), JobParams(onset_threshold=0.4))]
    assert fake_api.called("get_midi")
    assert "Transcribed 4 notes" in at.success[0].value
    assert [b.label for b in at.get("download_button")] == ["Download .mid", "Notes CSV", "Notes JSON"]
    assert len(at.get("plotly_chart")) >= 3  # waveform, spectrogram, piano roll (+ histogram)
    assert {m.label: m.value for m in at.metric}["Notes"] == "4"
    assert len(at.get("iframe")) == 2  # the piano roll's player, SynthViz


def test_a_running_job_shows_stage_and_progress(dashboard, short_wav, fake_api, job):
    fake_api.job_states = [job("running", stage="inference", progress=0.45)]
    at = transcribe(upload(dashboard(), "clip.wav", short_wav))
    assert not at.exception
    bar = at.get("progress")[0]
    assert "inference" in bar.proto.text and bar.proto.value == 45
    assert at.button(key=f"cancel-{fake_api.job_states[0].id}").label == "Cancel job"


def test_a_failed_job_shows_the_api_code_and_message(dashboard, short_wav, fake_api, job):
    error = {"code": "invalid_audio", "message": "clip.wav: file is not decodable audio (truncated)"}
    fake_api.job_states = [job("failed", error=error)]
    at = transcribe(upload(dashboard(), "clip.wav", short_wav))
    assert not at.exception
    assert len(at.error) == 1
    assert "invalid_audio" in at.error[0].value and "truncated" in at.error[0].value
    assert at.get("download_button") == []


def test_a_rejected_upload_shows_the_api_code_and_message(dashboard, short_wav, fake_api):
    fake_api.submit_error = ApiError("payload_too_large", "the file is 250 MB; the limit is 200 MB", 413)
    at = transcribe(upload(dashboard(), "clip.wav", short_wav))
    assert not at.exception
    assert "payload_too_large" in at.error[0].value and "limit is 200 MB" in at.error[0].value
    assert fake_api.called("get_job") == []


def test_an_unreachable_api_is_a_message_not_a_stack_trace(dashboard, short_wav, fake_api):
    fake_api.submit_error = ApiError("api_unreachable", "cannot reach the API at http://fake-api")
    at = transcribe(upload(dashboard(), "clip.wav", short_wav))
    assert not at.exception
    assert "api_unreachable" in at.error[0].value


def test_an_undecodable_file_is_refused_before_submitting(dashboard, fake_api):
    at = upload(dashboard(), "notes.wav", b"this is not audio")
    assert not at.exception
    assert "notes.wav is text, not a recording" in at.error[0].value
    assert at.button == []  # no Transcribe form
    assert fake_api.called("submit") == []


def test_a_midi_file_points_to_the_visualizer(dashboard, small_midi, fake_api):
    at = upload(dashboard(), "song.mid", small_midi)
    assert not at.exception
    assert at.error == []
    assert "song.mid is a MIDI file, not a recording" in at.warning[0].value
    (link,) = at.get("page_link")
    assert link.proto.page.endswith("visualizer.py") or "visualizer" in link.proto.page
    assert fake_api.called("submit") == []


def test_a_text_file_named_mp3_gets_a_plain_message(dashboard, fake_api):
    at = upload(dashboard(), "lyrics.mp3", b"Verse one, the piano enters softly\n" * 40)
    assert not at.exception
    (error,) = at.error
    assert "lyrics.mp3 is text, not a recording" in error.value
    assert "frame" not in error.value and "seek" not in error.value  # no decoder internals
    assert at.button == [] and fake_api.called("submit") == []


def empty_midi() -> bytes:
    midi = pretty_midi.PrettyMIDI()
    midi.instruments.append(pretty_midi.Instrument(program=0, name="Piano"))
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def test_silence_is_a_warning_without_a_success(dashboard, short_wav, fake_api, job):
    fake_api.midi = empty_midi()
    fake_api.job_states = [job("succeeded", note_count=0, audio_duration_s=1.0)]
    at = transcribe(upload(dashboard(), "clip.wav", short_wav))
    assert not at.exception
    assert at.success == []
    assert [w.value for w in at.warning] == [
        "No notes were heard from 1.0 s of audio. Is the recording silent? A lower onset threshold finds"
        " softer notes."
    ]


def test_one_note_is_singular(dashboard, short_wav, fake_api, job):
    fake_api.job_states = [job("succeeded", note_count=1, audio_duration_s=1.0)]
    at = transcribe(upload(dashboard(), "clip.wav", short_wav))
    assert "Transcribed 1 note from" in at.success[0].value


def test_after_a_cancel_the_transcribe_button_is_shown_again(dashboard, short_wav, fake_api, job):
    fake_api.job_states = [job("canceled")]
    at = transcribe(upload(dashboard(), "clip.wav", short_wav))
    assert not at.exception
    assert "canceled" in at.warning[0].value
    settings = next(e for e in at.expander if e.label == "Transcription settings")
    assert settings.proto.expanded
    assert [b.label for b in settings.button] == ["Transcribe"]
