"""MIDI visualizer: open any .mid file (ours or not) to see, study and hear it."""

import streamlit as st

from piano_dashboard import views

st.title("MIDI visualizer")
upload = st.file_uploader("MIDI file", type=["mid", "midi"])
if upload is None:
    st.info("Open a .mid file (a transcription from the Convert page, or any other) to see and hear it.")
    st.stop()

views.midi_result(upload.getvalue(), upload.name)
