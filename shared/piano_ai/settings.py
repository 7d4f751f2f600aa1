"""Runtime settings: the one place that reads the environment.

Signal constants are not here (they belong to the weights: piano_ai.constants).
Most fields read ``PIANO_AI_<FIELD>``; the few that follow wider conventions (DATABASE_URL, REDIS_URL)
read their usual unprefixed names.
"""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Every field can be set by an environment variable of the same name, prefix PIANO_AI_."""

    model_config = SettingsConfigDict(
        env_prefix="PIANO_AI_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # Model directory (config.json + weights); None means the model shipped in the package.
    model_dir: Path | None = None
    # Serving runtime: "auto" (ONNX Runtime on model.int8.onnx, else model.onnx, else Keras), or one of
    # piano_ai.runtimes.RUNTIMES: "onnx", "onnx-int8", "openvino", "openvino-bf16" (pip install openvino),
    # "keras".
    runtime: str = "auto"

    # Job store: SQLAlchemy URL. SQLite is for the embedded default only; production uses Postgres.
    database_url: str = Field(
        default="sqlite:///var/piano_ai.db", validation_alias=AliasChoices("DATABASE_URL")
    )
    # Seconds to wait for a Postgres connection before the request fails (503 database_unavailable).
    database_connect_timeout_s: int = Field(default=5, ge=1)
    # Postgres connections a process keeps open for reuse (opened on demand). An API process runs up to
    # api_threads requests' database work at once; beyond the pool, each request opened and closed a
    # connection of its own (a new server process: several ms).
    database_pool_size: int = Field(default=20, ge=1)
    # Threads an API process runs blocking work in (database, storage, upload checks); more requests wait
    # their turn in the event loop. Fewer threads contend less for the GIL: 20 clients submitting at once on
    # 2 cores saw a p99 of 161-199 ms and 6-9 ms of API CPU a submit with 1-2 threads against 222-360 ms and
    # 9-12 ms with 8 (embedded stack), 283-402 ms with anyio's default 40; on Postgres + Redis 2 and 8 were
    # alike (docs/benchmarks.md, "Job service"). Raise it when storage is slow (large uploads to GCS, as the
    # k8s config does) and many requests arrive at once: a request waits while every thread is busy.
    api_threads: int = Field(default=2, ge=1)
    # Celery broker: Redis when set, else kombu's filesystem transport under broker_dir (no server).
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL"))
    broker_dir: Path = Path("var/broker")

    # Where uploads and results live.
    storage_backend: Literal["local", "gcs"] = "local"
    storage_dir: Path = Path("var/storage")  # local backend root
    gcs_bucket: str | None = None
    gcs_prefix: str = ""  # key prefix inside the bucket, e.g. "piano-ai/"
    signed_url_ttl_s: int = 900  # lifetime of a signed download URL, seconds
    # The google library reads this itself; we read it too, to use anonymous credentials there.
    storage_emulator_host: str | None = Field(
        default=None, validation_alias=AliasChoices("STORAGE_EMULATOR_HOST")
    )

    # Dashboard -> API: where, and the dashboard's API key (an admin key: its Queue page sees every job).
    api_url: str = "http://127.0.0.1:8000"
    api_key: str | None = None

    # API keys (piano-ai keys create): "required" answers 401 to a request without a valid
    # ``Authorization: Bearer <key>``; "off" serves everyone as one admin (a single-user machine only).
    auth: Literal["required", "off"] = "required"
    # Seconds an API process remembers a key it checked (no database round trip per request); a revoked
    # key keeps working that long at most. 0: look the key up on every request.
    api_key_cache_s: float = Field(default=10.0, ge=0)
    # Who may read /metrics and /docs (/redoc, /openapi.json): "public", or "key" (any valid key; /metrics
    # needs an admin key).
    metrics_access: Literal["public", "key"] = "public"
    docs_access: Literal["public", "key"] = "public"
    # `make run` keeps the dashboard's and curl's keys here (files of mode 0600), made on its first start.
    local_keys_dir: Path = Path("var/keys")
    # Limits per API key (429 + Retry-After beyond them); 0 turns one off. Counted in Redis when REDIS_URL
    # is set (shared by every API replica), else in this process.
    submissions_per_minute: int = Field(default=30, ge=0)
    max_active_jobs: int = Field(default=20, ge=0)  # queued + running jobs of one key at a time
    upload_mb_per_day: float = Field(default=4096, ge=0)  # bytes accepted per UTC day, MiB
    # Web pages on these origins may call the API from a browser (CORS), e.g.
    # "https://app.example.com,https://admin.example.com"; empty: none may. Never "*".
    cors_origins: Annotated[list[str], NoDecode] = []

    # Queue and worker.
    queue: str = "transcribe"
    worker_concurrency: int = Field(default=1, ge=1)
    task_time_limit_s: int = Field(default=1800, ge=1)  # hard limit per job run, seconds
    # How long an unacknowledged job waits before the broker hands it to another worker, seconds.
    # None: task_time_limit_s + 60, so a long job is never handed out twice while it is still running.
    visibility_timeout_s: int | None = None
    # Seconds between a worker's "I am alive" rows (GET /v1/queue lists workers seen recently).
    worker_heartbeat_s: float = 10.0
    # Live workers hand a running job to another worker once its lease lapses (sooner than the broker would).
    requeue_orphans: bool = True
    # A running job's lease, seconds (the database's clock): the process running it renews it with every
    # progress write and heartbeat. None: 3 heartbeats + 5 s.
    job_lease_s: float | None = Field(default=None, gt=0)
    # Live workers send again a job queued this long since its last send whose message the broker no longer
    # holds (Redis restarted without persistence, FLUSHDB, a failover), seconds; 0 turns it off.
    resend_lost_after_s: float = Field(default=120.0, ge=0)
    # Live workers send the queued jobs with no send recorded after this many seconds (a retry while the
    # broker was down); 0 turns it off.
    resend_unsent_after_s: float = 60.0

    # Uploads.
    max_upload_mb: float = Field(default=200, gt=0)
    # Longest recording converted, seconds: refused from its header at upload, and by the worker before
    # decoding (or as soon as decoding passes it). Worker memory grows with it: 10 h took one to 6.4 GB.
    max_audio_s: float = Field(default=4 * 3600, gt=0)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        if "*" in value:
            raise ValueError("PIANO_AI_CORS_ORIGINS lists origins; a wildcard would let any web page call us")
        return value

    @property
    def upload_bytes_per_day(self) -> int:
        """The daily upload quota per key in bytes (0: none)."""
        return int(self.upload_mb_per_day * 1024 * 1024)

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def broker_url(self) -> str:
        """The Celery broker URL: Redis when REDIS_URL is set, else the filesystem transport."""
        return self.redis_url or "filesystem://"

    @property
    def broker_transport(self) -> str | None:
        """Celery's broker_transport: for ``redis://`` piano_ai.redis_broker's (kombu's, one Redis client per
        channel), for other Redis URLs (``rediss://``) kombu's own, else piano_ai.broker's filesystem
        transport (a worker takes its next message as soon as it settles the last)."""
        if self.redis_url:
            return "piano_ai.redis_broker:Transport" if self.redis_url.startswith("redis://") else None
        return "piano_ai.broker:Transport"

    @property
    def effective_job_lease_s(self) -> float:
        """Seconds a running job's lease lasts after each renewal."""
        return self.job_lease_s or 3 * self.worker_heartbeat_s + 5

    @property
    def worker_live_s(self) -> float:
        """A worker whose last heartbeat is older than this (3 missed, plus 5 s) is not counted as live."""
        return 3 * self.worker_heartbeat_s + 5

    @property
    def effective_visibility_timeout_s(self) -> int:
        """Seconds before an unacknowledged job is redelivered (Redis broker)."""
        return self.visibility_timeout_s or self.task_time_limit_s + 60

    def broker_transport_options(self) -> dict[str, Any]:
        """Kombu transport options matching broker_url (folders are created on demand)."""
        if self.redis_url:
            return {
                "visibility_timeout": self.effective_visibility_timeout_s,
                # Check for jobs of dead workers every few seconds, not once a minute.
                "unacked_restore_interval": 2,
                "unacked_restore_throttle": 1,
            }
        queue_dir = self.broker_dir / "queue"
        processed = self.broker_dir / "processed"
        control = self.broker_dir / "control"  # exchange tables; kombu's default is ./control in the cwd
        for folder in (queue_dir, processed, control):
            folder.mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(queue_dir),
            "data_folder_out": str(queue_dir),
            "processed_folder": str(processed),
            "control_folder": str(control),
            "store_processed": False,
            "polling_interval": 0.02,  # seconds between looks at the queue folder
        }


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
