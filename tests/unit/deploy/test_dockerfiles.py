"""docker/: Dockerfiles linted by hadolint and checked for what the deployment relies on; .dockerignore.

Nothing is built here (no Docker engine): these tests pin down the parts a build would otherwise reveal.
"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / "docker"
SERVICE_IMAGES = {"api": "api", "worker": "worker", "worker-gpu": "worker", "dashboard": "dashboard"}
ALL_DOCKERFILES = sorted(DOCKER.glob("Dockerfile.*"))
NON_ROOT_USER = "10001:10001"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        logical.append(pending)
        pending = ""
    return [
        (text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical
    ]


def stages(path: Path) -> list[list[tuple[str, str]]]:
    """The instructions of each build stage (the part before the first FROM is stage -1, dropped)."""
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions(path):
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def base_images(path: Path) -> list[str]:
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", path.read_text(), re.M))
    images = []
    for name, rest in instructions(path):
        if name == "FROM":
            image = rest.split()[0]
            images.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image))
    return images


def final_stage(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, rest in stages(path)[-1]:
        found.setdefault(name, []).append(rest)
    return found


def run_text(path: Path) -> str:
    return " ".join(rest for name, rest in instructions(path) if name == "RUN")


def test_every_image_has_a_dockerfile() -> None:
    names = {p.name for p in ALL_DOCKERFILES}
    for image in [*SERVICE_IMAGES, "gcs-emulator"]:
        assert f"Dockerfile.{image}" in names


@pytest.mark.parametrize("path", ALL_DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_passes(path: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--config", str(DOCKER / "hadolint.yaml"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_hadolint_finds_problems_when_there_are_some(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\n")
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--config", str(DOCKER / "hadolint.yaml"), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "DL3006" in result.stdout  # untagged base image


@pytest.mark.parametrize("path", ALL_DOCKERFILES, ids=lambda p: p.name)
def test_base_images_are_pinned_by_tag(path: Path) -> None:
    for image in base_images(path):
        if image in {name for stage in stages(path) for _, rest in stage[:1] for name in rest.split()[2:]}:
            continue  # FROM <earlier stage>
        assert re.fullmatch(r"[\w./-]+:[\w.-]+(@sha256:[0-9a-f]{64})?", image), image
        assert not image.endswith(":latest")
        assert image.startswith("python:3.11-slim-bookworm"), "one Python 3.11 base for every image"


@pytest.mark.parametrize("image", sorted(SERVICE_IMAGES))
def test_service_images_are_multi_stage_non_root_and_healthchecked(image: str) -> None:
    path = DOCKER / f"Dockerfile.{image}"
    assert len(stages(path)) >= 2, "build tools and caches stay in the build stage"
    final = final_stage(path)
    assert final["USER"] == [NON_ROOT_USER], "the final stage must run as the non-root user"
    assert "useradd --uid 10001" in " ".join(final["RUN"])
    assert len(final["HEALTHCHECK"]) == 1 and "CMD" in final["HEALTHCHECK"][0]
    assert final["CMD"][0].startswith("[")  # exec form: the process is PID 1 and gets SIGTERM
    assert any("/opt/venv" in c for c in final["COPY"])


@pytest.mark.parametrize("image", sorted(SERVICE_IMAGES))
def test_installs_its_extra_with_the_lockfile(image: str) -> None:
    path = DOCKER / f"Dockerfile.{image}"
    installs = [c for c in run_text(path).split("&&") if "pip install" in c]
    extra = SERVICE_IMAGES[image]
    assert any(f'-e ".[{extra}]"' in c for c in installs), installs
    for command in installs:
        assert "-c requirements.lock" in command, f"unpinned install: {command}"
    assert "COPY pyproject.toml requirements.lock ./" in [
        f"COPY {r}" for n, r in instructions(path) if n == "COPY"
    ]


def test_stub_packages_match_the_layout() -> None:
    """The build's stub packages are exactly pyproject's package roots, so the editable install maps them."""
    script = (DOCKER / "stub-packages.sh").read_text()
    stubbed = set(re.search(r"for pkg in ([^;]+);", script).group(1).split())
    where = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"][
        "where"
    ]
    found = {str(p.parent.relative_to(ROOT)) for w in where for p in (ROOT / w).glob("*/__init__.py")}
    assert stubbed == found


def test_api_and_dashboard_images_stay_free_of_tensorflow() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    forbidden = re.compile(r"tensorflow|keras|onnxruntime|piano-ai\[(ml|worker|all)")
    for image in ("api", "dashboard"):
        assert not [d for d in extras[image] if forbidden.search(d)], f"{image} extra pulls in the ML stack"
        text = " ".join(rest for _, rest in instructions(DOCKER / f"Dockerfile.{image}"))
        assert "tensorflow" not in text.lower()
        assert "rm -rf shared/piano_ai/weights" in run_text(DOCKER / f"Dockerfile.{image}")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_direct_dependency_is_pinned_in_the_lockfile() -> None:
    lock = {
        _normalise(line.split("==")[0])
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for requirement in (
        project["dependencies"] + extras["api"] + extras["worker"] + extras["dashboard"] + extras["ml"]
    ):
        name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
        if _normalise(name) == "piano-ai":
            continue
        assert _normalise(name) in lock, f"{name} is not pinned in requirements.lock"


@pytest.mark.parametrize("image", ["worker", "worker-gpu"])
def test_worker_images_carry_the_model_and_probe_the_heartbeat(image: str) -> None:
    path = DOCKER / f"Dockerfile.{image}"
    final = final_stage(path)
    assert "shared ./shared" in final["COPY"]
    assert "test -f shared/piano_ai/weights/default/config.json" in " ".join(final["RUN"])
    assert (ROOT / "shared/piano_ai/weights/default/config.json").is_file()
    assert "piano_worker.heartbeat" in final["HEALTHCHECK"][0]
    assert "ffmpeg" in " ".join(final["RUN"])


def test_worker_command_is_the_same_everywhere() -> None:
    """Dockerfile CMD, compose and Kubernetes start the worker identically (queue, concurrency, heartbeat)."""
    import json

    cmds = [json.loads(final_stage(DOCKER / f"Dockerfile.{i}")["CMD"][0]) for i in ("worker", "worker-gpu")]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["worker"]["command"]
    k8s = yaml.safe_load((ROOT / "k8s/base/worker.yaml").read_text())
    k8s_cmd = k8s["spec"]["template"]["spec"]["containers"][0]["command"]
    assert cmds[0] == cmds[1] == compose == k8s_cmd
    joined = " ".join(compose)
    assert "-Q transcribe --concurrency 1 --prefetch-multiplier 1" in joined
    # no worker-to-worker chatter on the broker: no revokes, elections or Flower here, liveness is the file
    assert "--without-gossip --without-mingle --without-heartbeat --include piano_worker.heartbeat" in joined


def test_gpu_image_swaps_tensorflow_cpu_for_the_cuda_build() -> None:
    path = DOCKER / "Dockerfile.worker-gpu"
    run = run_text(path)
    assert run.index("pip uninstall -y tensorflow-cpu") < run.index('"tensorflow[and-cuda]==${tf_version}"')
    pipeline = re.search(r'tf_version="\$\((.+?)\)"', run).group(1)
    version = subprocess.run(
        ["bash", "-o", "pipefail", "-c", pipeline], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), (
        f"no tensorflow-cpu pin found in requirements.lock: {version!r}"
    )
    env = " ".join(final_stage(path)["ENV"])
    assert "PIANO_AI_RUNTIME=keras" in env and "NVIDIA_VISIBLE_DEVICES=all" in env
    assert '-c requirements-gpu.lock "tensorflow[and-cuda]' in run


def test_gpu_lock_pins_tensorflow_and_every_cuda_wheel_it_asks_for() -> None:
    """docker/requirements-gpu.lock satisfies the and-cuda extra of the locked TensorFlow release."""
    from importlib.metadata import requires, version

    from packaging.requirements import Requirement

    pins = {}
    for line in (DOCKER / "requirements-gpu.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            pins[_normalise(name)] = pinned
    locked_tf = dict(
        line.split("==") for line in (ROOT / "requirements.lock").read_text().splitlines() if "==" in line
    )["tensorflow_cpu"]
    assert pins.pop("tensorflow") == locked_tf == version("tensorflow-cpu")
    # tensorflow-cpu declares the same and-cuda extra as tensorflow: its installed metadata is read here.
    cuda = [Requirement(r) for r in requires("tensorflow-cpu") or [] if 'extra == "and-cuda"' in r]
    assert cuda, "no and-cuda extra in the installed TensorFlow metadata"
    assert set(pins) == {_normalise(r.name) for r in cuda}
    for requirement in cuda:
        assert requirement.specifier.contains(pins[_normalise(requirement.name)]), requirement


def test_gcs_emulator_image_pins_its_version_from_the_lockfile() -> None:
    path = DOCKER / "Dockerfile.gcs-emulator"
    assert "pip install -c /tmp/requirements.lock gcp-storage-emulator" in run_text(path)
    assert "gcp-storage-emulator==" in (ROOT / "requirements.lock").read_text()
    assert final_stage(path)["USER"] == [NON_ROOT_USER]


def _glob_regex(pattern: str) -> str:
    """Docker's .dockerignore glob as a regex: ** spans directories, * and ? stay within one."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out + r"\Z"


def dockerignored(path: str) -> bool:
    """Whether Docker would leave ``path`` out of the build context (patterns, ** and ! exceptions)."""
    excluded = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        regex = _glob_regex(pattern)
        parts = path.split("/")
        # A pattern matching a parent directory excludes everything below it.
        if any(re.match(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


@pytest.mark.parametrize(
    "path",
    [
        "data/maestro/x.wav",
        ".venv/bin/python",
        ".venv-gpu/lib/x",
        "var/piano_ai.db",
        "runs/exp1/log.csv",
        ".env",
        ".git/HEAD",
        "shared/piano_ai/__pycache__/a.pyc",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert dockerignored(path)


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        "requirements.lock",
        "docker/stub-packages.sh",
        "docker/requirements-gpu.lock",
        "shared/piano_ai/weights/default/config.json",
        "shared/piano_ai/data/render.py",
        "services/worker/piano_worker/heartbeat.py",
        ".env.example",
    ],
)
def test_dockerignore_keeps_in(path: str) -> None:
    assert not dockerignored(path)
