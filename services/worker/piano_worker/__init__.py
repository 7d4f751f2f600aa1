"""piano-ai workers: Celery tasks turning uploaded recordings into MIDI (one model per process)."""
