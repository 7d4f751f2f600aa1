"""The README's REST example, run by bash against a stand-in API: it waits for the job, then downloads."""

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[3] / "README.md"
README_API = "http://127.0.0.1:8000"
JOB_ID = "4f6c0f0e-6a43-4f8e-9a55-2b1d0c2f9a10"
MIDI = b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x04\x00\xff\x2f\x00"
BEFORE_THE_END = ("queued", "running")  # what GET /v1/jobs/{id} answers first, then the final status


def job_service_block() -> str:
    """The first ```bash block under the README's '## The job service' heading."""
    section = README.read_text(encoding="utf-8").split("## The job service", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "no bash block under '## The job service'"
    return match.group(1)


class StandIn(BaseHTTPRequestHandler):
    """POST /v1/jobs, GET /v1/jobs/{id} and GET /v1/jobs/{id}/midi, as docs/api.md describes them."""

    final_status = "succeeded"
    polls = 0
    key = "pai_readme-example-key"
    midi_requests: list[str] = []

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass

    def answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def status(self) -> str:
        if StandIn.polls < len(BEFORE_THE_END):
            return BEFORE_THE_END[StandIn.polls]
        return StandIn.final_status

    def refused(self) -> bool:
        """401 like the API, when the request does not carry the key."""
        if self.headers.get("Authorization") == f"Bearer {StandIn.key}":
            return False
        problem = {"status": 401, "code": "missing_api_key", "detail": "send Authorization: Bearer <key>"}
        self.answer(401, json.dumps(problem).encode(), "application/problem+json")
        return True

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.refused():
            return
        self.answer(202, json.dumps({"id": JOB_ID, "status": "queued"}).encode())

    def do_GET(self) -> None:  # noqa: N802
        if self.refused():
            return
        if self.path == f"/v1/jobs/{JOB_ID}":
            body = {"id": JOB_ID, "status": self.status(), "error": None}
            StandIn.polls += 1
            self.answer(200, json.dumps(body, separators=(",", ":")).encode())
        elif self.path == f"/v1/jobs/{JOB_ID}/midi":
            StandIn.midi_requests.append(self.status())
            if self.status() == "succeeded":
                self.answer(200, MIDI, "audio/midi")
            else:
                problem = {"status": 409, "code": "job_not_succeeded", "detail": "the job has not succeeded"}
                self.answer(409, json.dumps(problem).encode(), "application/problem+json")
        else:
            self.answer(404, b"{}")


@pytest.fixture
def stand_in() -> Iterator[str]:
    StandIn.polls, StandIn.midi_requests, StandIn.final_status = 0, [], "succeeded"
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run_block(base_url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    (folder / "etude.wav").write_bytes(b"RIFF....WAVE")
    (folder / "var" / "keys").mkdir(parents=True)
    (folder / "var" / "keys" / "curl.key").write_text(StandIn.key + "\n")  # as make run leaves it
    script = job_service_block().replace(README_API, base_url)
    return subprocess.run(
        ["bash", "-c", script], cwd=folder, capture_output=True, text=True, timeout=60, check=False
    )


pytestmark = pytest.mark.skipif(not shutil.which("curl"), reason="the README's example uses curl")


def test_the_example_waits_for_the_job_then_downloads_the_midi(stand_in: str, tmp_path: Path) -> None:
    result = run_block(stand_in, tmp_path)
    assert result.returncode == 0, result.stderr
    assert StandIn.midi_requests == ["succeeded"]  # never asked for the MIDI before the job ended
    assert (tmp_path / "etude.mid").read_bytes() == MIDI


def test_a_failed_job_is_reported_not_downloaded(stand_in: str, tmp_path: Path) -> None:
    StandIn.final_status = "failed"
    result = run_block(stand_in, tmp_path)
    assert StandIn.midi_requests == []
    assert not (tmp_path / "etude.mid").exists()
    assert '"status":"failed"' in result.stdout  # the job, with its error, is shown instead
