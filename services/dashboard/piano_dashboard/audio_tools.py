"""Audio for the pages: decode an upload, render a MIDI file to sound, encode for the browser.

Uses piano_ai.audio.decode (soundfile/ffmpeg, no TensorFlow) and falls back to librosa directly when
that module is not importable. Rendering uses the fluidsynth CLI with a General MIDI SoundFont when
both are installed, else pretty_midi's sine synthesis.
"""

import io
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf

from piano_ai.constants import SAMPLE_RATE, SUPPORTED_FORMATS
from piano_ai.errors import InvalidAudioError
from piano_ai.formats import SNIFF_BYTES, ffmpeg_demuxer
from piano_ai.types import FloatArray
from piano_dashboard.midi_tools import load_midi

logger = logging.getLogger(__name__)

SOUNDFONTS = (  # tried in order; FluidR3 is Debian's fluid-soundfont-gm
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
)
RENDER_RATE = 22_050  # Hz: enough for listening, half the bytes of 44.1 kHz
RENDER_TIMEOUT_S = 120  # seconds fluidsynth may take before we fall back
PEAK = 0.9  # normalise renderings to this peak amplitude (full scale = 1.0)
# frames per write: libsndfile 1.2.2 segfaults on one big Vorbis write (seen from ~100 s at 22 kHz)
OGG_BLOCK = 65_536
TAIL_S = 1.0  # seconds kept after the last note ends (the release of the last notes)


MIDI_SIGNATURE = b"MThd"  # a Standard MIDI File's first bytes
TEXT_BYTES = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}  # printable ASCII and whitespace


def is_midi(content: bytes) -> bool:
    """True when the bytes are a Standard MIDI File (whatever the name says)."""
    return content.startswith(MIDI_SIGNATURE)


def not_audio_reason(filename: str, content: bytes) -> str | None:
    """A plain sentence when the bytes are no recording we decode (judged from the content, not the name),
    else None. The same check as the API's upload check (piano_ai.formats), so both refuse the same files.
    """
    head = content[:SNIFF_BYTES]
    if ffmpeg_demuxer(head) is not None:
        return None
    formats = ", ".join(SUPPORTED_FORMATS)
    if is_midi(head):
        what = "a MIDI file, not a recording"
    elif head and sum(byte in TEXT_BYTES for byte in head[:4096]) >= 0.95 * len(head[:4096]):
        what = "text, not a recording"
    else:
        what = "not a recording in a format we read"
    return f"{filename} is {what} (whatever its name says). Upload a recording: {formats}."


def decode_upload(filename: str, content: bytes) -> FloatArray:
    """Mono float32 samples at SAMPLE_RATE from an uploaded file; raises InvalidAudioError."""
    suffix = Path(filename).suffix.lower() or ".wav"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(content)
        try:
            from piano_ai.audio import decode
        except ImportError:
            return _decode_with_librosa(filename, path)
        return decode(path, name=filename)


def _decode_with_librosa(filename: str, path: Path) -> FloatArray:
    import librosa

    try:
        samples, _ = librosa.load(path, sr=SAMPLE_RATE, mono=True)
    except Exception as exc:  # soundfile and audioread raise unrelated types
        raise InvalidAudioError(filename, f"{type(exc).__name__}: {exc}") from exc
    if samples.size == 0:
        raise InvalidAudioError(filename, "no samples")
    return samples.astype(np.float32)


def encode_ogg(samples: FloatArray, sample_rate: int) -> bytes:
    """Ogg Vorbis bytes of mono float samples: small enough to inline in a page."""
    buffer = io.BytesIO()
    clipped = np.clip(samples, -1.0, 1.0)
    with sf.SoundFile(buffer, "w", sample_rate, 1, format="OGG", subtype="VORBIS") as out:
        for start in range(0, clipped.size, OGG_BLOCK):
            out.write(clipped[start : start + OGG_BLOCK])
    return buffer.getvalue()


def encode_wav(samples: FloatArray, sample_rate: int) -> bytes:
    """16-bit PCM WAV bytes of mono float samples."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(samples, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def soundfont() -> Path | None:
    """The first General MIDI SoundFont installed, if any."""
    return next((path for path in SOUNDFONTS if path.is_file()), None)


def render_midi(content: bytes) -> tuple[FloatArray, str]:
    """Mono float32 samples at RENDER_RATE of a MIDI file, and how they were made.

    The rendering starts at MIDI time 0 (so it lines up with the notes) and ends TAIL_S after the last
    note. Raises ValueError when the bytes are not MIDI.
    """
    midi = load_midi(content)
    end = int((midi.get_end_time() + TAIL_S) * RENDER_RATE)
    font = soundfont()
    if font is not None and shutil.which("fluidsynth"):
        try:
            return _render_fluidsynth(content, font)[:end], f"FluidSynth ({font.name})"
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
            logger.warning("fluidsynth failed, using pretty_midi synthesis instead: %s", exc)
    return _synthesize(midi)[:end], "sine synthesis (pretty_midi; fluidsynth not available)"


def _render_fluidsynth(content: bytes, font: Path) -> FloatArray:
    with tempfile.TemporaryDirectory() as tmp:
        midi_path, wav_path = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        midi_path.write_bytes(content)
        command = ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(RENDER_RATE), "-F", str(wav_path)]
        subprocess.run(
            [*command, str(font), str(midi_path)], check=True, capture_output=True, timeout=RENDER_TIMEOUT_S
        )
        if not wav_path.is_file() or wav_path.stat().st_size == 0:
            raise RuntimeError("fluidsynth wrote no audio")
        samples, rate = sf.read(wav_path, dtype="float32", always_2d=True)
    if rate != RENDER_RATE:
        raise RuntimeError(f"fluidsynth rendered at {rate} Hz, asked for {RENDER_RATE}")
    return _normalise(samples.mean(axis=1))


def _synthesize(midi: pretty_midi.PrettyMIDI) -> FloatArray:
    return _normalise(midi.synthesize(fs=RENDER_RATE).astype(np.float32))


def _normalise(samples: FloatArray) -> FloatArray:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return (samples * (PEAK / peak) if peak > 0 else samples).astype(np.float32)
