import gc

from piano_ai.collector import YOUNG_THRESHOLD, freeze_startup


def test_freeze_startup_leaves_live_objects_to_the_permanent_generation() -> None:
    threshold = gc.get_threshold()
    kept = [[] for _ in range(1000)]  # alive at the freeze
    try:
        freeze_startup()
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *threshold[1:])
        cycle: list = []
        cycle.append(cycle)  # made after the freeze: still collected
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
