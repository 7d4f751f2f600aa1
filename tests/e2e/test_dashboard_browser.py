"""End to end: the real stack (API, worker, dashboard via scripts/run_local.py) driven by a real browser.

Upload a short piano clip on the Convert page, transcribe it with the shipped model, wait for the piano
roll, check the Queue page, and save a screenshot of the result (into docs/img/dashboard.png, the
README's picture, only with PIANO_AI_UPDATE_SCREENSHOT=1); open past jobs in the Library, one of them with
its sheet music engraved (docs/img/library*.png, docs/img/sheet-music.png, on the same request).
Embedded defaults only: SQLite, local storage and the filesystem broker in a temporary directory.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RUN_LOCAL = ROOT / "scripts" / "run_local.py"
CHROMIUM = Path("/usr/bin/chromium")
# The README's picture is refreshed only on request (PIANO_AI_UPDATE_SCREENSHOT=1); tests keep the tree clean.
README_SCREENSHOT = ROOT / "docs" / "img" / "dashboard.png"
STARTUP_S = 240  # seconds for the API, the dashboard and a worker with its model to come up
TRANSCRIBE_S = 300  # seconds from Transcribe to the piano roll (CPU inference, shared machine)
SCORE_S = 120  # more seconds for a job that makes sheet music (beat tracking: ~12 s per minute of audio)
VIEWPORT = {"width": 1400, "height": 1250}
BEAT_S = 0.5  # seconds per quarter note (120 bpm)
# "Mary had a little lamb" (traditional): melody as (MIDI pitch, beats) and one chord root per 4/4 bar
MELODY = [(76, 1), (74, 1), (72, 1), (74, 1), (76, 1), (76, 1), (76, 2), (74, 1), (74, 1), (74, 2),
          (76, 1), (79, 1), (79, 2), (76, 1), (74, 1), (72, 1), (74, 1), (76, 1), (76, 1), (76, 1), (76, 1),
          (74, 1), (74, 1), (76, 1), (74, 1), (72, 4)]  # fmt: skip
BASS_ROOTS = [48, 48, 43, 48, 48, 48, 43, 48]  # C C G C C C G C (C3, G2)


def clip_notes() -> list[tuple[int, float, float, int]]:
    """The clip as (pitch, start s, end s, velocity): the melody over broken chords in eighth notes."""
    notes, beat = [], 0.0
    for pitch, beats in MELODY:
        notes.append((pitch, beat * BEAT_S, (beat + beats) * BEAT_S - 0.05, 92))
        beat += beats
    for bar, root in enumerate(BASS_ROOTS):
        third = 4 if root == 48 else 16  # E above C; B above G (an octave up: 43 + 16 = 59)
        for i, step in enumerate((0, 7, 12 + third % 12, 7) * 2):
            start = (bar * 4 + i * 0.5) * BEAT_S
            notes.append((root + step, start, start + 0.5 * BEAT_S, 58))
    return notes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, key: str | None = None) -> bytes | None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2) as response:
            return response.read() if response.status == 200 else None
    except OSError:
        return None


def wait_until(ready, timeout_s: float, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"run_local.py exited ({proc.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        if ready():
            return
        time.sleep(1.0)
    pytest.fail(f"{what} not ready after {timeout_s} s:\n{log.read_text()[-3000:]}")


def piano_clip(path: Path) -> Path:
    """A 16 s rendered piano clip (FluidSynth with a GM SoundFont, or sines), as 16 kHz WAV."""
    import io

    import librosa
    import pretty_midi
    import soundfile as sf

    from piano_dashboard.audio_tools import RENDER_RATE, render_midi

    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(velocity=v, pitch=p, start=s, end=e) for p, s, e, v in clip_notes()]
    midi.instruments.append(piano)
    buffer = io.BytesIO()
    midi.write(buffer)
    samples, _ = render_midi(buffer.getvalue())
    sf.write(path, librosa.resample(samples, orig_sr=RENDER_RATE, target_sr=16_000), 16_000)
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The whole service on free ports, with a fresh SQLite job store and storage; stopped afterwards."""
    if not RUN_LOCAL.is_file():
        pytest.skip("scripts/run_local.py is not there yet")
    var = tmp_path_factory.mktemp("stack")
    api_port, dashboard_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DATABASE_URL=f"sqlite:///{var / 'piano_ai.db'}",
        PIANO_AI_STORAGE_BACKEND="local",
        PIANO_AI_STORAGE_DIR=str(var / "storage"),
        PIANO_AI_BROKER_DIR=str(var / "broker"),
        PIANO_AI_LOCAL_KEYS_DIR=str(var / "keys"),
    )
    log = var / "stack.log"
    command = [
        sys.executable,
        str(RUN_LOCAL),
        "--api-port",
        str(api_port),
        "--dashboard-port",
        str(dashboard_port),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    api, dashboard = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{dashboard_port}"
    try:
        wait_until(lambda: get(f"{api}/healthz") is not None, STARTUP_S, "the API", proc, log)
        wait_until(
            lambda: get(f"{dashboard}/_stcore/health") is not None, STARTUP_S, "the dashboard", proc, log
        )
        key = (var / "keys" / "dashboard.key").read_text().strip()  # the admin key make run made
        wait_until(
            lambda: b'"workers":[{' in (get(f"{api}/v1/queue", key) or b""), STARTUP_S, "a worker", proc, log
        )
        yield {"api": api, "dashboard": dashboard, "log": str(log), "key": key}
    finally:
        proc.send_signal(signal.SIGTERM)  # run_local stops its children (worker finishes or is killed)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--autoplay-policy=no-user-gesture-required",
            ],  # fmt: skip
        )
        yield chromium
        chromium.close()


