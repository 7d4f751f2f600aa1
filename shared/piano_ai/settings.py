"""Runtime settings: the one place that reads the environment.

Signal constants are not here (they belong to the weights: piano_ai.constants).
"""

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every field can be set by an environment variable of the same name, prefix PIANO_AI_."""

    model_config = SettingsConfigDict(env_prefix="PIANO_AI_", env_file=".env", extra="ignore")

    # Model directory (config.json + weights); None means the model shipped in the package.
    model_dir: Path | None = None
    # Serving runtime: "auto" (ONNX Runtime when the model has an .onnx file), "onnx" or "keras".
    runtime: str = "auto"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
