"""Re-decoding speed: how long `POST /v1/jobs/{id}/decode` takes for a 5-minute recording (target: under
300 ms), and what keeping a job's model outputs costs in storage.

The recording is the golden clip (8 s of dense Chopin) repeated to --minutes, run once through the shipped
model (or --activations FILE from `piano-ai convert --save-activations`). Then, for each of several
threshold settings, timed --repeat times: the pure decode (load the stored npz, notes_from_activations, MIDI
bytes) and the whole request through the API in-process (SQLite in a temp folder, local storage): routing,
job lookup, storage read, decode, JSON of every note.

    .venv/bin/python scripts/bench_decode.py [--minutes 5] [--repeat 7] [--activations take.activations.npz]
"""

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_CLIP = ROOT / "tests" / "data" / "golden" / "clip.flac"
SETTINGS = (  # (onset, frame, offset, min_note_ms): the defaults, then the sliders' extremes
    (0.7, 0.3, 0.8, 30.0),
    (0.3, 0.3, 0.8, 30.0),
    (0.9, 0.5, 0.5, 60.0),
    (0.05, 0.05, 0.95, 0.0),
)


def model_outputs(minutes: float) -> bytes:
    """The stored-activations bytes of the golden clip repeated to ``minutes``, through the real model."""
    from piano_ai import activations
    from piano_ai.audio import decode
    from piano_ai.constants import SAMPLE_RATE
    from piano_ai.features import log_mel
    from piano_ai.inference import load_transcriber

    clip = decode(GOLDEN_CLIP)
    audio = np.tile(clip, int(np.ceil(minutes * 60 * SAMPLE_RATE / clip.size)))[
        : int(minutes * 60 * SAMPLE_RATE)
    ]
    started = time.perf_counter()
    outputs = load_transcriber().predict(log_mel(audio))
    print(
        f"model: {audio.size / SAMPLE_RATE:.0f} s of audio in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    started = time.perf_counter()
    data = activations.dumps(outputs)
    print(
        f"store: {len(data) / 1e6:.2f} MB npz in {(time.perf_counter() - started) * 1000:.0f} ms",
        file=sys.stderr,
    )
    return data


def row(what: str, setting: tuple[float, ...], count: int, times: list[float]) -> None:
    """One line of the markdown table: median and worst of the timed runs, milliseconds."""
    print(f"| {what} | {setting} | {count} | {statistics.median(times):.0f} | {max(times):.0f} |")


def time_ms(work, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return times


def pure_decode(data: bytes, repeat: int) -> None:
    from piano_ai import activations
    from piano_ai.midi_io import midi_bytes
    from piano_ai.notes import notes_from_activations
    from piano_ai.types import NoteParams

    for setting in SETTINGS:
        params = NoteParams(*setting)
        count = len(notes_from_activations(activations.loads(data), params))
        times = time_ms(
            lambda p=params: midi_bytes(notes_from_activations(activations.loads(data), p)), repeat
        )
        row("pure decode + MIDI", setting, count, times)


def api_decode(data: bytes, repeat: int, tmp: Path) -> None:
    os.environ.update(
        DATABASE_URL=f"sqlite:///{tmp}/jobs.db",
        PIANO_AI_STORAGE_DIR=str(tmp / "storage"),
        PIANO_AI_STORAGE_BACKEND="local",
    )
    from fastapi.testclient import TestClient

    from piano_ai import activations
    from piano_ai.db import jobs as job_store
    from piano_ai.db import keys as api_keys
    from piano_ai.db.migrate import upgrade
    from piano_ai.db.session import get_session_factory
    from piano_ai.midi_io import midi_bytes, notes_to_json
    from piano_ai.notes import notes_from_activations
    from piano_ai.storage import get_storage, job_keys
    from piano_ai.types import NoteParams
    from piano_api.main import create_app

    logging.getLogger().setLevel(logging.WARNING)  # the API's request lines would drown the table
    upgrade()
    job_id = str(uuid.uuid4())
    keys = job_keys(job_id, "wav")
    storage = get_storage()
    storage.put_bytes(keys.activations, data)  # and the job's own results, as the worker writes them
    own = notes_from_activations(activations.loads(data), NoteParams())
    storage.put_bytes(keys.notes, notes_to_json(own).encode())
    storage.put_bytes(keys.midi, midi_bytes(own))
    with get_session_factory()() as session:
        key_row, key = api_keys.create_key(session, "bench")  # each request is authenticated, as served
        job_store.create_job(
            session,
            id=job_id,
            owner_key_id=key_row.id,
            filename="five-minutes.wav",
            size_bytes=1,
            params=vars(NoteParams()),
            input_key=keys.input,
        )
        attempt = job_store.claim(session, job_id, "bench")
        assert attempt is not None
        job_store.succeed(
            session, job_id, attempt, midi_key=keys.midi, notes_key=keys.notes, note_count=len(own)
        )
    client = TestClient(create_app(), headers={"Authorization": f"Bearer {key}"})
    for onset, frame, offset, min_ms in SETTINGS:
        body = {
            "onset_threshold": onset,
            "frame_threshold": frame,
            "offset_threshold": offset,
            "min_note_ms": min_ms,
        }
        response = client.post(f"/v1/jobs/{job_id}/decode", json=body)
        assert response.status_code == 200, response.text
        times = time_ms(
            lambda b=body: client.post(f"/v1/jobs/{job_id}/decode", json=b).raise_for_status(), repeat
        )
        count = response.json()["note_count"]
        row("POST /decode (API)", (onset, frame, offset, min_ms), count, times)
        link = response.json()["links"]["midi"]
        times = time_ms(lambda u=link: client.get(u).raise_for_status(), repeat)
        row("GET its MIDI link (API)", (onset, frame, offset, min_ms), count, times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the recording (default 5)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per setting (default 7)")
    parser.add_argument(
        "--activations", type=Path, help="a saved .activations.npz instead of running the model"
    )
    args = parser.parse_args()
    data = args.activations.read_bytes() if args.activations else model_outputs(args.minutes)
    print(f"stored outputs: {len(data) / 1e6:.2f} MB")
    print("| what | (onset, frame, offset, min ms) | notes | median ms | max ms |")
    print("|---|---|---|---|---|")
    pure_decode(data, args.repeat)
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as tmp:
        api_decode(data, args.repeat, Path(tmp))


if __name__ == "__main__":
    main()
