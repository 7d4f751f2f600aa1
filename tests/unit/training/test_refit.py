"""`python -m piano_ai.training.refit`: every decoding network, each written where nets_for looks for it."""

from piano_ai import ends, onsets, sustain, velocities
from piano_ai.training.refit import STEPS


def test_every_network_in_dependency_order_under_the_name_decoding_reads():
    names = [name for _, name in STEPS]
    assert names == [
        onsets.NET_FILE.name,
        ends.NET_FILE.name,
        sustain.NET_FILE.name,
        velocities.NET_FILE.name,
    ]
    for module, name in STEPS:
        assert module.NET_FILE.name == name
    # the onset step also writes the level network beside onsets.npz, before the steps that read it
    assert onsets.LEVEL_NET_FILE.parent == onsets.NET_FILE.parent
