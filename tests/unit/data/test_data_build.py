"""A tiny real build (FluidSynth + sfizz renders): the manifest/shard format the training code reads."""

import json

import numpy as np
import pytest

from piano_ai.cli import main as cli_main
from piano_ai.constants import N_KEYS, N_MELS
from piano_ai.data.reader import iter_shards, load_manifest, read_mode

pytestmark = pytest.mark.slow

ARGS = ["--seed", "11", "--hours-train", "0.004", "--hours-val", "0.004", "--sources", "asap,synthetic"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "ds"
    assert cli_main(["data", "build", "--out", str(out), *ARGS, "--instruments", "fluidr3,headroom"]) == 0
    return out


def test_manifest_has_the_agreed_format(built):
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["version"] == 1 and manifest["seed"] == 11
    assert manifest["constants"] == {"sample_rate": 16000, "hop_length": 512, "n_mels": 229}
    assert {s["split"] for s in manifest["shards"]} == {"train", "val"}
    for shard in manifest["shards"]:
        assert shard["path"] == f"{shard['split']}/{int(shard['path'][-10:-4]):06d}.npz"
        assert shard["source"] in ("asap", "synthetic") and shard["instrument"] in ("fluidr3", "headroom")
        assert 0 < shard["seconds"] <= 30.0 and shard["frames"] == int(shard["seconds"] * 16000) // 512 + 1
        if shard["split"] == "train":
            assert shard["instrument"] != "headroom"


def test_shards_hold_mel_and_targets(built):
    assert read_mode(str(built)) == "local"
    seen = 0
    for entry, shard in iter_shards(str(built), "train"):
        frames = entry["frames"]
        assert shard["mel"].shape == (frames, N_MELS) and shard["mel"].dtype == np.float16
        assert np.isfinite(shard["mel"].astype(np.float32)).all()
        for name in ("onset", "frame", "offset", "velocity"):
            assert shard[name].shape == (frames, N_KEYS) and shard[name].dtype == np.uint8
        assert set(np.unique(shard["onset"])) <= {0, 1} and shard["onset"].sum() > 0
        assert np.array_equal(shard["velocity"] > 0, shard["onset"] > 0)
        assert (shard["frame"] >= shard["onset"]).all()
        seen += 1
    assert seen == sum(1 for s in load_manifest(str(built))["shards"] if s["split"] == "train")


def test_same_seed_same_dataset(built, tmp_path):
    again = tmp_path / "again"
    assert cli_main(["data", "build", "--out", str(again), *ARGS, "--instruments", "fluidr3,headroom"]) == 0
    first = {e["path"]: s for e, s in iter_shards(str(built))}
    for entry, shard in iter_shards(str(again)):
        for name, array in shard.items():
            assert np.array_equal(array, first[entry["path"]][name]), (entry["path"], name)


def test_refuses_to_overwrite_a_finished_dataset(built):
    with pytest.raises(SystemExit, match="already holds"):
        cli_main(["data", "build", "--out", str(built), *ARGS])


def test_a_failing_clip_is_skipped_and_recorded(tmp_path, monkeypatch):
    import piano_ai.data.clip as clip

    real = clip.make_shard

    def flaky(spec, level):
        if spec.split == "val":
            raise RuntimeError("renderer crashed")
        return real(spec, level)

    monkeypatch.setattr(clip, "make_shard", flaky)
    out = tmp_path / "ds"
    assert cli_main(["data", "build", "--out", str(out), *ARGS, "--instruments", "fluidr3"]) == 0
    manifest = load_manifest(str(out))
    assert manifest["failed"] and all("renderer crashed" in f["error"] for f in manifest["failed"])
    assert {s["split"] for s in manifest["shards"]} == {"train"}


def test_a_clip_that_fails_once_is_rendered_again(tmp_path, monkeypatch):
    import piano_ai.data.clip as clip

    real, calls = clip.make_shard, []

    def fails_first_time(spec, level):
        calls.append(spec.shard_path)
        if spec.split == "val" and calls.count(spec.shard_path) == 1:
            raise RuntimeError("sfizz renders kept changing")
        return real(spec, level)

    monkeypatch.setattr(clip, "make_shard", fails_first_time)
    out = tmp_path / "ds"
    assert cli_main(["data", "build", "--out", str(out), *ARGS, "--instruments", "fluidr3"]) == 0
    manifest = load_manifest(str(out))
    paths = [s["path"] for s in manifest["shards"]]
    assert manifest["failed"] == [] and "val/000000.npz" in paths and paths == sorted(paths)


def test_many_failures_stop_the_build_without_a_manifest(tmp_path, monkeypatch):
    import piano_ai.data.clip as clip

    monkeypatch.setattr(clip, "make_shard", lambda spec, level: 1 / 0)
    out = tmp_path / "ds"
    with pytest.raises(SystemExit, match="clips failed"):
        cli_main(
            ["data", "build", "--out", str(out), "--seed", "1", "--hours-train", "0.05", "--hours-val", "0"]
        )
    assert not (out / "manifest.json").exists()


def test_info_prints_the_summary(built, capsys):
    assert cli_main(["data", "info", str(built)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["seed"] == 11 and info["summary"]["train"]["clips"] >= 1
    assert set(info["summary"]["val"]["hours_by_instrument"]) <= {"fluidr3", "headroom"}
