"""docker-compose*.yml: the Compose spec schema (offline), the scalable worker, secrets that fail loudly.

No Docker engine runs here, so `docker compose config` is replaced by the schema check plus a small
interpolation of ${VAR...} as Compose does it; where a `docker compose` CLI exists, it is run too.
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BASE = ROOT / "docker-compose.yml"
OVERRIDES = {"gpu": ROOT / "docker-compose.gpu.yml", "gcs": ROOT / "docker-compose.gcs.yml"}
SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "REDIS_PASSWORD": "redis-secret"}
TASK_TIME_LIMIT_DEFAULT_S = 1800  # PIANO_AI_TASK_TIME_LIMIT_S's default in the env contract
HARD_LIMIT_MARGIN_S = (
    30  # Celery's task_time_limit = PIANO_AI_TASK_TIME_LIMIT_S + 30 (piano_worker.celery_app)
)
VAR = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)")


class InterpolationError(Exception):
    """A required variable (${VAR:?message}) is unset, as `docker compose` reports it."""


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?msg}, ${VAR?msg}."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-"):
            return arg if unset else value
        if op in (":?", "?"):
            if unset:
                raise InterpolationError(f"required variable {name} is missing a value: {arg}")
            return value
        return value or ""

    return VAR.sub(substitute, text)


def load(path: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose file, interpolated with ``env`` (raw when None)."""
    text = path.read_text()
    return yaml.safe_load(text if env is None else interpolate(text, env))


def merge(base: Any, override: Any) -> Any:
    """Compose's file merge for the keys these files use: mappings merge, everything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = copy.deepcopy(base)
        for key, value in override.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def env_example() -> dict[str, str]:
    env = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def seconds(duration: str) -> float:
    """A Compose duration ('1900s', '31m40s', '1h') in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration, f"not a duration: {duration}"
    return sum(float(n) * units[u] for n, u in parts)


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    # Every proxy points at a closed port: if the check tried to download anything, it would fail.
    dead = "http://127.0.0.1:9"
    env = dict(os.environ, HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead, NO_PROXY="")
    cli = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(cli), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return load(BASE, env_example() | SECRETS)


def test_builtin_compose_schema_ships_with_check_jsonschema() -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    external = [v for v in re.findall(r'"\$ref":\s*"([^"]+)"', json.dumps(schema)) if not v.startswith("#")]
    assert external == [], "the vendored compose schema refers to remote schemas"


def test_compose_file_matches_the_compose_spec() -> None:
    result = check_jsonschema(BASE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_merged_override_matches_the_compose_spec(name: str, tmp_path: Path) -> None:
    merged = merge(load(BASE), load(OVERRIDES[name]))
    path = tmp_path / f"merged-{name}.yml"
    path.write_text(yaml.safe_dump(merged, sort_keys=False))
    result = check_jsonschema(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_catches_a_misspelt_key(tmp_path: Path) -> None:
    broken = load(BASE)
    broken["services"]["worker"]["stop_grace_periode"] = "10s"
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))
    assert check_jsonschema(path).returncode != 0


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_required_secrets_fail_loudly(missing: str) -> None:
    env = env_example() | SECRETS
    env.pop(missing)
    with pytest.raises(InterpolationError, match=missing):
        load(BASE, env)
    env[missing] = ""  # an empty value counts as unset with :?
    with pytest.raises(InterpolationError, match=missing):
        load(BASE, env)


def test_secrets_have_no_defaults_anywhere() -> None:
    for path in [BASE, *OVERRIDES.values()]:
        for name in SECRETS:
            for use in re.findall(r"\$\{" + name + r"([^}]*)\}", path.read_text()):
                assert use.startswith(":?"), f"{path.name}: ${{{name}{use}}} must fail when unset"
    example = env_example()
    assert all(example[name] == "" for name in SECRETS), ".env.example must not ship secret values"


def test_every_variable_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*(\w+)=", (ROOT / ".env.example").read_text(), re.M))
    for path in [BASE, *OVERRIDES.values()]:
        used = {m.group("name") or m.group("bare") for m in VAR.finditer(path.read_text())} - {None}
        missing = {v for v in used if v not in documented}
        assert not missing, f"{path.name} uses {sorted(missing)}, not in .env.example"


def test_worker_is_scalable(stack: dict[str, Any]) -> None:
    worker = stack["services"]["worker"]
    assert "container_name" not in worker, "`--scale worker=N` needs compose to name the containers"
    assert "ports" not in worker, "host ports collide when scaled"
    assert "deploy" not in worker or "replicas" not in worker["deploy"]
    assert worker["build"]["dockerfile"] == "docker/Dockerfile.worker"


def test_worker_stop_grace_period_outlasts_a_job(stack: dict[str, Any]) -> None:
    worker = stack["services"]["worker"]
    limit = int(worker["environment"]["PIANO_AI_TASK_TIME_LIMIT_S"])
    assert limit == int(env_example()["PIANO_AI_TASK_TIME_LIMIT_S"]) == TASK_TIME_LIMIT_DEFAULT_S
    assert seconds(worker["stop_grace_period"]) > limit + HARD_LIMIT_MARGIN_S
    raw = load(BASE)["services"]["worker"]["environment"]["PIANO_AI_TASK_TIME_LIMIT_S"]
    assert raw == f"${{PIANO_AI_TASK_TIME_LIMIT_S:-{TASK_TIME_LIMIT_DEFAULT_S}}}"
    assert "--include" in worker["command"] and "piano_worker.heartbeat" in worker["command"]


