"""Upload checks: size limit (Content-Length and streamed), empty files, header sniffing."""

import io
import json
import subprocess
from pathlib import Path

import pytest
from hostile_uploads import raw_multipart, silent_flac
from service_testkit import MAX_UPLOAD_MB, ApiHarness

from piano_ai.settings import get_settings
from piano_api.problems import ApiError
from piano_api.uploads import clean_filename, inspect_upload, sniff_format

LIMIT = int(MAX_UPLOAD_MB * 1024 * 1024)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"OggS\x00\x02", "ogg"),
        (b"ID3\x04\x00\x00", "mp3"),
        (b"\xff\xfb\x90\x64", "mp3"),
        (b"\xff\xf1\x50\x80", "aac"),  # ADTS (raw AAC): the mp3 sync word with layer bits 00
        (b"\x00\x00\x00\x20ftypM4A ", "m4a"),
        (b"hello, this is text", None),
        (b"%PDF-1.7", None),
        (b"", None),
    ],
)
def test_sniff_format(head: bytes, expected: str | None) -> None:
    assert sniff_format(head) == expected


def test_inspect_accepts_real_wav(wav_bytes: bytes) -> None:
    info = inspect_upload(io.BytesIO(wav_bytes), "a.wav", LIMIT)
    assert (info.format, info.content_type, info.size_bytes) == ("wav", "audio/wav", len(wav_bytes))


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 422, "empty_upload"),
        (b"just some text\n" * 10, 415, "unsupported_media_type"),
        (b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk", 415, "unsupported_media_type"),  # broken header
        (b"\x00" * 1000, 415, "unsupported_media_type"),
    ],
)
def test_inspect_rejects(data: bytes, status: int, code: str) -> None:
    with pytest.raises(ApiError) as caught:
        inspect_upload(io.BytesIO(data), "x.wav", LIMIT)
    assert (caught.value.status, caught.value.code) == (status, code)


def _assert_nothing_stored(api: ApiHarness) -> None:
    assert api.storage.list() == [] and api.enqueued == []
    assert api.client.get("/v1/jobs").json()["items"] == []


def test_text_as_wav_is_415_with_reason(api: ApiHarness) -> None:
    response = api.client.post("/v1/jobs", files={"file": ("song.wav", b"definitely not audio\n")})
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert "looks like text" in response.json()["detail"]
    _assert_nothing_stored(api)


def test_empty_file_is_422(api: ApiHarness) -> None:
    response = api.client.post("/v1/jobs", files={"file": ("song.wav", b"")})
    assert response.status_code == 422 and response.json()["code"] == "empty_upload"
    _assert_nothing_stored(api)


def test_oversized_upload_is_413_from_content_length(api: ApiHarness) -> None:
    big = b"RIFF" + b"\x00" * (LIMIT + 10)
    response = api.client.post("/v1/jobs", files={"file": ("big.wav", big)})
    assert response.status_code == 413 and response.json()["code"] == "upload_too_large"
    _assert_nothing_stored(api)


def test_oversized_upload_is_413_while_streaming_without_content_length(api: ApiHarness) -> None:
    boundary = "xyzzy"
    sent = []

    def body():  # chunked: no Content-Length, so the limit must trip while reading
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'.encode()
        yield b"Content-Type: audio/wav\r\n\r\nRIFF"
        for _ in range(LIMIT // 65536 + 5):
            sent.append(1)
            yield b"\x00" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = api.client.post(
        "/v1/jobs", content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code == 413 and response.json()["code"] == "upload_too_large"
    _assert_nothing_stored(api)


def test_truncated_mp3_passes_the_cheap_check(tmp_path: Path, wav_bytes: bytes) -> None:
    """The API only sniffs; the worker's full decode fails such a job with invalid_audio."""
    wav = tmp_path / "a.wav"
    wav.write_bytes(wav_bytes)
    mp3 = tmp_path / "a.mp3"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), str(mp3)], check=True)
    truncated = mp3.read_bytes()[:300]
    assert inspect_upload(io.BytesIO(truncated), "a.mp3", LIMIT).format == "mp3"


def test_a_raw_aac_upload_is_stored_and_served_as_aac(
    api: ApiHarness, tmp_path: Path, wav_bytes: bytes
) -> None:
    """Sniffed as mp3 it was stored as input.mp3 (the worker's libsndfile then decoded noise) and served as
    audio/mpeg."""
    wav = tmp_path / "a.wav"
    wav.write_bytes(wav_bytes)
    adts = tmp_path / "take.aac"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac", "-f", "adts", str(adts)],
        check=True,
    )
    response = api.client.post("/v1/jobs", files={"file": ("take.mp3", adts.read_bytes())})  # the name lies
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert api.storage.list() == [f"jobs/{job_id}/input.aac"]
    served = api.client.get(f"/v1/jobs/{job_id}/audio")
    assert served.status_code == 200 and served.headers["content-type"] == "audio/aac"
    assert served.content == adts.read_bytes()


def test_problem_bodies_are_json(api: ApiHarness) -> None:
    response = api.client.post("/v1/jobs", files={"file": ("song.wav", b"")})
    body = json.loads(response.content)
    assert set(body) == {"type", "title", "status", "detail", "code"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("take\x00one.wav", "take_one.wav"),  # Postgres refuses NUL in text
        ("\x1b[31mred\r\n.wav", "_[31mred__.wav"),  # terminal escapes, line breaks
        ("evil\u202egnp.wav", "evil_gnp.wav"),  # a right-to-left override that disguises the suffix
        ("../../my take.wav", "my take.wav"),
        ("C:\\Users\\me\\étude.wav", "étude.wav"),
        ("..", "upload"),
        (None, "upload"),
        ("a" * 300 + ".wav", "a" * 255),
    ],
)
def test_clean_filename(raw: str | None, expected: str) -> None:
    assert clean_filename(raw) == expected


def test_control_characters_in_the_file_name_are_replaced(api: ApiHarness, wav_bytes: bytes) -> None:
    body, headers = raw_multipart(b"take\x00one\x07.wav", wav_bytes)
    response = api.client.post("/v1/jobs", content=body, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["filename"] == "take_one_.wav"


def test_a_recording_over_the_length_limit_is_413_and_nothing_is_stored(
    api: ApiHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIANO_AI_MAX_AUDIO_S", "60")
    get_settings.cache_clear()
    bomb = silent_flac(tmp_path / "bomb.flac", seconds=120).read_bytes()
    response = api.client.post("/v1/jobs", files={"file": ("bomb.flac", bomb)})
    assert response.status_code == 413, response.text
    problem = response.json()
    assert problem["code"] == "audio_too_long" and "bomb.flac" in problem["detail"]
    assert "120 s" in problem["detail"] and "60 s" in problem["detail"]
    _assert_nothing_stored(api)
    short = silent_flac(tmp_path / "short.flac", seconds=30).read_bytes()
    assert api.client.post("/v1/jobs", files={"file": ("short.flac", short)}).status_code == 202
