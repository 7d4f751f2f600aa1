"""Local-disk storage: the embedded default (one machine, no servers).

Disk errors other than a missing object (a full disk, a read-only or vanished folder) raise StorageError,
like a cloud backend's outage: the API answers 503 storage_unavailable and the worker retries.
"""

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from piano_ai.storage.base import ObjectNotFoundError, Storage, StorageError, check_key


class LocalStorage(Storage):
    """Objects are files under ``root``; writes go to a temp file then os.replace (never half-written)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError:  # the volume is away: each operation says so (StorageError) until it is back
            pass

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        path = self._path(key)
        with _disk_errors(key):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
            try:
                with os.fdopen(fd, "wb") as out:
                    fill(out)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def put_file(self, key: str, src: Path, content_type: str | None = None) -> None:
        with open(src, "rb") as source:
            self._write(key, lambda out: shutil.copyfileobj(source, out, 1 << 20))

    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> None:
        self._write(key, lambda out: shutil.copyfileobj(stream, out, 1 << 20))

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._write(key, lambda out: out.write(data))

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def open(self, key: str) -> BinaryIO:
        stream: BinaryIO | None = None
        with _disk_errors(key):
            stream = open(self._path(key), "rb")
        assert stream is not None
        return stream

    def download(self, key: str, dest: Path) -> Path:
        with _disk_errors(key):
            shutil.copyfile(self._path(key), dest)
        return dest

    def delete(self, key: str) -> None:
        path = self._path(key)
        with _disk_errors(key, missing_ok=True):
            path.unlink()
        self._drop_empty_parents(path)

    def delete_prefix(self, prefix: str) -> None:
        """Remove the objects under ``prefix``, reading only its own folder (never the whole tree)."""
        folder, _, stem = prefix.rpartition("/")
        base = self._path(folder) if folder else self.root
        if folder and not stem:  # "jobs/<id>/": the folder and everything in it
            with _disk_errors(prefix, missing_ok=True):
                shutil.rmtree(base)
            self._drop_empty_parents(base)
            return
        for key in self.list(prefix):
            self.delete(key)

    def _drop_empty_parents(self, path: Path) -> None:
        """Remove now-empty folders above ``path`` up to the root, so deleted jobs leave nothing behind."""
        for parent in path.parents:
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        folder = prefix.rpartition("/")[0]
        base = self._path(folder) if folder else self.root  # only the folder the prefix names is read
        keys = []
        with _disk_errors(prefix, missing_ok=True):
            for path in base.rglob("*"):
                if path.is_file() and not path.name.startswith(".tmp-"):
                    key = path.relative_to(self.root).as_posix()
                    if key.startswith(prefix):
                        keys.append(key)
        return sorted(keys)

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None


@contextmanager
def _disk_errors(key: str, missing_ok: bool = False) -> Iterator[None]:
    """A missing file -> ObjectNotFoundError (nothing with ``missing_ok``); other OSErrors -> StorageError."""
    try:
        yield
    except FileNotFoundError as exc:
        if not missing_ok:
            raise ObjectNotFoundError(key) from exc
    except OSError as exc:
        raise StorageError(f"storage on disk failed for {key!r}: {exc.strerror or exc}") from exc
