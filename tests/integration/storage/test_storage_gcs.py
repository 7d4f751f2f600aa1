"""GCSStorage against a real GCS-speaking server (gcp-storage-emulator)."""

import json
import urllib.request
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from service_testkit import create_bucket

from piano_ai.settings import Settings
from piano_ai.storage import ObjectNotFoundError, StorageError, job_keys, make_storage
from piano_ai.storage.gcs import GCSStorage

pytestmark = pytest.mark.integration


@pytest.fixture
def bucket(gcs_emulator: str) -> str:
    name = f"piano-{uuid.uuid4().hex[:8]}"
    create_bucket(gcs_emulator, name)
    return name


@pytest.fixture
def gcs(gcs_emulator: str, bucket: str, monkeypatch: pytest.MonkeyPatch) -> GCSStorage:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    settings = Settings(
        storage_backend="gcs", gcs_bucket=bucket, gcs_prefix="svc/", storage_emulator_host=gcs_emulator
    )
    storage = make_storage(settings)
    assert isinstance(storage, GCSStorage)
    return storage


def test_roundtrip_list_delete(gcs: GCSStorage, tmp_path: Path) -> None:
    keys = job_keys("abc", "wav")
    src = tmp_path / "in.wav"
    src.write_bytes(b"RIFF" + bytes(range(256)) * 100)
    gcs.put_file(keys.input, src, "audio/wav")
    gcs.put_bytes(keys.notes, b'{"notes": []}', "application/json")
    assert gcs.exists(keys.input) and not gcs.exists(keys.midi)
    assert gcs.get_bytes(keys.input) == src.read_bytes()
    with gcs.open(keys.notes) as stream:
        assert json.loads(stream.read()) == {"notes": []}
    assert gcs.download(keys.input, tmp_path / "copy.wav").read_bytes() == src.read_bytes()
    assert gcs.list("jobs/abc/") == [keys.input, keys.notes]
    # Keys live under the prefix in the bucket.
    assert {b.name for b in gcs.client.list_blobs(gcs.bucket)} == {"svc/" + keys.input, "svc/" + keys.notes}
    gcs.delete_prefix(keys.prefix)
    assert gcs.list() == []
    gcs.delete(keys.input)  # already gone: fine


def test_large_upload_from_stream(gcs: GCSStorage, tmp_path: Path) -> None:
    data = bytes(range(256)) * 40_000  # ~10 MB: a resumable (multi-chunk) upload
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    with path.open("rb") as stream:
        gcs.put_stream("jobs/big/input.wav", stream)
    assert gcs.get_bytes("jobs/big/input.wav") == data


def test_missing_object_is_not_found(gcs: GCSStorage, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFoundError):
        gcs.get_bytes("jobs/none/output.mid")
    with pytest.raises(ObjectNotFoundError):
        gcs.open("jobs/none/output.mid")
    with pytest.raises(ObjectNotFoundError):
        gcs.download("jobs/none/output.mid", tmp_path / "x")


def test_ping_and_missing_bucket(gcs: GCSStorage, gcs_emulator: str) -> None:
    gcs.ping()
    with pytest.raises(StorageError):
        GCSStorage("no-such-bucket-here", emulator_host=gcs_emulator).ping()


def test_no_signed_url_without_a_signing_key(gcs: GCSStorage) -> None:
    gcs.put_bytes("jobs/s/output.mid", b"MThd")
    assert gcs.signed_url("jobs/s/output.mid", 60) is None  # the API then streams the file itself


def test_signed_url_with_a_service_account_key(gcs_emulator: str, bucket: str) -> None:
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    credentials = service_account.Credentials.from_service_account_info(
        {
            "type": "service_account",
            "client_email": "piano-ai@test.iam.gserviceaccount.com",
            "private_key": pem.decode(),
            "token_uri": "https://oauth2.googleapis.com/token",
            "project_id": "test",
        }
    )
    storage = GCSStorage(bucket, "svc/", signing_credentials=credentials, emulator_host=gcs_emulator)
    storage.put_bytes("jobs/s/output.mid", b"MThd-signed")
    url = storage.signed_url("jobs/s/output.mid", 120)
    assert url is not None and url.startswith(gcs_emulator)
    assert "X-Goog-Signature=" in url and "X-Goog-Expires=120" in url
    with urllib.request.urlopen(url, timeout=5) as response:  # the emulator does not check signatures
        assert response.read() == b"MThd-signed"
