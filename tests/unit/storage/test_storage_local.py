"""LocalStorage: the embedded default backend."""

import io
import os
from pathlib import Path

import pytest

from piano_ai.storage import LocalStorage, ObjectNotFoundError, StorageError, job_keys


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


def test_put_get_open_download_roundtrip(storage: LocalStorage, tmp_path: Path) -> None:
    storage.put_bytes("jobs/a/x.bin", b"hello")
    assert storage.exists("jobs/a/x.bin")
    assert storage.get_bytes("jobs/a/x.bin") == b"hello"
    with storage.open("jobs/a/x.bin") as stream:
        assert stream.read() == b"hello"
    dest = storage.download("jobs/a/x.bin", tmp_path / "copy.bin")
    assert dest.read_bytes() == b"hello"
    assert storage.local_path("jobs/a/x.bin") == storage.root / "jobs/a/x.bin"


def test_put_file_and_stream(storage: LocalStorage, tmp_path: Path) -> None:
    src = tmp_path / "src.wav"
    src.write_bytes(b"RIFF....")
    storage.put_file("jobs/b/input.wav", src)
    storage.put_stream("jobs/b/notes.json", io.BytesIO(b"{}"))
    assert storage.list("jobs/b/") == ["jobs/b/input.wav", "jobs/b/notes.json"]


def test_missing_objects_raise_not_found(storage: LocalStorage, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFoundError):
        storage.get_bytes("jobs/none/x.bin")
    with pytest.raises(ObjectNotFoundError):
        storage.download("jobs/none/x.bin", tmp_path / "x")
    assert not storage.exists("jobs/none/x.bin")
    assert storage.local_path("jobs/none/x.bin") is None
    storage.delete("jobs/none/x.bin")  # deleting a missing key is fine


def test_delete_prefix_leaves_no_empty_folders(storage: LocalStorage) -> None:
    keys = job_keys("0a1b", "wav")
    for key in (keys.input, keys.midi, keys.notes):
        storage.put_bytes(key, b"x")
    storage.put_bytes("jobs/other/input.wav", b"y")
    storage.delete_prefix(keys.prefix)
    assert storage.list() == ["jobs/other/input.wav"]
    assert not (storage.root / "jobs/0a1b").exists()


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/path", "jobs//x", "jobs/a b", "", "jobs/.hidden"])
def test_unsafe_keys_are_refused(storage: LocalStorage, key: str) -> None:
    with pytest.raises(ValueError):
        storage.put_bytes(key, b"x")


def test_failed_write_leaves_nothing(storage: LocalStorage) -> None:
    class Boom(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            raise OSError("disk on fire")

    with pytest.raises(StorageError, match="disk on fire"):  # a disk error is a storage outage (503)
        storage.put_stream("jobs/c/input.wav", Boom())  # type: ignore[arg-type]
    assert storage.list() == []
    assert not any(p.name.startswith(".tmp-") for p in storage.root.rglob("*"))


def test_job_keys_are_derived_from_the_id() -> None:
    keys = job_keys("1234", "mp3")
    assert (keys.prefix, keys.input, keys.midi, keys.notes) == (
        "jobs/1234/",
        "jobs/1234/input.mp3",
        "jobs/1234/output.mid",
        "jobs/1234/notes.json",
    )


def test_deleting_a_job_reads_only_its_own_folder(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DELETE of one job must not list every job's files (it did: 10,000 jobs, 50,000 files per delete)."""
    for job in ("a", "b", "c"):
        storage.put_bytes(f"jobs/{job}/input.wav", b"x")
        storage.put_bytes(f"jobs/{job}/output.mid", b"y")
    listed: list[Path] = []
    scandir = os.scandir

    def spy(path: "int | str | os.PathLike[str]" = ".") -> "os._ScandirIterator":  # type: ignore[type-arg]
        if not isinstance(path, int):  # rmtree lists by file descriptor: those are the job's own folder
            listed.append(Path(path).resolve())
        return scandir(path)

    monkeypatch.setattr(os, "scandir", spy)
    storage.delete_prefix(job_keys("b").prefix)
    storage.delete_prefix(job_keys("missing").prefix)  # nothing there: not an error
    monkeypatch.undo()
    assert all(p.is_relative_to(storage.root / "jobs" / "b") for p in listed), listed
    assert storage.list() == sorted(f"jobs/{j}/{f}" for j in "ac" for f in ("input.wav", "output.mid"))
    assert not (storage.root / "jobs" / "b").exists()


def test_listing_a_prefix_reads_only_its_folder(storage: LocalStorage) -> None:
    storage.put_bytes("jobs/a/input.wav", b"x")
    storage.put_bytes("jobs/ab/input.wav", b"x")
    storage.put_bytes("other/a/input.wav", b"x")
    assert storage.list("jobs/a") == ["jobs/a/input.wav", "jobs/ab/input.wav"]
    assert storage.list("jobs/a/") == ["jobs/a/input.wav"]
    assert storage.list("nothing/here/") == []
    storage.delete_prefix("jobs/a")  # not a folder: the keys that start with it
    assert storage.list() == ["other/a/input.wav"]
