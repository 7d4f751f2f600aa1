"""MAPS as a source: note lists -> MIDI with the pedal, the fetch script's roles, and the shard build."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from script_loader import load_script

from piano_ai.cli import main as cli_main
from piano_ai.constants import FRAMES_PER_SECOND, LOWEST_KEY, SAMPLE_RATE
from piano_ai.data.maps import maps_midi, parse_tsv, pedal_intervals, split_stem
from piano_ai.data.maps_build import clip_bounds
from piano_ai.data.targets import pedal_extended_notes

FETCH = Path(__file__).resolve().parents[3] / "scripts" / "fetch_maps.py"
KEY_TSV = (  # the repository's head: ends at key release
    "# onset,offset,note,velocity\n"
    "0.5\t1.0\t60.0\t50.0\n0.5\t1.0\t64.0\t40.0\n1.5\t2.0\t60.0\t70.0\n3.0\t3.5\t67.0\t60.0\n"
)
# MAPS's own layout: the pedal held 60 and 64 until the key was struck again (60) or it lifted at 1.8 (64).
PEDAL_TSV = (
    "OnsetTime\tOffsetTime\tMidiPitch\tVelocity\n"
    "0.5\t1.5\t60\t50\n0.5\t1.8\t64\t40\n1.5\t2.0\t60\t70\n3.0\t3.5\t67\t60\n"
)


def test_split_stem():
    assert split_stem("MAPS_MUS-alb_esp2_AkPnCGdD") == ("alb_esp2", "AkPnCGdD")
    assert split_stem("MAPS_MUS-chpn-p19_ENSTDkCl") == ("chpn-p19", "ENSTDkCl")


def test_both_tsv_layouts_parse_to_the_same_onsets():
    key, pedal = parse_tsv(KEY_TSV), parse_tsv(PEDAL_TSV)
    assert [(n.onset, n.pitch) for n in key] == [(n.onset, n.pitch) for n in pedal]
    assert key[0].velocity == 50 and isinstance(key[0].pitch, int)


def test_pedal_lifts_come_from_pedal_ends_but_not_from_restrikes():
    # 60's pedal end at 1.5 is the re-strike of 60, not a lift; 64's end at 1.8 is the lift.
    assert pedal_intervals(parse_tsv(KEY_TSV), parse_tsv(PEDAL_TSV)) == [(1.0, 1.8)]


def test_the_midi_carries_key_releases_and_the_pedal_reproduces_pedal_ends():
    key, pedal = parse_tsv(KEY_TSV), parse_tsv(PEDAL_TSV)
    midi = maps_midi(key, pedal_intervals(key, pedal))
    assert [round(n.end, 3) for n in midi.instruments[0].notes] == [1.0, 1.0, 2.0, 3.5]
    extended = {(round(n.start, 3), n.pitch): round(n.end, 3) for n in pedal_extended_notes(midi)}
    assert extended == {(round(n.onset, 3), n.pitch): round(n.offset, 3) for n in pedal}


def test_clip_bounds_cover_a_recording_without_overlap():
    assert clip_bounds(70.0, None) == [(0.0, 30.0), (30.0, 60.0), (60.0, 70.0)]
    assert clip_bounds(62.0, None) == [(0.0, 30.0), (30.0, 60.0)]  # a 2 s tail is dropped
    bounds = clip_bounds(300.0, np.random.default_rng(0))
    assert all(12.0 <= b - a <= 30.0 for a, b in bounds[:-1])
    assert all(b == c for (_, b), (c, _) in zip(bounds, bounds[1:], strict=False))


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}  # fmt: skip
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def _tone_flac(path: Path, seconds: float = 5.0) -> None:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    sf.write(path, (0.2 * np.sin(2 * np.pi * 261.6 * t) * (t % 1.0 < 0.6)).astype(np.float32), SAMPLE_RATE)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    """A git repository laid out like jongwook/onsets-and-frames: commit 1 pedal ends, commit 2 key ends."""
    repo = tmp_path_factory.mktemp("oaf")
    flac, tsv = repo / "data/MAPS/flac", repo / "data/MAPS/tsv/matched"
    flac.mkdir(parents=True)
    tsv.mkdir(parents=True)
    stems = ["MAPS_MUS-a_AkPnBcht", "MAPS_MUS-b_AkPnBcht", "MAPS_MUS-b_ENSTDkCl", "MAPS_MUS-c_OtherPno"]
    for stem in stems:
        _tone_flac(flac / f"{stem}.flac")
        (tsv / f"{stem}.tsv").write_text(PEDAL_TSV)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "pedal ends")
    first = _git(repo, "rev-parse", "HEAD").strip()
    for stem in stems:
        (tsv / f"{stem}.tsv").write_text(KEY_TSV)
    _git(repo, "commit", "-qam", "key ends")
    return repo / ".git", first


def test_fetch_reads_only_allowed_pianos_and_records_the_untrained_pieces(snapshot, tmp_path):
    git_dir, first = snapshot
    fetch = load_script(FETCH)
    inventory = fetch.fetch(git_dir, tmp_path, pedal_commit=first)
    assert inventory["written"] == {"AkPnBcht": 2, "ENSTDkCl": 1} and inventory["not_read"] == 1
    assert not (tmp_path / "OtherPno").exists()
    assert inventory["untrained_pieces"] == ["b", "c"]
    midi = pretty_midi.PrettyMIDI(str(tmp_path / "AkPnBcht" / "MAPS_MUS-a_AkPnBcht.mid"))
    assert [(c.number, c.value, round(c.time, 3)) for c in midi.instruments[0].control_changes] == [
        (64, 127, 1.0),
        (64, 0, 1.8),
    ]


@pytest.mark.slow
def test_maps_shards_train_on_other_pieces_and_validate_on_the_disklavier(snapshot, tmp_path):
    git_dir, first = snapshot
    load_script(FETCH).fetch(git_dir, tmp_path / "maps", pedal_commit=first)
    out = tmp_path / "shards"
    assert (
        cli_main(["data", "maps", "--src", str(tmp_path / "maps"), "--out", str(out), "--copies", "2"]) == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    train = [s for s in manifest["shards"] if s["split"] == "train"]
    val = [s for s in manifest["shards"] if s["split"] == "val"]
    assert {s["piece"] for s in train} == {"maps/a"}  # piece b is played by the dev recording
    assert {s["copy"] for s in train} == {0, 1} and manifest["recordings"] == {"train": 1, "val": 1}
    assert [s["instrument"] for s in val] == ["maps-ENSTDkCl"] and val[0]["start_s"] == 0.0
    with np.load(out / val[0]["path"]) as shard:  # unaugmented: onsets exactly where the note list says
        onsets = sorted(zip(*np.nonzero(shard["onset"]), strict=True))
        assert shard["frame"][int(round(1.2 * FRAMES_PER_SECOND)), 64 - LOWEST_KEY] == 1  # held by the pedal
        assert shard["pedal"][int(round(1.2 * FRAMES_PER_SECOND))] == 1 and shard["pedal"][0] == 0
        assert shard["key_frame"][int(round(1.2 * FRAMES_PER_SECOND)), 64 - LOWEST_KEY] == 0  # key is up
        assert shard["key_frame"][int(round(0.6 * FRAMES_PER_SECOND)), 64 - LOWEST_KEY] == 1
    fps = FRAMES_PER_SECOND
    assert onsets == sorted(
        (int(round(t * fps)), p - LOWEST_KEY) for t, p in [(0.5, 60), (0.5, 64), (1.5, 60), (3.0, 67)]
    )
