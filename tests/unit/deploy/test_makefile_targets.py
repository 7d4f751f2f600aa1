"""The Makefile's container targets expand to the compose commands docs/deploy.md promises (dry run only)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(*args: str) -> str:
    result = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())


def test_scale_runs_n_workers() -> None:
    assert "docker compose -f docker-compose.yml up -d --no-recreate --scale worker=4 worker" in dry_run(
        "scale", "N=4"
    )


def test_gpu_adds_the_override() -> None:
    assert "-f docker-compose.yml -f docker-compose.gpu.yml up -d --build" in dry_run("up", "GPU=1")


@pytest.mark.parametrize(("target", "expected"), [("down", "down"), ("logs", "logs -f")])
def test_stack_targets(target: str, expected: str) -> None:
    assert f"docker compose -f docker-compose.yml {expected}" in dry_run(target)


def test_validate_deploy_runs_these_tests() -> None:
    assert "pytest -q tests/unit/deploy" in dry_run("validate-deploy")
