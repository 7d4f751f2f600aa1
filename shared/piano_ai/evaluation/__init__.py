"""Scoring transcriptions against reference MIDI with mir_eval."""
