"""Render MIDI to mono 16 kHz audio: FluidSynth for SoundFonts, sfizz for SFZ instruments (render_sfz)."""

from __future__ import annotations

import logging
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from piano_ai.constants import SAMPLE_RATE
from piano_ai.types import FloatArray

if TYPE_CHECKING:
    import pretty_midi

SF2_DIR = Path("/usr/share/sounds/sf2")
TRAINING_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "training-data"
INSTRUMENTS_DIR = Path(__file__).resolve().parent / "instruments"
FLUIDSYNTH_GAIN = 0.7  # FluidSynth master gain: loud enough, no clipping on dense chords
FLUIDSYNTH_POLYPHONY = 1024  # voices; the default 256 steals held notes in dense pedalled passages
RENDER_TIMEOUT_S = 600  # one clip never takes this long; a hung renderer is killed
RENDER_ATTEMPTS = 4

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Instrument:
    """A piano sound: a SoundFont preset (bank, program) or an SFZ file."""

    name: str
    kind: str  # "sf2" (FluidSynth) or "sfz" (sfizz)
    path: Path
    bank: int = 0  # SoundFont preset; ignored for SFZ
    program: int = 0


def instruments() -> dict[str, Instrument]:
    """Every instrument the factory knows, by name (which are train-only / val-only is build's call)."""
    return {
        "fluidr3": Instrument("fluidr3", "sf2", SF2_DIR / "FluidR3_GM.sf2"),
        "timgm6mb": Instrument("timgm6mb", "sf2", SF2_DIR / "TimGM6mb.sf2"),
        "musescore": Instrument("musescore", "sf2", SF2_DIR / "MuseScore_General_Full.sf2"),
        "salamander": Instrument("salamander", "sfz", INSTRUMENTS_DIR / "salamander-c5-subset.sfz"),
        # Opt-in pianos (not in the build's default list, so older seeds still plan the same clips):
        "gmbank": Instrument("gmbank", "sf2", SF2_DIR / "sf_GMbank.sf2"),  # Debian csound-soundfont
        "gmbank-acoustic": Instrument("gmbank-acoustic", "sf2", SF2_DIR / "sf_GMbank.sf2", bank=127),
        "mellow": Instrument("mellow", "sf2", SF2_DIR / "MuseScore_General_Full.sf2", bank=8),
        "headroom": Instrument(
            "headroom", "sfz", TRAINING_DATA / "instruments" / "headroom-piano" / "Headroom Piano (NoFX).sfz"
        ),
    }


def select_preset(path: Path, bank: int, program: int) -> None:
    """Rewrite the MIDI file at ``path`` so every track opens with bank select (CC0) + program change.

    pretty_midi writes a track's program change before any control change at the same tick, so a CC0
    it wrote would only select the bank for a later program change; this puts the pair first instead.
    """
    import mido

    song = mido.MidiFile(str(path))
    for track in song.tracks:
        if not any(m.type in ("note_on", "note_off") for m in track):
            continue
        channel = next((m.channel for m in track if m.type == "note_on"), 0)
        kept = [m for m in track if m.type != "program_change"]
        head = [
            mido.Message("control_change", channel=channel, control=0, value=bank, time=0),
            mido.Message("program_change", channel=channel, program=program, time=0),
        ]
        track[:] = head + _retimed(track, kept)
    song.save(str(path))


def _retimed(track: list, kept: list) -> list:
    """``kept`` (a subset of ``track``) with delta times that keep every message at its absolute tick."""
    out, tick, last = [], 0, 0
    keep = {id(m) for m in kept}
    for message in track:
        tick += message.time
        if id(message) in keep:
            out.append(message.copy(time=tick - last))
            last = tick
    return out


def _read_mono(path: Path) -> FloatArray:
    import soundfile as sf

    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        import librosa

        mono = librosa.resample(mono, orig_sr=rate, target_sr=SAMPLE_RATE)
    return np.ascontiguousarray(mono, dtype=np.float32)


def _run_renderer(cmd: list[str], attempts: int = RENDER_ATTEMPTS) -> None:
    """Run a renderer process, retrying a crash (a stuck one is killed after RENDER_TIMEOUT_S)."""
    for attempt in range(1, attempts + 1):
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=RENDER_TIMEOUT_S)
            return
        except subprocess.CalledProcessError as exc:
            if attempt == attempts:
                raise RuntimeError(f"{cmd[0]} failed {attempts} times: {exc.stderr[-500:]!r}") from exc
            logger.warning("%s exited with %s; retrying", Path(cmd[0]).name, exc.returncode)


def render(midi: pretty_midi.PrettyMIDI, instrument: Instrument, seconds: float) -> FloatArray:
    """Render ``midi`` with ``instrument``; returns exactly round(seconds * SAMPLE_RATE) mono samples.

    The MIDI should end (an end-marker event) at or after ``seconds`` so FluidSynth does not stop
    early; audio past ``seconds`` (ringing release samples) is cut, missing audio is zero-padded.
    """
    if instrument.kind == "sfz":
        from piano_ai.data.render_sfz import render_sfz

        return render_sfz(midi, instrument.path, seconds)
    with tempfile.TemporaryDirectory(prefix="piano-ai-render-") as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        midi.write(str(mid))
        if instrument.bank or instrument.program:
            select_preset(mid, instrument.bank, instrument.program)
        cmd = ["fluidsynth", "-ni", "-q", "-g", str(FLUIDSYNTH_GAIN), "-R", "0", "-C", "0",
               "-o", f"synth.polyphony={FLUIDSYNTH_POLYPHONY}",
               "-F", str(wav), "-r", str(SAMPLE_RATE), str(instrument.path), str(mid)]  # fmt: skip
        _run_renderer(cmd)
        audio = _read_mono(wav)
    n = int(round(seconds * SAMPLE_RATE))
    if len(audio) < n:
        audio = np.pad(audio, (0, n - len(audio)))
    return audio[:n]
