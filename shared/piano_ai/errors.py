"""Domain errors shared by the CLI, the API and the worker.

Each carries a stable ``code`` a client can act on; the API maps them to HTTP once.
"""

from piano_ai.constants import SUPPORTED_FORMATS


class PianoAIError(Exception):
    """Base class: ``code`` is stable and machine-readable, the message is for people."""

    code = "internal_error"


class InvalidAudioError(PianoAIError):
    """The input cannot be turned into audio samples."""

    code = "invalid_audio"

    def __init__(self, name: str, reason: str) -> None:
        supported = ", ".join(SUPPORTED_FORMATS)
        super().__init__(f"{name}: file is not decodable audio ({reason}); supported: {supported}")
        self.name = name
        self.reason = reason


class AudioFileNotFoundError(InvalidAudioError):
    """The input audio file does not exist (bad input too: never retried)."""

    code = "audio_not_found"

    def __init__(self, name: str) -> None:
        PianoAIError.__init__(self, f"{name}: no such file")
        self.name = name
        self.reason = "no such file"


class ModelNotFoundError(PianoAIError):
    """The model directory is missing or incomplete."""

    code = "model_not_found"


class InvalidParametersError(PianoAIError):
    """Transcription parameters are out of range."""

    code = "invalid_parameters"


class AudioTooLongError(PianoAIError):
    """The recording lasts longer than this service converts (PIANO_AI_MAX_AUDIO_S): never retried."""

    code = "audio_too_long"

    def __init__(self, name: str, limit_s: float, duration_s: float | None = None) -> None:
        length = f"lasts {duration_s:.0f} s, over" if duration_s is not None else "lasts longer than"
        super().__init__(
            f"{name}: the recording {length} the {limit_s:g} s limit; split it into shorter parts"
        )
        self.name = name
        self.limit_s = limit_s
        self.duration_s = duration_s


class InvalidActivationsError(PianoAIError):
    """A stored activations file cannot be read (not ours, damaged, or another format version)."""

    code = "invalid_activations"
