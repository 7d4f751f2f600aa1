"""`make bench-service`: the job service's own cost.

1. Submit latency: 20 concurrent clients POST short clips to /v1/jobs (no worker running, so only the
   API, database, storage and broker are measured); p50/p99 of the request time. The clients are
   ApacheBench (`ab -c 20`, C, about 0.2 ms of CPU a request) where it is installed, else 20 Python
   threads with httpx (about 4-5 ms of CPU a request, taken from the same cores as the API's).
2. Throughput: N short jobs through the queue (one worker process, concurrency 1 unless --concurrency, model
   loaded once) against the bare CLI code path (piano_ai.commands.convert.convert_file in one process, model
   loaded once) on the same files; overhead = queue wall time / bare wall time - 1. The `piano-ai convert`
   subprocess (process start and model load included) is timed too.

The stack is the embedded default in a temp folder (SQLite, filesystem broker, local storage), or with
--postgres a throwaway database on the local Postgres (PG_ADMIN_URL) and Redis (REDIS_URL, default the local
one) with a queue of its own. Every request carries an admin API key made for the run (auth is on, as in
production); the per-key limits are raised so they count but never refuse.

    .venv/bin/python scripts/bench_service.py [--postgres] [--jobs 100] [--clip-s 5] [--write-docs FILE]
"""

import argparse
import importlib.util
import os
import platform
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts" / "bench"))
from proc_usage import children, cpu_s, rss_mb  # noqa: E402
from service_testkit import piano_clip, throwaway_postgres  # noqa: E402

HEADERS: dict[str, str] = {}  # the run's API key, set in main()
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
CLIENTS = {
    "ab": "ApacheBench, `ab -c 20` (a new connection a request)",
    "threads": "20 Python threads with httpx in the bench's process (keep-alive)",
}
QUIET_WORKER = ["--without-gossip", "--without-mingle", "--without-heartbeat"]  # as the images start it
WARM_UP = 40  # submits before the measured ones
API_COMMAND = "python -m piano_api.serve piano_api.main:app"  # uvicorn, Nagle off (piano_api.serve)
SECTION = "## Job service"  # docs/benchmarks.md: one "### <backend>" subsection per backend under it


