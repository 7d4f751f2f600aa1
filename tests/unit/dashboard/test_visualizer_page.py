"""The MIDI visualizer page with a real (small) MIDI file."""


def open_midi(at, name, content):
    at.file_uploader[0].set_value((name, content, "audio/midi"))
    return at.run()


def test_without_a_file_it_asks_for_one(dashboard):
    at = dashboard("app_pages/visualizer.py")
    assert not at.exception
    assert "Open a .mid file" in at.info[0].value


def test_a_midi_file_shows_instruments_roll_statistics_and_players(dashboard, small_midi):
    at = open_midi(dashboard("app_pages/visualizer.py"), "arpeggio.mid", small_midi)
    assert not at.exception
    assert [e.value for e in at.error] == []
    instruments = at.dataframe[0].value
    assert list(instruments["name"]) == ["Piano"]
    assert list(instruments["notes"]) == [4]
    assert (instruments["lowest"][0], instruments["highest"][0]) == ("C4", "C5")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Notes"] == "4"
    assert metrics["Max polyphony"] == "2"
    assert metrics["Range"] == "C4–C5"
    assert len(at.get("plotly_chart")) == 2  # piano roll + pitch histogram
    assert len(at.get("audio")) == 1  # the rendering (no original recording here)
    assert len(at.get("iframe")) == 2  # the piano roll's player, SynthViz


def test_a_file_that_is_not_midi_is_an_error_message(dashboard):
    at = open_midi(dashboard("app_pages/visualizer.py"), "broken.mid", b"MThd garbage")
    assert not at.exception
    assert "invalid_midi" in at.error[0].value
