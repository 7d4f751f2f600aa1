"""The worker's liveness heartbeat: the file, the probe's exit code, the timer, and a real Celery worker."""

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
WORKER_SRC = ROOT / "services" / "worker"


def _load_heartbeat() -> ModuleType:
    # By path: the deploy tests must not depend on piano_worker being installed (editable installs map
    # packages that existed when `make install` ran).
    spec = importlib.util.spec_from_file_location(
        "piano_worker_heartbeat_under_test", WORKER_SRC / "piano_worker" / "heartbeat.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hb = _load_heartbeat()


class FakeEntry:
    def __init__(self) -> None:
        self.canceled = False

    def cancel(self) -> None:
        self.canceled = True


class FakeTimer:
    """Records call_repeatedly like kombu's Timer and lets the test fire the callback."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, object, tuple]] = []
        self.entry = FakeEntry()

    def call_repeatedly(self, secs: float, fun, args=(), kwargs=None, priority=0):  # noqa: ANN001
        self.calls.append((secs, fun, args))
        return self.entry


class FakeConsumer:
    def __init__(self) -> None:
        self.timer = FakeTimer()


def test_each_worker_process_has_its_own_file_in_the_temp_dir() -> None:
    assert hb.heartbeat_file().name == f"piano-worker-{os.getpid()}.heartbeat"
    assert hb.heartbeat_file(1234) != hb.heartbeat_file(1235)
    assert hb.heartbeat_file().parent == Path(tempfile.gettempdir())
    assert hb.DEFAULT_MAX_AGE_S >= 3 * hb.INTERVAL_S


def test_the_default_probe_checks_every_running_worker_and_ignores_dead_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert hb.main([]) == 1  # no worker at all
    assert "no heartbeat file of a running worker" in capsys.readouterr().err
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = hb.heartbeat_file(dead.pid)  # a killed worker's file, left behind and old
    hb.touch_heartbeat(stale)
    os.utime(stale, (time.time() - 600, time.time() - 600))
    hb.touch_heartbeat(hb.heartbeat_file())  # this process stands for a live worker
    assert hb.live_heartbeat_files() == [hb.heartbeat_file()]
    assert hb.main(["--max-age-s", "30"]) == 0
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:  # a second live worker on the same /tmp whose loop hangs: its own file says so
        hb.touch_heartbeat(hb.heartbeat_file(other.pid))
        os.utime(hb.heartbeat_file(other.pid), (time.time() - 600, time.time() - 600))
        assert hb.main(["--max-age-s", "30"]) == 1
        assert f"piano-worker-{other.pid}.heartbeat" in capsys.readouterr().err
    finally:
        other.kill()
        other.wait()


def test_touch_then_probe_passes(tmp_path: Path) -> None:
    f = tmp_path / "hb"
    assert hb.main(["--file", str(f)]) == 1  # missing file: not alive
    hb.touch_heartbeat(f)
    assert hb.is_alive(f, max_age_s=5)
    assert hb.main(["--file", str(f), "--max-age-s", "5"]) == 0
    assert not (tmp_path / "hb.tmp").exists()


def test_stale_file_fails_the_probe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "hb"
    hb.touch_heartbeat(f)
    old = time.time() - 120
    os.utime(f, (old, old))
    assert not hb.is_alive(f, max_age_s=60)
    assert hb.main(["--file", str(f), "--max-age-s", "60"]) == 1
    assert "old" in capsys.readouterr().err


def test_start_schedules_one_timer_and_remove_cancels_it(tmp_path: Path) -> None:
    f = tmp_path / "hb"
    consumer = FakeConsumer()
    hb.start_heartbeat(consumer, path=f, interval_s=7)
    hb.start_heartbeat(consumer, path=f, interval_s=7)  # a second signal must not add a second timer
    assert f.exists()
    assert len(consumer.timer.calls) == 1
    secs, fun, args = consumer.timer.calls[0]
    assert secs == 7
    f.unlink()
    fun(*args)  # what the consumer's event loop does every interval
    assert f.exists()
    hb.remove_heartbeat(None, path=f)
    assert consumer.timer.entry.canceled
    assert not f.exists()


def test_write_errors_do_not_escape_the_timer(tmp_path: Path) -> None:
    hb._safe_touch(tmp_path / "missing-dir" / "hb")  # logs, does not raise


def test_signals_are_connected() -> None:
    from celery.signals import worker_ready, worker_shutdown

    # Connected with weak=False, so the receivers are stored as the functions themselves.
    assert hb.start_heartbeat in [r for _, r in worker_ready.receivers]
    assert hb.remove_heartbeat in [r for _, r in worker_shutdown.receivers]


APP = """
from celery import Celery

app = Celery("hb_probe", broker="filesystem://")
app.conf.broker_transport_options = {
    "data_folder_in": "{broker}", "data_folder_out": "{broker}", "processed_folder": "{broker}",
}
"""


@pytest.mark.slow
def test_a_real_worker_touches_and_removes_the_file(tmp_path: Path) -> None:
    """`celery worker --include piano_worker.heartbeat` (as the images run it) keeps the file fresh."""
    broker = tmp_path / "broker"
    broker.mkdir()
    (tmp_path / "hb_probe_app.py").write_text(textwrap.dedent(APP).replace("{broker}", str(broker)))
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=os.pathsep.join([str(tmp_path), str(WORKER_SRC)]))
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "hb_probe_app:app",
        "worker",
        "--concurrency",
        "1",
        "--include",
        "piano_worker.heartbeat",
        "--loglevel",
        "INFO",
    ]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    hb_file = tmp_path / f"piano-worker-{proc.pid}.heartbeat"  # the worker's main process: the one we started
    try:
        deadline = time.monotonic() + 60
        while not hb_file.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert hb_file.exists(), "worker never wrote its heartbeat"
        probe = [sys.executable, "-m", "piano_worker.heartbeat", "--max-age-s", "30"]
        assert subprocess.run(probe, env=env, cwd=tmp_path, timeout=60).returncode == 0
    finally:
        proc.send_signal(signal.SIGTERM)  # warm shutdown, as `docker stop` / pod termination
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    assert not hb_file.exists(), "a stopped worker left its heartbeat behind"
