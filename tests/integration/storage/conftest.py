"""A real GCS-speaking server (gcp-storage-emulator) for the storage tests, one per session."""

from collections.abc import Iterator

import pytest
from service_testkit import gcs_emulator_server


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    with gcs_emulator_server() as url:
        yield url
