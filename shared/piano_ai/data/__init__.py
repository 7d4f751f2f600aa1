"""The dataset factory: render MIDI to audio, augment it, and write log-mel + target shards."""
