"""Build a dataset straight into a bucket and read it back (READ_MODE gcs) from a real GCS emulator server."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from piano_ai.cli import main as cli_main
from piano_ai.data.reader import iter_shards, load_manifest, open_shard, read_mode
from piano_ai.settings import get_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BUCKET = "piano-ai-data-test"
ARGS = ["--seed", "5", "--hours-train", "0.004", "--hours-val", "0.004", "--sources", "synthetic",
        "--instruments", "fluidr3", "--augment", "light"]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def data_gcs_emulator():
    """A gcp-storage-emulator server (in memory) with one bucket; STORAGE_EMULATOR_HOST points at it."""
    port = _free_port()
    binary = Path(sys.executable).parent / "gcp-storage-emulator"
    proc = subprocess.Popen(
        [
            str(binary),
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
            "--default-bucket",
            BUCKET,
            "--quiet",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    host = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("gcp-storage-emulator did not start")
            time.sleep(0.2)
    old = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = host
    get_settings.cache_clear()
    yield host
    proc.terminate()
    proc.wait(timeout=10)
    if old is None:
        os.environ.pop("STORAGE_EMULATOR_HOST", None)
    else:
        os.environ["STORAGE_EMULATOR_HOST"] = old
    get_settings.cache_clear()


def test_build_to_bucket_and_read_back_same_as_local(data_gcs_emulator, tmp_path):
    remote = f"gs://{BUCKET}/datasets/tiny"
    assert cli_main(["data", "build", "--out", remote, *ARGS]) == 0
    assert cli_main(["data", "build", "--out", str(tmp_path / "tiny"), *ARGS]) == 0
    assert read_mode(remote) == "gcs"

    manifest = load_manifest(remote)
    assert manifest["version"] == 1 and manifest["shards"]
    local = {e["path"]: s for e, s in iter_shards(str(tmp_path / "tiny"))}
    for split in ("train", "val"):
        entries = list(iter_shards(remote, split))
        assert entries and all(e["split"] == split for e, _ in entries)
        for entry, shard in entries:
            for name, array in shard.items():
                assert np.array_equal(array, local[entry["path"]][name])

    with open_shard(remote, manifest["shards"][0]["path"]) as stream:  # what training's np.load gets
        assert np.load(stream)["mel"].dtype == np.float16


def test_missing_dataset_is_an_error(data_gcs_emulator):
    from piano_ai.storage.base import ObjectNotFoundError

    with pytest.raises(ObjectNotFoundError):
        load_manifest(f"gs://{BUCKET}/no/such/dataset")


def test_training_loads_the_same_clips_from_the_bucket(data_gcs_emulator, tmp_path):
    """READ_MODE gcs end to end: the training code's loader reads what the factory uploaded."""
    from piano_ai.training.dataset import load_clips

    remote = f"gs://{BUCKET}/datasets/for-training"
    assert cli_main(["data", "build", "--out", remote, *ARGS]) == 0
    assert cli_main(["data", "build", "--out", str(tmp_path / "local"), *ARGS]) == 0
    for split in ("train", "val"):
        from_bucket, from_disk = load_clips(remote, split), load_clips(str(tmp_path / "local"), split)
        assert len(from_bucket) == len(from_disk) > 0
        for a, b in zip(from_bucket, from_disk, strict=True):
            assert np.array_equal(a.mel, b.mel) and np.array_equal(a.velocity, b.velocity)
