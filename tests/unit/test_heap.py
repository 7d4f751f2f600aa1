"""piano_ai.heap: glibc keeps freed memory for the next arrays instead of mapping fresh pages each time."""

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")

# In a fresh interpreter: how many bytes an 8 MB numpy array took as a mapping of its own (mallinfo2's
# hblkhd grows by them when malloc maps the block straight from the kernel).
MAPPED_BYTES = textwrap.dedent(
    """
    import ctypes, sys
    import numpy as np
    from piano_ai.heap import keep_freed_memory

    class Info(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost")]

    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = Info
    if sys.argv[1] == "keep":
        assert keep_freed_memory()
    before = mallinfo2().hblkhd
    block = np.ones(2 << 20, np.float32)
    print(mallinfo2().hblkhd - before)
    """
)


def mapped_bytes(mode: str) -> int:
    env = {name: os.environ[name] for name in ("PATH", "PYTHONPATH") if name in os.environ}  # no tunables
    run = subprocess.run(
        [sys.executable, "-c", MAPPED_BYTES, mode], capture_output=True, text=True, check=True, env=env
    )
    return int(run.stdout)


def test_an_array_comes_from_the_heap_once_freed_memory_is_kept() -> None:
    assert mapped_bytes("default") >= 8 << 20  # glibc's default: a block this size is a fresh mapping
    assert mapped_bytes("keep") == 0


def test_the_environment_s_own_tunables_win(monkeypatch: pytest.MonkeyPatch) -> None:
    from piano_ai.heap import keep_freed_memory

    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1048576")
    assert keep_freed_memory() is False
