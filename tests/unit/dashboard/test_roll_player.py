"""The piano roll's player page: its sources, the container it drives, nothing fetched from elsewhere."""

import base64
import re

import pytest

from piano_dashboard.figures import BLACK_KEY_LENGTH
from piano_dashboard.roll_player import AudioSource, player_html


def test_the_player_inlines_each_source_and_names_the_roll_it_drives():
    page = player_html(
        [
            AudioSource("Original <take>", b"fLaC-bytes", "audio/flac"),
            AudioSource("MIDI", b"OggS", "audio/ogg"),
        ],
        "piano_roll_box",
    )
    assert f"data:audio/flac;base64,{base64.b64encode(b'fLaC-bytes').decode()}" in page
    assert "<option>Original &lt;take&gt;</option><option>MIDI</option>" in page
    assert 'const BOX = "piano_roll_box";' in page
    assert "p2l(" in page and "l2p(" in page  # click-to-seek and the playhead use the roll's own axis
    # The keys of the sounding notes light up: the keyboard's black keys and their length are the figure's.
    assert "const BLACK = new Set([1, 3, 6, 8, 10]);" in page
    assert f"const BLACK_LENGTH = {BLACK_KEY_LENGTH};" in page and "xaxis2" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing from a CDN: there is no internet


def test_the_player_needs_a_source():
    with pytest.raises(ValueError, match="at least one"):
        player_html([], "box")
