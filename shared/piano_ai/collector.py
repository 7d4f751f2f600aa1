"""The garbage collector in long-running processes (the API, worker pool processes).

Once a process has imported its libraries, built its app and loaded its model, it holds hundreds of
thousands of objects that live as long as it does, and every full collection walks all of them while
holding the GIL: in the API under 20 clients one took 71 ms, and every request in flight waited for it
(docs/benchmarks.md, "Job service"). freeze_startup() moves them out of the collector's reach, and a
larger first-generation threshold makes young collections rarer; reference counting still frees all that
is not in a cycle at once.
"""

import gc
import logging

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


def freeze_startup() -> None:
    """Collect once, then leave every object alive now to the permanent generation (gc.freeze). Call it
    when start-up is done; objects made later are collected as usual."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    log.info("garbage collector: %d start-up objects frozen", gc.get_freeze_count())
