"""A real GCS-speaking server (gcp-storage-emulator) for the storage tests, one per session."""

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

EMULATOR = Path(sys.executable).parent / "gcp-storage-emulator"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """Start the emulator on a free port; yields its URL (what STORAGE_EMULATOR_HOST takes)."""
    port = _free_port()
    proc = subprocess.Popen(
        [str(EMULATOR), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1)
                break
            except OSError as exc:
                if getattr(exc, "code", None):  # an HTTP error means it is up
                    break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the GCS emulator did not start") from exc
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
