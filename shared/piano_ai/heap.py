"""glibc's malloc told to keep freed memory for the next arrays instead of handing it back to the kernel.

By default glibc maps every block over a threshold (128 KB, raised as such blocks are freed) straight from
the kernel and returns it on free, and gives back the top of its heap once more than twice that is free.
A conversion makes and drops arrays of 1-15 MB by the thousand (a block's spectrum, each network's layer
over every candidate), so nearly each one came as fresh pages, every page a fault: in this virtual machine
`(x @ w) + b` for a (7616, 32) x took 2.6 ms against 1.0 ms from reused memory. With blocks under
MMAP_THRESHOLD taken from the heap and up to TRIM_THRESHOLD of free memory kept at a heap's top, the
`make bench` files one at a time converted in 0.86-0.88 against 0.90-0.93 s (docs/benchmarks.md, "Freed
memory kept"; thresholds of 8 and 16 MB won nothing). The price is memory the process keeps after a peak,
per thread's heap: `piano-ai convert` of those 4 files at once peaked at 460-477 against 373-386 MB.
"""

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 16 << 20  # blocks under this come from the heap
TRIM_THRESHOLD = 64 << 20  # free memory at the heap's top kept up to this


def keep_freed_memory() -> bool:
    """Set glibc's thresholds (MMAP_THRESHOLD, TRIM_THRESHOLD) for this process; False where the C library
    is not glibc or the environment sets malloc's tunables itself (GLIBC_TUNABLES)."""
    if not sys.platform.startswith("linux") or "GLIBC_TUNABLES" in os.environ:
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the C library this process runs on
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
