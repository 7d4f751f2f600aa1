"""`python -m piano_ai.training.refit`: every decoding network, each written where nets_for looks for it."""

from pathlib import Path
from types import ModuleType

import pytest

from piano_ai import ends, onsets, sustain, velocities
from piano_ai.training import sustain_net
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


@pytest.mark.parametrize("module", [module for module, _ in STEPS if module is not sustain_net])
def test_each_seeded_step_takes_the_seed_refit_gives_it(
    module: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "inventory.json").write_text('{"untrained_pieces": []}')
    with pytest.raises(SystemExit):  # past the options, it finds no MAPS recordings in an empty folder
        module.main(["--maps", str(tmp_path), "--seed", "3", "--out", str(tmp_path / "net.npz")])
    error = capsys.readouterr().err
    assert "unrecognized arguments" not in error
    assert "MAPS" in error
