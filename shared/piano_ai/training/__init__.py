"""Training the transcription model: data windows, losses, the fit loop and export."""
