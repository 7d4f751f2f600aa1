import os

import pytest

from piano_worker import runtime


@pytest.fixture
def pool_size():
    yield runtime.set_pool_size
    runtime.set_pool_size(1)


def test_one_pool_process_gets_every_core_and_several_one_thread_each(
    pool_size, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    pool_size(1)
    assert runtime.model_threads() == len(os.sched_getaffinity(0))
    pool_size(2)
    assert runtime.model_threads() == 1


def test_omp_num_threads_sets_them_whatever_the_pool(pool_size, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    pool_size(4)
    assert runtime.model_threads() == 3
