"""SynthViz page and MIDI rendering."""

import base64
import subprocess
import sys

from piano_dashboard import audio_tools, synthviz
from piano_dashboard.midi_tools import NoteRow


def test_page_inlines_notes_and_audio():
    rows = [NoteRow(0, 64, 0.5, 1.0, 80), NoteRow(0, 60, 0.0, 0.5, 100)]
    page = synthviz.synthviz_html(rows, b"OggS-audio")
    assert "const NOTES = [[60,0.0,0.5,100],[64,0.5,1.0,80]];" in page  # sorted by start
    assert f"data:audio/ogg;base64,{base64.b64encode(b'OggS-audio').decode()}" in page
    assert "const LOW = 21, HIGH = 108" in page
    assert "__" not in page.replace("__proto__", "")  # every placeholder filled


def test_pitches_outside_the_piano_widen_the_keyboard():
    page = synthviz.synthviz_html([NoteRow(0, 12, 0.0, 1.0, 80)], b"")
    assert "const LOW = 12, HIGH = 108" in page


def test_render_midi_makes_audio_of_the_right_length(small_midi):
    samples, how = audio_tools.render_midi(small_midi)
    seconds = samples.size / audio_tools.RENDER_RATE
    assert 1.25 <= seconds <= 1.25 + audio_tools.TAIL_S + 0.01  # the notes and a short release tail
    assert 0.5 < abs(samples).max() <= audio_tools.PEAK + 1e-6
    assert how
    assert audio_tools.encode_ogg(samples, audio_tools.RENDER_RATE)[:4] == b"OggS"


def test_long_audio_encodes_to_ogg_without_crashing_the_process():
    # libsndfile segfaulted on one big Vorbis write: in a child, a regression fails pytest, not kills it
    code = (
        "import numpy as np\n"
        "from piano_dashboard.audio_tools import encode_ogg\n"
        "ogg = encode_ogg(np.zeros(22_050 * 180, dtype=np.float32) + 0.01, 22_050)\n"
        "print(ogg[:4].decode())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout.strip()) == (0, "OggS")
