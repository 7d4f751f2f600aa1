"""What the score stage costs per minute of audio, beside the transcription (docs/score.md, "Cost").

One ASAP *training* performance (the first piece ``piano_ai.data.plan.is_val_piece`` does not hold out) is cut
to ``--seconds`` from a quarter of the way in and rendered with FluidSynth; the shipped model transcribes it,
then the score stages run on the result: beat tracking (madmom) and the rest (tempo map, quantization, hands,
key, MusicXML with music21). Prints wall seconds per minute of audio for each.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pretty_midi

from piano_ai.constants import SAMPLE_RATE
from piano_ai.data.excerpt import excerpt
from piano_ai.data.plan import asap_pieces, is_val_piece
from piano_ai.data.render import instruments, render
from piano_ai.inference import load_transcriber
from piano_ai.score.beats import track_beats
from piano_ai.score.pipeline import score_notes
from piano_ai.transcribe import transcribe

START_FRACTION = 0.25  # excerpts start a quarter of the way into the performance


def performance() -> Path:
    """The first training performance at least 4 minutes long."""
    for piece, files in sorted(asap_pieces().items()):
        if is_val_piece(piece):
            continue
        for file in files:
            if pretty_midi.PrettyMIDI(file).get_end_time() > 240:
                return Path(file)
    raise SystemExit("no ASAP training performance of 4 minutes or more")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[60.0, 180.0], help="excerpt lengths")
    parser.add_argument("--instrument", default="fluidr3", help="a piano_ai.data.render instrument")
    args = parser.parse_args()
    path = performance()
    midi = pretty_midi.PrettyMIDI(str(path))
    model = load_transcriber()
    print(f"{path.parent.name}/{path.name}")
    print("| audio | transcribe s/min | beat tracking s/min | rest of the score s/min | beats found |")
    print("|---|---|---|---|---|")
    for seconds in args.seconds:
        clip = excerpt(midi, round(START_FRACTION * midi.get_end_time(), 3), seconds, seconds)
        audio = render(clip, instruments()[args.instrument], seconds)
        minutes = audio.size / SAMPLE_RATE / 60
        began = time.perf_counter()
        notes = transcribe(audio, model)
        transcribed = time.perf_counter()
        beats = track_beats(audio, notes)
        tracked = time.perf_counter()
        score_notes(notes, beats, audio.size / SAMPLE_RATE)
        done = time.perf_counter()
        spans = ((began, transcribed), (transcribed, tracked), (tracked, done))
        cells = " | ".join(f"{(b - a) / minutes:.1f}" for a, b in spans)
        print(f"| {seconds:.0f} s, {len(notes)} notes | {cells} | {len(beats.times)} |", flush=True)


if __name__ == "__main__":
    main()
