"""A real stack for the worker tests: Postgres (throwaway database), Redis (DB 5, a queue of our own),
local storage in a temp folder, real Celery worker processes with the real model, and the API in-process.
"""

from collections.abc import Iterator

import pytest
from service_testkit import REDIS_BASE_URL, Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack"), REDIS_BASE_URL) as stack:
        yield stack
