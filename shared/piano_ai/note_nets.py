"""The small networks that find the notes and the pedal in a model's outputs, each fitted for that model."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from piano_ai import ends, onsets, sustain, velocities
from piano_ai.mlp import Mlp


@dataclass(frozen=True)
class NoteNets:
    onsets: Mlp  # which onset peaks start notes (piano_ai.onsets), from the heads
    ends: Mlp  # where each note ends (piano_ai.ends)
    sustain: Mlp  # where the sustain pedal is down (piano_ai.sustain)
    onsets_level: Mlp | None = None  # the same from the heads and the levels (None: none fitted)
    velocities: Mlp | None = None  # how hard notes were struck, from heads and levels (None: the head)
    ends_level: Mlp | None = None  # where notes end, from the heads and the levels (None: none fitted)

    def onset_judge(self, level: object | None) -> tuple[Mlp, bool]:
        """The onset network for activations with (``level`` not None) or without levels, and whether it
        reads them."""
        if level is not None and self.onsets_level is not None:
            return self.onsets_level, True
        return self.onsets, False

    def end_judge(self, level: object | None) -> tuple[Mlp, bool]:
        """The end network for activations with (``level`` not None) or without levels, and whether it
        reads them."""
        if level is not None and self.ends_level is not None:
            return self.ends_level, True
        return self.ends, False


@lru_cache(maxsize=1)
def shipped_nets() -> NoteNets:
    """The networks fitted for the shipped model's outputs (weights/default/onsets.npz, ends.npz,
    sustain.npz, onsets_level.npz, velocities.npz and ends_level.npz)."""
    return NoteNets(
        onsets.shipped_net(),
        ends.shipped_net(),
        sustain.shipped_net(),
        onsets.shipped_level_net(),
        velocities.shipped_net(),
        ends.shipped_level_net(),
    )


@lru_cache(maxsize=8)
def nets_for(model_dir: Path | None) -> NoteNets:
    """The networks fitted for a model directory's outputs (its onsets.npz, ends.npz, sustain.npz,
    onsets_level.npz, velocities.npz and ends_level.npz), each else the shipped one."""
    return NoteNets(
        onset_net_for(model_dir),
        end_net_for(model_dir),
        sustain_net_for(model_dir),
        level_net_for(model_dir),
        velocity_net_for(model_dir),
        end_level_net_for(model_dir),
    )


def onset_net_for(model_dir: Path | None) -> Mlp:
    """The model directory's onsets.npz, else the shipped onset network."""
    return _own(model_dir, onsets.NET_FILE, len(onsets.FEATURES), onsets.shipped_net)


def level_net_for(model_dir: Path | None) -> Mlp | None:
    """The model directory's onsets_level.npz; else the shipped level network, unless the directory has
    an onsets.npz of its own (fitted to its outputs, which the shipped level network was not): then None."""
    width = len(onsets.FEATURES) + len(onsets.LEVEL_FEATURES)
    return _newer(model_dir, onsets.LEVEL_NET_FILE, width, onsets.shipped_level_net)


def end_level_net_for(model_dir: Path | None) -> Mlp | None:
    """The model directory's ends_level.npz; else the shipped one, unless the directory has decoding
    networks of its own: then None."""
    width = len(ends.FEATURES) + len(ends.LEVEL_FEATURES)
    return _newer(model_dir, ends.LEVEL_NET_FILE, width, ends.shipped_level_net)


def velocity_net_for(model_dir: Path | None) -> Mlp | None:
    """The model directory's velocities.npz; else the shipped velocity network, unless the directory has an
    onsets.npz of its own (its outputs are not the shipped model's): then None, and the head gives them."""
    return _newer(model_dir, velocities.NET_FILE, len(velocities.FEATURES), velocities.shipped_net)


def _newer(
    model_dir: Path | None, shipped_path: Path, features: int, shipped: Callable[[], Mlp]
) -> Mlp | None:
    """A network that model directories made before it existed lack: theirs, else the shipped one where the
    directory brings no decoding networks of its own (an onsets.npz), else None."""
    if model_dir is None:
        return shipped()
    if (model_dir / shipped_path.name).is_file():
        return Mlp.load(model_dir / shipped_path.name, features)
    return None if (model_dir / onsets.NET_FILE.name).is_file() else shipped()


def end_net_for(model_dir: Path | None) -> Mlp:
    """The model directory's ends.npz, else the shipped end network."""
    return _own(model_dir, ends.NET_FILE, len(ends.FEATURES), ends.shipped_net)


def sustain_net_for(model_dir: Path | None) -> Mlp:
    """The model directory's sustain.npz, else the shipped sustain network."""
    return _own(model_dir, sustain.NET_FILE, len(sustain.FEATURES), sustain.shipped_net)


def _own(model_dir: Path | None, shipped_path: Path, features: int, shipped: Callable[[], Mlp]) -> Mlp:
    mine = model_dir / shipped_path.name if model_dir is not None else None
    return Mlp.load(mine, features) if mine is not None and mine.is_file() else shipped()