ERRORS = "[data-testid=stAlertContentError], [data-testid=stException]"


@contextmanager
def explained(page, stack: dict[str, str], tmp_path: Path) -> Iterator[None]:
    """On any failure: what the page says, a screenshot, and the stack's log, in the test report."""
    try:
        yield
    except Exception as exc:
        shot = tmp_path / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        alerts = page.locator(ERRORS).all_inner_texts()
        log = Path(stack["log"]).read_text(errors="replace")[-4000:]
        pytest.fail(f"{exc}\npage errors: {alerts}\nscreenshot: {shot}\nstack log tail:\n{log}")


def _screenshot_path(tmp_path: Path, docs_path: Path = README_SCREENSHOT) -> Path:
    """Where a picture goes: docs/img/ on request (PIANO_AI_UPDATE_SCREENSHOT=1), else the test's folder."""
    if os.environ.get("PIANO_AI_UPDATE_SCREENSHOT") == "1":
        docs_path.parent.mkdir(parents=True, exist_ok=True)
        return docs_path
    return tmp_path / docs_path.name


def converted(stack: dict[str, str], clip: Path, score: bool = False) -> str:
    """Submit ``clip`` straight to the API (with ``score``, sheet music too) and wait until it succeeded;
    returns the job id."""
    import httpx

    client = httpx.Client(base_url=stack["api"], headers={"Authorization": f"Bearer {stack['key']}"})
    with clip.open("rb") as audio:
        files, data = {"file": (clip.name, audio)}, {"score": str(score).lower()}
        job = client.post("/v1/jobs", files=files, data=data, timeout=60).json()
    deadline = time.monotonic() + TRANSCRIBE_S + (SCORE_S if score else 0)
    while (status := client.get(f"/v1/jobs/{job['id']}").json()["status"]) in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, f"job {job['id']} still {status}"
        time.sleep(1.0)
    assert status == "succeeded", status
    return str(job["id"])


def wait_until_idle(page, quiet_s: float = 1.5, timeout_s: float = 60) -> None:
    """Until Streamlit has run no script for ``quiet_s`` (reruns queued by a slider come late under load)."""
    icons = ("stStatusWidgetRunningIcon", "stStatusWidgetRunningManIcon")
    running = page.locator(", ".join(f"[data-testid={icon}]" for icon in icons))
    deadline, quiet_since = time.monotonic() + timeout_s, time.monotonic()
    while time.monotonic() < deadline:
        if running.count():
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the dashboard was still running a script after {timeout_s} s")


def notes_shown(page) -> int:
    metric = page.locator("[data-testid=stMetric]", has_text="Notes with these settings")
    return int(metric.locator("[data-testid=stMetricValue]").inner_text(timeout=60_000))


