"""`piano-ai convert` of several files at once, shipped model: each file's notes as if converted alone,
in fewer model calls, and a bad file fails alone."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from piano_ai import batching, cli
from piano_ai.audio import decode
from piano_ai.constants import SAMPLE_RATE
from piano_ai.inference import Transcriber, load_transcriber

GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "clip.flac"  # 8 s of dense Chopin


def inputs(folder: Path) -> list[Path]:
    """Four one-chunk files in three formats and a 130 s one (10 chunks: a full batch and two more)."""
    clip = decode(GOLDEN)
    t = np.arange(round(clip.size * 44_100 / SAMPLE_RATE)) / 44_100
    stereo = np.interp(t, np.arange(clip.size) / SAMPLE_RATE, clip)
    files = [folder / "clip.flac", folder / "first5s.wav", folder / "stereo44k.wav", folder / "as_mp3.mp3"]
    files[0].write_bytes(GOLDEN.read_bytes())
    sf.write(files[1], clip[: 5 * SAMPLE_RATE], SAMPLE_RATE)
    sf.write(files[2], np.stack([stereo, 0.5 * stereo], axis=1).astype(np.float32), 44_100)
    sf.write(files[3], clip, SAMPLE_RATE, format="MP3")
    long = folder / "long.wav"
    sf.write(long, np.tile(clip, -(-130 * SAMPLE_RATE // clip.size))[: 130 * SAMPLE_RATE], SAMPLE_RATE)
    return [*files, long]


def counting(model: Transcriber, sizes: list[int]) -> Transcriber:
    """``model``, recording the number of chunks of every model call in ``sizes``."""

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        sizes.append(len(batch))
        return model.run(batch)

    return model.with_run(run)


def notes(path: Path) -> list[dict[str, float]]:
    return json.loads(path.read_text())["notes"]


@pytest.mark.slow
def test_files_converted_together_have_the_notes_each_has_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import piano_ai.inference

    sources = inputs(tmp_path)
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    sizes: list[int] = []
    model = counting(load_transcriber(), sizes)
    monkeypatch.setattr(piano_ai.inference, "load_transcriber", lambda *a, **k: model)
    monkeypatch.setattr(batching, "MAX_WAIT_S", 60.0)  # calls wait for every stream: the batches are certain
    for source in sources:
        argv = ["convert", str(source), "-o", str(tmp_path / "alone"), "--json", "--files-at-once", "1", "-q"]
        assert cli.main(argv) == 0
    alone, sizes[:] = list(sizes), []
    together = ["convert", str(bad), *map(str, sources), "-o", str(tmp_path / "together"), "--json", "-q"]
    together += ["--files-at-once", "8"]  # every file at once: the calls below are certain
    assert cli.main(together) == 1
    err = capsys.readouterr().err
    assert f"piano-ai: {bad}: file is not decodable audio" in err and "1 of 6 files failed" in err, err
    # the long file alone: a batch of 8, then its last two windows, cut to 510 and 62 frames, one call each
    assert sorted(alone) == [1, 1, 1, 1, 1, 1, 8] and sum(sizes) == 14
    # together the three files of the golden clip's length share a call (the 5 s file has a length of its
    # own); with a call per core the batches are smaller (BATCH_SIZE // calls at once)
    assert 3 in sizes and len(sizes) < len(alone)
    for source in sources:
        found = notes(tmp_path / "together" / f"{source.stem}.json")
        assert found and found == notes(tmp_path / "alone" / f"{source.stem}.json"), source.name
