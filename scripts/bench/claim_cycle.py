"""A worker's two writes per job, timed alone: claim the row, then mark it succeeded (piano_ai.db.jobs).

    .venv/bin/python scripts/bench/claim_cycle.py [--postgres]

Makes a throwaway database (with --postgres on the local Postgres, PG_ADMIN_URL, as the service tests and
`make bench-service` do; dropped at the end) or a SQLite file, inserts --jobs
queued rows, and reports wall and CPU milliseconds per job for claim_row + succeed, the least of --rounds
rounds. What the rest of a job costs is `make bench-service`'s.
"""

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

from piano_ai.db import jobs as job_store
from piano_ai.db.migrate import upgrade
from piano_ai.db.session import make_engine, make_session_factory

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from service_testkit import throwaway_postgres  # noqa: E402

RESULTS = {"midi_key": "m", "notes_key": "n", "note_count": 3, "audio_duration_s": 5.0}


def run(url: str, jobs: int, rounds: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per job, the least over ``rounds``."""
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    best = (float("inf"), float("inf"))
    try:
        for _ in range(rounds):
            with sessions() as session:
                ids = [str(uuid.uuid4()) for _ in range(jobs)]
                for job_id in ids:
                    job_store.create_job(
                        session, id=job_id, filename="x.wav", content_type="audio/wav", size_bytes=1,
                        params={}, want_score=False, input_key=f"in/{job_id}.wav",
                    )  # fmt: skip
                wall, cpu = time.perf_counter(), time.process_time()
                for job_id in ids:
                    job = job_store.claim_row(session, job_id, "bench", 35.0, stage="decoding")
                    assert job is not None and job_store.succeed(session, job_id, job.attempts, **RESULTS)
                per_job = (
                    (time.perf_counter() - wall) / jobs * 1e3,
                    (time.process_time() - cpu) / jobs * 1e3,
                )
            best = (min(best[0], per_job[0]), min(best[1], per_job[1]))
    finally:
        engine.dispose()
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="a throwaway Postgres database, not SQLite")
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.postgres:
        with throwaway_postgres() as url:
            wall, cpu = run(url, args.jobs, args.rounds)
    else:
        with tempfile.TemporaryDirectory() as folder:
            wall, cpu = run(f"sqlite:///{Path(folder) / 'bench.sqlite'}", args.jobs, args.rounds)
    print(f"claim + succeed: {wall:.2f} ms wall, {cpu:.2f} ms CPU per job (least of {args.rounds} rounds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
