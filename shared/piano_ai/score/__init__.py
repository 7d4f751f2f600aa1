"""From performance to score: pure stages after the notes.

beats (tracking) -> tempo (the MIDI tempo map) -> quantize (notes on the beat grid) -> hands (two staves)
-> musicxml (the engraved score), composed by score.pipeline.
"""