def test_stateful_services(stack: dict[str, Any]) -> None:
    services = stack["services"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    redis = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis and "--maxmemory-policy noeviction" in redis
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    assert "healthcheck" in services["redis"]
    assert services["gcs"]["build"]["dockerfile"] == "docker/Dockerfile.gcs-emulator"
    assert set(stack["volumes"]) >= {"postgres-data", "redis-data"}


def test_api_migrates_then_serves_after_healthy_dependencies(stack: dict[str, Any]) -> None:
    api = stack["services"]["api"]
    script = api["command"][-1]
    serve = script.index("exec python -m piano_api.serve piano_api.main:app")
    assert script.index("python -m piano_ai.db upgrade &&") < serve
    for dependency in ("postgres", "redis", "gcs"):
        assert api["depends_on"][dependency]["condition"] == "service_healthy"
    assert "@postgres:5432/" in api["environment"]["DATABASE_URL"]
    assert api["environment"]["REDIS_URL"].startswith("redis://:redis-secret@redis:6379/")


def test_service_healthy_dependencies_have_healthchecks(stack: dict[str, Any]) -> None:
    """Compose waits on a healthcheck from the file or from the image's Dockerfile HEALTHCHECK."""
    services = stack["services"]
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            if spec.get("condition") != "service_healthy":
                continue
            target = services[dependency]
            dockerfile = target.get("build", {}).get("dockerfile")
            in_image = dockerfile is not None and "\nHEALTHCHECK " in (ROOT / dockerfile).read_text()
            assert "healthcheck" in target or in_image, (
                f"{name} waits on {dependency}, which has no healthcheck"
            )


def test_images_are_built_from_existing_dockerfiles_or_pinned(stack: dict[str, Any]) -> None:
    for name, service in stack["services"].items():
        if "build" in service:
            assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name
        else:
            image = service["image"]
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image} by tag"


def test_flower_is_optional_and_local(stack: dict[str, Any]) -> None:
    flower = stack["services"]["flower"]
    assert flower["profiles"] == ["monitoring"]
    assert all(p.startswith("127.0.0.1:") for p in flower["ports"])
    profiled = {n for n, s in stack["services"].items() if s.get("profiles")}
    assert profiled == {"flower"}


def test_gpu_override_reserves_nvidia_devices_for_workers() -> None:
    env = env_example() | SECRETS
    base, merged = load(BASE, env), merge(load(BASE, env), load(OVERRIDES["gpu"], env))
    worker = merged["services"]["worker"]
    assert worker["build"] == base["services"]["worker"]["build"] | {
        "dockerfile": "docker/Dockerfile.worker-gpu"
    }
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert worker["environment"]["PIANO_AI_RUNTIME"] == "keras"
    assert worker["stop_grace_period"] == base["services"]["worker"]["stop_grace_period"]
    assert "container_name" not in worker and "ports" not in worker
    assert {n: s for n, s in merged["services"].items() if n != "worker"} == {
        n: s for n, s in base["services"].items() if n != "worker"
    }


def test_gcs_override_switches_off_the_emulator() -> None:
    env = env_example() | SECRETS | {"GOOGLE_APPLICATION_CREDENTIALS_FILE": "/keys/sa.json"}
    merged = merge(load(BASE, env), load(OVERRIDES["gcs"], env))
    for name in ("api", "worker"):
        service = merged["services"][name]
        assert service["environment"]["STORAGE_EMULATOR_HOST"] == ""
        assert service["environment"]["GOOGLE_APPLICATION_CREDENTIALS"] == "/run/secrets/gcp-credentials"
        assert service["secrets"] == ["gcp-credentials"]
        assert service["environment"]["DATABASE_URL"].startswith("postgresql")  # base settings kept
    assert merged["secrets"]["gcp-credentials"]["file"] == "/keys/sa.json"
    env.pop("GOOGLE_APPLICATION_CREDENTIALS_FILE")
    with pytest.raises(InterpolationError, match="GOOGLE_APPLICATION_CREDENTIALS_FILE"):
        load(OVERRIDES["gcs"], env)


def test_docker_compose_config_when_available(tmp_path: Path) -> None:
    """On a machine with the Compose CLI, `docker compose config` must accept the stack (no daemon needed)."""
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no `docker compose` CLI here: covered by the schema and interpolation tests")
    env = dict(os.environ, **SECRETS)
    env_file = tmp_path / "empty.env"  # not the developer's own .env
    env_file.write_text("")
    cmd = [
        docker,
        "compose",
        "--env-file",
        str(env_file),
        "-f",
        str(BASE),
        "-f",
        str(OVERRIDES["gpu"]),
        "config",
        "-q",
    ]
    ok = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True)
    assert ok.returncode == 0, ok.stderr
    env.pop("POSTGRES_PASSWORD")
    bad = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True)
    assert bad.returncode != 0 and b"POSTGRES_PASSWORD" in bad.stderr


def test_the_dashboard_sends_the_key_from_env() -> None:
    env = env_example() | SECRETS | {"PIANO_AI_DASHBOARD_KEY": "pai_dashboard"}
    dashboard = load(BASE, env)["services"]["dashboard"]
    assert dashboard["environment"]["PIANO_AI_API_KEY"] == "pai_dashboard"
    assert "PIANO_AI_API_KEY" not in load(BASE, env)["services"]["api"]["environment"]
