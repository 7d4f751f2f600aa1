"""Google Cloud Storage backend (google-cloud-storage), also used against a GCS emulator in tests."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from piano_ai.storage.base import ObjectNotFoundError, Storage, StorageError, check_key

logger = logging.getLogger(__name__)


class GCSStorage(Storage):
    """Objects are blobs ``<prefix><key>`` in one bucket.

    ``client`` is a ``google.cloud.storage.Client``; ``signing_credentials`` (a service-account
    credential) signs download URLs when the client's own credentials cannot.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        client: Any = None,
        signing_credentials: Any = None,
        emulator_host: str | None = None,
    ) -> None:
        from google.cloud import storage

        if client is None:
            if emulator_host:
                from google.auth.credentials import AnonymousCredentials

                client = storage.Client(
                    project="emulator",
                    credentials=AnonymousCredentials(),
                    client_options={"api_endpoint": emulator_host},
                )
            else:
                client = storage.Client()
        self.client = client
        self.bucket = client.bucket(bucket)
        self.prefix = prefix
        self.signing_credentials = signing_credentials
        self.emulator_host = emulator_host

    def _blob(self, key: str) -> Any:
        return self.bucket.blob(self.prefix + check_key(key))

    def put_file(self, key: str, src: Path, content_type: str | None = None) -> None:
        # One upload call: GCS makes the object visible only once it is complete.
        with _translate(key):
            self._blob(key).upload_from_filename(str(src), content_type=content_type)

    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> None:
        with _translate(key):
            self._blob(key).upload_from_file(stream, content_type=content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        with _translate(key):
            self._blob(key).upload_from_string(data, content_type=content_type or "application/octet-stream")

    def get_bytes(self, key: str) -> bytes:
        with _translate(key):
            data: bytes = self._blob(key).download_as_bytes()
            return data

    def open(self, key: str) -> BinaryIO:
        with _translate(key):
            blob = self._blob(key)
            if not blob.exists():
                raise ObjectNotFoundError(key)
            stream: BinaryIO = blob.open("rb")
            return stream

    def download(self, key: str, dest: Path) -> Path:
        with _translate(key):
            self._blob(key).download_to_filename(str(dest))
        return dest

    def delete(self, key: str) -> None:
        from google.api_core.exceptions import NotFound

        with _translate(key):
            try:
                self._blob(key).delete()
            except NotFound:
                pass

    def exists(self, key: str) -> bool:
        with _translate(key):
            return bool(self._blob(key).exists())

    def list(self, prefix: str = "") -> list[str]:
        with _translate(prefix):
            blobs = self.client.list_blobs(self.bucket, prefix=self.prefix + prefix)
            return sorted(blob.name[len(self.prefix) :] for blob in blobs)

    def signed_url(self, key: str, ttl_s: int) -> str | None:
        """A V4 signed GET URL, or None when no credential here can sign (the API then streams)."""
        credentials = self.signing_credentials or getattr(self.client, "_credentials", None)
        if credentials is None or not hasattr(credentials, "sign_bytes"):
            return None
        options: dict[str, Any] = {}
        if self.emulator_host:
            options["api_access_endpoint"] = self.emulator_host
        try:
            url: str = self._blob(key).generate_signed_url(
                version="v4",
                expiration=timedelta(seconds=ttl_s),
                method="GET",
                credentials=credentials,
                **options,
            )
        except Exception as exc:  # no signing permission, no key: the API streams the file instead
            logger.warning("cannot sign a URL for %s: %s", key, exc)
            return None
        return url

    def ping(self) -> None:
        with _translate(""):
            if not self.bucket.exists():
                raise StorageError(f"bucket {self.bucket.name} does not exist")
        super().ping()  # and an object can be written there


@contextmanager
def _translate(key: str) -> Iterator[None]:
    """Map the google library's errors to ours: NotFound -> ObjectNotFoundError, the rest -> StorageError."""
    from google.api_core.exceptions import GoogleAPIError, NotFound
    from requests.exceptions import RequestException

    try:
        yield
    except (ObjectNotFoundError, StorageError):
        raise
    except NotFound as exc:
        raise ObjectNotFoundError(key) from exc
    except (GoogleAPIError, RequestException, ConnectionError, TimeoutError) as exc:
        raise StorageError(f"storage request for {key!r} failed: {exc}") from exc
