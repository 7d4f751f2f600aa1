"""Streamlit dashboard for piano-ai: convert recordings, see and hear the MIDI, watch the queue."""