@dataclass
class Results:
    submit_ms: list[float] = field(default_factory=list)
    submit_wall_s: float = 0.0
    jobs: int = 0
    clip_s: float = 0.0
    queue_wall_s: float = 0.0
    job_latency_s: list[float] = field(default_factory=list)  # created -> finished, per job
    job_service_s: list[float] = field(default_factory=list)  # started -> finished, per job
    job_gap_s: list[float] = field(default_factory=list)  # a job's start after the previous one's finish
    bare_wall_s: float = 0.0
    cli_wall_s: float = 0.0
    backend: str = ""
    rounds: int = 1
    load: str = ""
    api_cpu_per_submit_ms: float = 0.0  # the API process's CPU time over the submit phase, per upload
    client_cpu_per_submit_ms: float = 0.0  # this process's (the 20 clients') CPU time then, per upload
    queue_cpu_per_job_ms: float = float("inf")  # API + worker processes over a queue pass, per job (best)
    bare_cpu_per_job_ms: float = float("inf")  # the bare pass's CPU time, per file (best)
    api_rss_mb: float = 0.0  # after the run
    worker_rss_mb: float = 0.0  # the pool process (model loaded), after the run
    worker_parent_rss_mb: float = 0.0  # Celery's main process
    uvicorn_args: str = ""  # what --uvicorn-args added
    api_workers: int = 1  # uvicorn --workers
    client: str = ""  # what made the 20 clients' requests
    workers: int = 1  # worker processes
    concurrency: int = 1  # pool processes of each, one job at a time each
    worker_threads: int = 0  # their OMP_NUM_THREADS (0: unset, one inference thread per core)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1, headers=HEADERS).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def measure_submits(api: str, clip: bytes, clients: int, total: int, results: Results, _tmp: Path) -> None:
    """``clients`` Python threads POST ``total`` uploads between them, back to back (keep-alive)."""
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=api, timeout=60, headers=HEADERS) as http:
            for _ in range(total // clients):
                start = time.perf_counter()
                response = http.post("/v1/jobs", files={"file": ("clip.wav", clip)})
                elapsed = (time.perf_counter() - start) * 1000
                response.raise_for_status()
                with lock:
                    results.submit_ms.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    cpu_before = time.process_time()
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.submit_wall_s = time.perf_counter() - start
    results.client_cpu_per_submit_ms = (time.process_time() - cpu_before) / total * 1000


def measure_submits_ab(api: str, clip: bytes, clients: int, total: int, results: Results, tmp: Path) -> None:
    """ApacheBench posts ``total`` uploads from ``clients`` concurrent connections; per-request times from
    its -g file (whole milliseconds). Raises if any request was not answered 2xx."""
    boundary = uuid.uuid4().hex
    body = tmp / "upload.body"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.wav"\r\n'
    body.write_bytes(
        f"{head}Content-Type: audio/wav\r\n\r\n".encode() + clip + f"\r\n--{boundary}--\r\n".encode()
    )
    times = tmp / "ab.tsv"
    cmd = ["ab", "-q", "-c", str(clients), "-n", str(total), "-g", str(times), "-p", str(body)]
    cmd += [
        "-T",
        f"multipart/form-data; boundary={boundary}",
        "-H",
        f"Authorization: {HEADERS['Authorization']}",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([*cmd, f"{api}/v1/jobs"], check=True, capture_output=True, text=True).stdout
    results.submit_wall_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    results.client_cpu_per_submit_ms = client_s / total * 1000
    if "Non-2xx responses" in out or "Complete requests:      " + str(total) not in out:
        raise RuntimeError(f"ab: some submits failed:\n{out}")
    rows = times.read_text().splitlines()[1:]  # starttime, seconds, ctime, dtime, ttime, wait
    results.submit_ms = [float(row.split("\t")[4]) for row in rows]


def queued_ids(http: httpx.Client) -> list[str]:
    """Every queued job's id (the ab client does not read the answers)."""
    ids: list[str] = []
    cursor = None
    while True:
        params = {"status": "queued", "limit": 200} | ({"cursor": cursor} if cursor else {})
        page = http.get("/v1/jobs", params=params).json()
        ids += [job["id"] for job in page["items"]]
        if not (cursor := page["next_cursor"]):
            return ids


def wait_all(http: httpx.Client, ids: list[str], timeout_s: float) -> list[dict]:
    """Wait until nothing is queued or running (one cheap request per look), then read each job once."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counts = http.get("/v1/queue").json()["counts"]
        if counts["queued"] + counts["running"] == 0:
            return [http.get(f"/v1/jobs/{job_id}").json() for job_id in ids]
        time.sleep(0.25)
    raise TimeoutError("jobs unfinished")


def _seconds(a: str, b: str) -> float:
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(b) - parse(a)).total_seconds()


def run_queue(api: str, files: list[Path]) -> tuple[float, list[dict]]:
    """Submit every file, wait for all; returns (wall seconds to the last finish, the jobs)."""
    with httpx.Client(base_url=api, timeout=60, headers=HEADERS) as http:
        start = datetime.now(UTC)
        ids = []
        for path in files:
            response = http.post("/v1/jobs", files={"file": (path.name, path.read_bytes())})
            response.raise_for_status()
            ids.append(response.json()["id"])
        jobs = wait_all(http, ids, timeout_s=1800)
    failed = [j for j in jobs if j["status"] != "succeeded"]
    if failed:
        raise RuntimeError(f"{len(failed)} jobs did not succeed: {failed[0]}")
    # Wall time to the last job's finish as the job store recorded it (not when polling noticed).
    return max(_seconds(start.isoformat(), j["finished_at"]) for j in jobs), jobs


def gaps(jobs: list[dict]) -> list[float]:
    """For each job after the first, the time from the previous job's finish to its start (one worker: the
    broker's hand-over and the claim), never below zero."""
    ordered = sorted(jobs, key=lambda j: j["started_at"])
    pairs = zip(ordered, ordered[1:], strict=False)
    return [max(0.0, _seconds(a["finished_at"], b["started_at"])) for a, b in pairs]


def bare_runner(files: list[Path], out_dir: Path) -> Callable[[], float]:
    """The CLI's code path in this process (model loaded and warmed once); the callable times one pass."""
    from piano_ai.commands.convert import convert_file
    from piano_ai.inference import load_transcriber
    from piano_ai.settings import get_settings
    from piano_ai.types import NoteParams

    settings = get_settings()
    model = load_transcriber(settings.model_dir, runtime=settings.runtime)
    out_dir.mkdir(parents=True, exist_ok=True)
    convert_file(files[0], model, NoteParams(), out_dir)  # warm-up, as the worker's first job

    def one_pass() -> float:
        start = time.perf_counter()
        for path in files:
            convert_file(path, model, NoteParams(), out_dir)
        return time.perf_counter() - start

    return one_pass


def time_cli(files: list[Path], out_dir: Path) -> float:
    """`piano-ai convert` over every file as a subprocess: start-up and model load included."""
    cli = [
        str(Path(sys.executable).parent / "piano-ai"),
        "convert",
        *map(str, files),
        "-o",
        str(out_dir),
        "-q",
    ]
    start = time.perf_counter()
    subprocess.run(cli, check=True, capture_output=True)
    return time.perf_counter() - start


def compare(
    api: str, files: list[Path], tmp: Path, rounds: int, results: Results, service_pids: list[int]
) -> None:
    """Alternate queue and bare passes; keep the fastest of each (the machine is shared), and the least
    CPU time per job of each: the service's processes (``service_pids`` and their children) for a queue
    pass, this process for a bare one."""
    bare = bare_runner(files, tmp / "out")
    results.queue_wall_s = results.bare_wall_s = float("inf")

    def service_cpu_s() -> float:
        return sum(cpu_s(pid, with_children=True) for pid in service_pids)

    for n in range(rounds):
        print(f"round {n + 1}/{rounds}: queue, then bare ...", flush=True)
        cpu_before = service_cpu_s()
        wall, jobs = run_queue(api, files)
        queue_cpu_ms = (service_cpu_s() - cpu_before) / len(files) * 1000
        results.queue_cpu_per_job_ms = min(results.queue_cpu_per_job_ms, queue_cpu_ms)
        if wall < results.queue_wall_s:
            results.queue_wall_s = wall
            results.job_latency_s = [_seconds(j["created_at"], j["finished_at"]) for j in jobs]
            results.job_service_s = [_seconds(j["started_at"], j["finished_at"]) for j in jobs]
            results.job_gap_s = gaps(jobs)
        cpu_before = time.process_time()
        results.bare_wall_s = min(results.bare_wall_s, bare())
        bare_cpu_ms = (time.process_time() - cpu_before) / len(files) * 1000
        results.bare_cpu_per_job_ms = min(results.bare_cpu_per_job_ms, bare_cpu_ms)
    results.cli_wall_s = time_cli(files, tmp / "cli")


def report(r: Results) -> str:
    overhead = r.queue_wall_s / r.bare_wall_s - 1
    api_options = f"--workers {r.api_workers}" if r.api_workers > 1 else ""
    per_job_ms = (r.queue_wall_s - r.bare_wall_s) / r.jobs * 1000
    rows = [
        (
            f"submit latency, {len(r.submit_ms)} uploads from 20 concurrent clients ({r.client}): p50",
            f"{_pct(r.submit_ms, 50):.0f} ms",
        ),
        ("submit latency p99", f"{_pct(r.submit_ms, 99):.0f} ms"),
        ("submit throughput", f"{len(r.submit_ms) / r.submit_wall_s:.1f} uploads/s"),
        (
            f"{r.jobs} jobs of {r.clip_s:g} s audio through the queue ({r.workers} worker process(es)), wall",
            f"{r.queue_wall_s:.1f} s",
        ),
        (
            "the same files, bare CLI code path (one process, model loaded once), wall",
            f"{r.bare_wall_s:.1f} s",
        ),
        ("**queue overhead**", f"**{overhead:+.0%}** ({per_job_ms:.0f} ms per job)"),
        (
            f"`piano-ai convert` of the {r.jobs} files as a subprocess (start-up, model load)",
            f"{r.cli_wall_s:.1f} s",
        ),
        (
            "per job, submit to finished: p50 / p99",
            f"{_pct(r.job_latency_s, 50):.2f} s / {_pct(r.job_latency_s, 99):.2f} s",
        ),
        (
            "per job, claimed to finished (worker time): mean",
            f"{statistics.mean(r.job_service_s) * 1000:.0f} ms",
        ),
        (
            "**worker bookkeeping per job** (that mean minus the bare conversion of one file)",
            f"**{(statistics.mean(r.job_service_s) - r.bare_wall_s / r.jobs) * 1000:.0f} ms**",
        ),
        (
            "between jobs (one worker): previous finished to next claimed, mean / p99",
            f"{statistics.mean(r.job_gap_s) * 1000:.1f} ms / {_pct(r.job_gap_s, 99) * 1000:.1f} ms"
            if r.job_gap_s
            else "-",
        ),
        ("CPU time of the API per submit (20-client phase)", f"{r.api_cpu_per_submit_ms:.1f} ms"),
        (
            f"CPU time of the 20 clients ({r.client}) per submit (they share the machine)",
            f"{r.client_cpu_per_submit_ms:.1f} ms",
        ),
        (
            "CPU time per job: through the queue (API + worker processes) / bare CLI code path",
            f"{r.queue_cpu_per_job_ms:.0f} ms / {r.bare_cpu_per_job_ms:.0f} ms",
        ),
        (
            "**fixed CPU cost per job** (the difference: submit, claim, progress, results, polls)",
            f"**{r.queue_cpu_per_job_ms - r.bare_cpu_per_job_ms:.0f} ms**",
        ),
        (
            "RSS after the run: API / worker pool process (model loaded) / worker main process",
            f"{r.api_rss_mb:.0f} MB / {r.worker_rss_mb:.0f} MB / {r.worker_parent_rss_mb:.0f} MB",
        ),
    ]
    return "\n".join(
        [
            f"### {r.backend}",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `make bench-service`",
            f"(scripts/bench_service.py). Machine: {platform.machine()},",
            f"{os.cpu_count()} cores, load average {r.load} at the start (other work shared the cores).",
            f"Queue and bare passes alternate; each wall time is the fastest of {r.rounds} passes.",
            f"API: `{' '.join([API_COMMAND, api_options, r.uvicorn_args]).strip()}`"
            f" ({_http_stack()}). Clients: {CLIENTS[r.client]}.",
            f"Workers: {r.workers} process(es) of {r.concurrency} pool process(es), one job at a time each,"
            " OMP_NUM_THREADS "
            + (
                f"{r.worker_threads}."
                if r.worker_threads
                else "unset (the model's threads: every core for one pool process, one each for several)."
            ),
            "",
            "| measure | value |",
            "|---|---|",
            *(f"| {name} | {value} |" for name, value in rows),
            "",
        ]
    )


def _http_stack() -> str:
    """The HTTP parser and event loop uvicorn picks by default: httptools and uvloop when installed."""
    found = [name for name in ("httptools", "uvloop") if importlib.util.find_spec(name) is not None]
    return ("installed: " + ", ".join(found)) if found else "httptools and uvloop not installed: h11, asyncio"


def write_docs(path: Path, section: str) -> None:
    """Replace this backend's "### ..." subsection of the job-service section (or add it at the end)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    heading = section.splitlines()[0]
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n"
    if heading in text:
        start = text.index(heading)
        ends = [i for i in (text.find("\n## ", start), text.find("\n### ", start + 1)) if i != -1]
        end = min(ends) + 1 if ends else len(text)
        text = text[:start] + section.rstrip("\n") + "\n\n" + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")


def start(name: str, cmd: list[str], env: dict[str, str], tmp: Path) -> subprocess.Popen[bytes]:
    log = (tmp / f"{name}.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", *cmd], env=env, stdout=log, stderr=subprocess.STDOUT)


@contextmanager
def database(postgres: bool, tmp: Path) -> Iterator[str]:
    """A throwaway Postgres database (dropped afterwards) or a SQLite file in ``tmp``."""
    if not postgres:
        yield f"sqlite:///{tmp}/bench.db"
        return
    with throwaway_postgres() as url:
        yield url


def bench_env(tmp: Path, database_url: str, redis_url: str | None) -> dict[str, str]:
    """The service's environment: ``database_url``, Redis or the filesystem broker, local storage in
    ``tmp``, a queue of our own, and limits high enough that they are checked but never refuse."""
    env = {**os.environ, "PIANO_AI_QUEUE": f"bench_{uuid.uuid4().hex[:8]}", "DATABASE_URL": database_url}
    env |= {"PIANO_AI_STORAGE_DIR": str(tmp / "storage"), "PIANO_AI_BROKER_DIR": str(tmp / "broker")}
    env |= {"PIANO_AI_SUBMISSIONS_PER_MINUTE": "1000000", "PIANO_AI_MAX_ACTIVE_JOBS": "1000000"}
    env |= {"PIANO_AI_AUTH": "required", "PIANO_AI_STORAGE_BACKEND": "local"}
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def admin_key(env: dict[str, str]) -> str:
    """A new admin API key in the run's job store (`piano-ai keys create`)."""
    made = subprocess.run(
        [sys.executable, "-m", "piano_ai.cli", "keys", "create", "bench", "--admin"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return made.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--clip-s", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3, help="queue/bare passes; the fastest of each counts")
    parser.add_argument(
        "--pool", default="prefork", help="Celery pool of the worker (prefork, solo, threads)"
    )
    parser.add_argument("--per-client", type=int, default=10, help="submits per client (20 clients)")
    parser.add_argument(
        "--postgres", action="store_true", help="a throwaway Postgres database and Redis (REDIS_URL or local)"
    )
    parser.add_argument(
        "--uvicorn-args",
        default="",
        help='more uvicorn options, e.g. "--http h11 --loop asyncio" (the pure-Python parser and loop)',
    )
    parser.add_argument("--api-workers", type=int, default=1, help="API processes (uvicorn --workers)")
    parser.add_argument(
        "--client",
        choices=["ab", "threads"],
        default="ab" if shutil.which("ab") else "threads",
        help="the 20 clients: ApacheBench (default where installed) or Python threads with httpx",
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (--concurrency each)")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="pool processes per worker, each running one job at a time"
    )
    parser.add_argument(
        "--worker-threads", type=int, default=0, help="OMP_NUM_THREADS of each worker (default: unset)"
    )
    parser.add_argument(
        "--worker-args", default="", help='more `celery worker` options, e.g. "--autoscale 2,1"'
    )
    parser.add_argument("--write-docs", type=Path, help="replace the job-service section of this file")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-"))
    with database(args.postgres, tmp) as url:
        redis_url = os.environ.get("REDIS_URL", LOCAL_REDIS) if args.postgres else None
        results = run_bench(args, tmp, bench_env(tmp, url, redis_url))
    section = report(results)
    print("\n" + section)
    if args.write_docs:
        write_docs(args.write_docs, section)
    return 0


def record_memory(results: Results, api_pid: int, worker_pid: int) -> None:
    """RSS of the API, the worker's pool process (the largest child: it holds the model) and its parent."""
    results.api_rss_mb = max([rss_mb(api_pid), *(rss_mb(pid) for pid in children(api_pid))])
    results.worker_parent_rss_mb = rss_mb(worker_pid)
    results.worker_rss_mb = max((rss_mb(pid) for pid in children(worker_pid)), default=0.0)


def run_bench(args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> Results:
    """Start the API, time the submits, start one worker, time queue against bare passes."""
    results = Results(
        jobs=args.jobs,
        clip_s=args.clip_s,
        rounds=args.rounds,
        load=", ".join(f"{x:.2f}" for x in os.getloadavg()),
        uvicorn_args=args.uvicorn_args,
        api_workers=args.api_workers,
        client=args.client,
        workers=args.workers,
        concurrency=args.concurrency,
        worker_threads=args.worker_threads,
    )
    database = "Postgres" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
    broker = "Redis" if env.get("REDIS_URL") else "filesystem broker"
    results.backend = f"{database} + {broker} + local storage"
    if (database, broker) == ("SQLite", "filesystem broker"):
        results.backend = "Embedded default: " + results.backend.replace(" + ", ", ")
    files = [
        piano_clip(tmp / f"clip{i:03d}.wav", (40 + i % 40, 52 + i % 30, 64 + i % 20), seconds=args.clip_s)
        for i in range(args.jobs)
    ]
    subprocess.run([sys.executable, "-m", "piano_ai.db", "upgrade"], env=env, check=True, capture_output=True)
    HEADERS["Authorization"] = f"Bearer {admin_key(env)}"
    api = f"http://127.0.0.1:{_free_port()}"
    port = api.rsplit(":", 1)[1]
    procs = [
        start(
            "api",
            ["piano_api.serve", "piano_api.main:app", "--port", port, "--log-level", "warning"]
            + ["--workers", str(args.api_workers)]
            + shlex.split(args.uvicorn_args),
            env,
            tmp,
        )
    ]
    try:
        _wait_http(f"{api}/healthz")
        print(f"submit latency: 20 clients x {args.per_client} uploads (no worker) ...", flush=True)
        total, clip = 20 * args.per_client, files[0].read_bytes()
        measure = measure_submits_ab if args.client == "ab" else measure_submits
        measure(api, clip, 20, WARM_UP, Results(), tmp)  # each API process's first requests: not counted
        api_cpu_before = cpu_s(procs[0].pid, with_children=True)
        measure(api, clip, 20, total, results, tmp)
        results.api_cpu_per_submit_ms = (
            (cpu_s(procs[0].pid, with_children=True) - api_cpu_before) / total * 1000
        )
        with httpx.Client(base_url=api, timeout=60, headers=HEADERS) as http:
            ids = queued_ids(http)
            if len(ids) != total + WARM_UP:
                raise RuntimeError(f"{total + WARM_UP} submits answered, but {len(ids)} jobs queued")
            for job_id in ids:
                http.post(f"/v1/jobs/{job_id}/cancel")
        worker_env = env | ({"OMP_NUM_THREADS": str(args.worker_threads)} if args.worker_threads else {})
        for n in range(args.workers):  # as `docker compose up --scale worker=N`: one job at a time each
            worker = ["celery", "-A", "piano_worker.celery_app:app", "worker", "-n", f"bench{n}@%h"]
            worker += ["--concurrency", str(args.concurrency), "--prefetch-multiplier", "1", *QUIET_WORKER]
            worker += ["--pool", args.pool, *shlex.split(args.worker_args)]
            procs.append(start(f"worker{n}", worker, worker_env, tmp))
        with httpx.Client(base_url=api, timeout=60, headers=HEADERS) as http:
            clip = files[0].read_bytes()
            pools = range(args.workers * args.concurrency)  # a first job for each pool process
            warm = [http.post("/v1/jobs", files={"file": ("warm.wav", clip)}).json()["id"] for _ in pools]
            wait_all(http, warm, timeout_s=300)
        compare(api, files, tmp, args.rounds, results, [proc.pid for proc in procs])
        record_memory(results, procs[0].pid, procs[1].pid)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return results


if __name__ == "__main__":
    sys.exit(main())