def test_upload_transcribe_see_the_piano_roll(stack, browser, tmp_path):
    clip = piano_clip(tmp_path / "little_lamb.wav")
    page = browser.new_page(viewport=VIEWPORT)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    with explained(page, stack, tmp_path):
        page.goto(stack["dashboard"])
        page.wait_for_selector("input[type=file]", state="attached", timeout=60_000)
        page.set_input_files("input[type=file]", str(clip))
        page.get_by_role("button", name="Transcribe").click(timeout=120_000)

        # the piano roll, or an error message: whichever comes first
        roll = page.locator(".js-plotly-plot .gtitle", has_text="Piano roll")
        roll.or_(page.locator(ERRORS)).first.wait_for(timeout=TRANSCRIBE_S * 1000)
        assert page.locator(ERRORS).all_inner_texts() == []
        page.get_by_text("Transcribed", exact=False).wait_for(timeout=30_000)
        page.wait_for_timeout(2_000)  # let plotly finish drawing before the picture
        page.screenshot(path=str(_screenshot_path(tmp_path)), full_page=False)

        page.get_by_role("tab", name="SynthViz").click()
        synthviz = page.frame_locator("iframe").nth(1)  # the first is the piano roll's player
        assert int(synthviz.locator("canvas#roll").get_attribute("data-notes", timeout=30_000) or 0) >= 1
        assert synthviz.locator("audio#player").count() == 1

        page.goto(f"{stack['dashboard']}/queue")
        page.get_by_text("Recent jobs", exact=True).wait_for(timeout=60_000)
        page.get_by_text("Succeeded", exact=True).wait_for(timeout=30_000)  # the count metric
        # The panel's last line ("Updated 08:46:49 UTC."), not the job detail's "last updated" row.
        page.get_by_text(re.compile(r"^Updated \d\d:\d\d:\d\d UTC\.$")).wait_for(timeout=30_000)
        assert page.locator(ERRORS).all_inner_texts() == []
    page.close()
    assert [line for line in console if "Invalid color specifier" in line] == []  # plotly.js, per bad colour


def test_swagger_ui_works_offline(stack, browser):
    """/docs draws the API's operations with every request outside this machine refused."""
    page = browser.new_page(viewport=VIEWPORT)
    outside: list[str] = []

    def local_only(route) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(f"{stack['api']}/docs")
    page.locator(".swagger-ui .info .title", has_text="piano-ai").wait_for(timeout=30_000)
    page.get_by_text("/v1/jobs/{job_id}/midi", exact=True).first.wait_for(timeout=30_000)
    assert outside == []
    page.close()


