"""piano-ai convert's terminal display: the stage bar's text, shortened names, decoders kept off the bar."""

import io
import logging
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from piano_ai import cli
from piano_ai.commands import progress
from piano_ai.constants import SAMPLE_RATE


def last_frame(stream: io.StringIO) -> str:
    """The bar's last drawing (tqdm redraws it after a carriage return)."""
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", stream.getvalue()).split("\r")[-1]


def test_the_stage_follows_the_percentage_without_a_comma() -> None:
    stream = io.StringIO()
    bar = progress.stage_bar(stream, disable=False)
    bar.set_description_str("take1.wav")
    progress.bar_progress(bar)("inference", 0.4)
    frame = last_frame(stream)
    bar.close()
    assert re.search(r"\b50% inference\s*$", frame), frame  # decoding + features (20) + 0.4 * 75
    assert "," not in frame


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("take1.wav", "take1.wav"),
        ("sixteen_chars.mp", "sixteen_chars.mp"),
        ("rachmaninoff_prelude_op23.flac", "rachmanino….flac"),
        ("take.recorded_in_the_hall", "take.recorded_i…"),  # no extension worth keeping
    ],
)
def test_long_names_are_cut_with_an_ellipsis(name: str, shown: str) -> None:
    assert progress.short_name(name) == shown
    assert len(progress.short_name(name)) <= progress.NAME_WIDTH


def test_what_a_decoder_prints_goes_to_the_log(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger=progress.__name__):
        with progress.decoder_chatter_to_log("bad.mp3"):
            os.write(2, b"Note: Illegal Audio-MPEG-Header 0x67617262 at offset 12347.\n")
        os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
    assert "Illegal Audio-MPEG-Header" in caplog.text and "bad.mp3" in caplog.text


def damaged_mp3(path: Path) -> Path:
    """Three seconds of A4 as mp3 with junk spliced into the middle (libmpg123 resyncs, and says so)."""
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SAMPLE_RATE, format="MP3")
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) // 2] + b"\x00garbage" * 50 + data[len(data) // 2 :])
    return path


def test_convert_keeps_decoder_notes_off_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import piano_ai.inference
    from tests.unit.test_cli import OneNoteModel

    monkeypatch.setattr(piano_ai.inference, "load_transcriber", lambda *a, **k: OneNoteModel())
    source = damaged_mp3(tmp_path / "damaged.mp3")
    assert cli.main(["convert", str(source), "-o", str(tmp_path / "out"), "-q"]) == 0
    err = capfd.readouterr().err
    assert "Illegal Audio-MPEG-Header" not in err and "resync" not in err


def test_overlapping_redirections_from_threads_give_fd_2_back(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Files converted at once enter and leave in any order; fd 2 is the terminal's again after the last."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with progress.decoder_chatter_to_log("a.mp3"):
            first_in.set()
            second_in.wait(timeout=10)
            os.write(2, b"Note: from a\n")
        first_out.set()

    def second() -> None:
        first_in.wait(timeout=10)
        with progress.decoder_chatter_to_log("b.mp3"):
            second_in.set()
            first_out.wait(timeout=10)
            os.write(2, b"Note: from b\n")

    with caplog.at_level(logging.DEBUG, logger=progress.__name__):
        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
    assert "from a" in caplog.text and "from b" in caplog.text and "a.mp3, b.mp3" in caplog.text