def test_library_open_a_past_job_move_a_slider_the_count_changes(stack, browser, tmp_path):
    """Library -> open a past job (its own URL) -> the onset slider re-decodes it -> the note count changes
    -> press play: the playhead moves over the piano roll and the keys of the notes under it light up on its
    keyboard, a click seeks; a reload keeps the job open.
    Pictures: docs/img/library.png, library-job.png and piano-roll-playing.png on request."""
    job_id = converted(stack, piano_clip(tmp_path / "library_lamb.wav"))
    page = browser.new_page(viewport=VIEWPORT)
    with explained(page, stack, tmp_path):
        page.goto(f"{stack['dashboard']}/library")
        page.get_by_text("newest first", exact=False).wait_for(timeout=60_000)
        page.wait_for_timeout(1_000)
        page.screenshot(path=str(_screenshot_path(tmp_path, ROOT / "docs" / "img" / "library.png")))
        page.get_by_role("link", name="library_lamb.wav").first.click()
        page.get_by_role("heading", name="library_lamb.wav").wait_for(timeout=60_000)
        assert page.url.endswith(f"/library?job={job_id}")  # its own URL, to bookmark or share
        before = notes_shown(page)
        assert before >= 1

        onset = page.locator("[data-testid=stSlider]", has_text="Onset threshold").get_by_role("slider")
        onset.focus()
        for _ in range(13):  # 0.7 -> 0.05, the slider's floor, a step of 0.05 per key: the onset network is
            page.keyboard.press("ArrowLeft")  # sure of most peaks, so only its floor hears more of them
        deadline = time.monotonic() + 60
        while (after := notes_shown(page)) == before and time.monotonic() < deadline:
            page.wait_for_timeout(500)
        assert after > before  # a lower onset threshold hears more notes
        page.get_by_text(f"The job's own settings give {before} note", exact=False).wait_for(timeout=30_000)
        assert page.locator(ERRORS).all_inner_texts() == []
        page.wait_for_timeout(2_000)  # let plotly finish drawing before the picture
        page.screenshot(path=str(_screenshot_path(tmp_path, ROOT / "docs" / "img" / "library-job.png")))

        # Play: the playhead moves over the piano roll; a click on the roll seeks there.
        wait_until_idle(page)  # the slider's last rerun would redraw the roll under the clicks
        player = page.frame_locator("iframe").first
        assert "Original recording" in player.locator("select#source").inner_text(timeout=30_000)
        player.locator("button#play").click()
        head = page.locator(".st-key-piano_roll_box .playhead")
        head.wait_for(state="attached", timeout=30_000)
        start = float(head.get_attribute("data-time") or 0)
        start_x = head.evaluate("e => e.getBoundingClientRect().left")
        page.wait_for_timeout(1_500)
        assert float(head.get_attribute("data-time") or 0) > start + 0.5  # it plays
        assert head.evaluate("e => e.getBoundingClientRect().left") > start_x  # and the line moves
        # The keys of the notes under the playhead light up on the keyboard (the clip's bass never rests).
        lit = page.locator(".st-key-piano_roll_box .lit-keys")
        deadline = time.monotonic() + 10
        while not (lit.get_attribute("data-pitches") or "") and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        pitches = [int(p) for p in (lit.get_attribute("data-pitches") or "").split()]
        assert pitches and all(36 <= p <= 96 for p in pitches), pitches
        key = page.locator(".st-key-piano_roll_box .lit-key").first.bounding_box()
        roll_box = page.locator(".st-key-piano_roll_box .nsewdrag").first.bounding_box()
        assert key is not None and roll_box is not None and key["x"] + key["width"] <= roll_box["x"] + 1
        player.locator("button#play").click()  # pause
        # the player binds its click handler to the chart on a frame after the chart is drawn
        page.locator(".st-key-piano_roll_box .js-plotly-plot[data-seek-bound]").wait_for(timeout=30_000)
        audio = player.locator("audio#player")
        duration = float(audio.evaluate("a => a.duration"))
        deadline = time.monotonic() + 10
        while not audio.evaluate("a => a.paused") and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert audio.evaluate("a => a.paused")  # paused: from here only a seek moves the playhead

        def seeked() -> bool:
            return float(head.get_attribute("data-time") or 0) > 0.6 * duration

        drag = page.locator(".st-key-piano_roll_box .nsewdrag").first
        clicks = []
        deadline = time.monotonic() + 30  # a click that lands while the chart is redrawn is lost: click again
        while not seeked() and time.monotonic() < deadline:
            drag.scroll_into_view_if_needed()  # a mouse click outside the viewport reaches nothing
            box = drag.bounding_box()
            if box is not None:
                page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
                clicks.append((box, head.get_attribute("data-time")))
            clicked = time.monotonic()
            while not seeked() and time.monotonic() - clicked < 3:  # the seek shows on a later frame
                page.wait_for_timeout(100)
        # clicked three quarters in: it moved there
        where = (duration, clicks, head.get_attribute("data-time"))
        assert seeked() and audio.evaluate("a => a.paused"), where
        page.screenshot(
            path=str(_screenshot_path(tmp_path, ROOT / "docs" / "img" / "piano-roll-playing.png"))
        )

        page.reload()  # the URL names the job: it survives a reload
        page.get_by_role("heading", name="library_lamb.wav").wait_for(timeout=60_000)
        assert notes_shown(page) == before  # the job itself kept its own settings

        # The Queue page: the depth history from the job table, the worker, and this job's detail.
        page.goto(f"{stack['dashboard']}/queue")
        page.get_by_text("Job detail", exact=True).wait_for(timeout=60_000)
        page.get_by_text("from the job table", exact=False).first.wait_for(timeout=30_000)
        assert page.locator(ERRORS).all_inner_texts() == []
        page.wait_for_timeout(2_000)
        page.screenshot(
            path=str(_screenshot_path(tmp_path, ROOT / "docs" / "img" / "queue.png")), full_page=True
        )
    page.close()


def test_a_finished_job_shows_its_sheet_music(stack, browser, tmp_path):
    """A job made with score=true, opened in the Library: its Sheet music view holds the score engraved by
    verovio (an SVG image) and the MusicXML and quantized MIDI downloads. Picture: docs/img/sheet-music.png
    on request."""
    import base64

    job_id = converted(stack, piano_clip(tmp_path / "sheet_lamb.wav"), score=True)
    page = browser.new_page(viewport=VIEWPORT)
    with explained(page, stack, tmp_path):
        page.goto(f"{stack['dashboard']}/library?job={job_id}")
        heading = page.get_by_role("heading", name="Sheet music")
        heading.wait_for(timeout=60_000)
        engraved = page.locator('[data-testid=stImage] img[src^="data:image/svg+xml"]').first
        engraved.wait_for(timeout=60_000)
        source = engraved.get_attribute("src") or ""
        svg = base64.b64decode(source.split(",", 1)[1]).decode()
        assert "<svg" in svg and 'class="definition-scale"' in svg  # verovio's engraving, not a placeholder
        assert engraved.bounding_box()["height"] > 100  # drawn, at a readable size
        for label in ("Download MusicXML", "Download quantized MIDI"):
            page.get_by_role("button", name=label).wait_for(timeout=30_000)
        assert page.locator(ERRORS).all_inner_texts() == []
        heading.scroll_into_view_if_needed()
        page.wait_for_timeout(1_000)
        page.screenshot(path=str(_screenshot_path(tmp_path, ROOT / "docs" / "img" / "sheet-music.png")))
    page.close()
