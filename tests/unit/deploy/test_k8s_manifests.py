"""k8s/: every manifest against the Kubernetes schemas, both overlays rendered and cross-checked.

Kubernetes version: 1.31 (a schema set bundled with kubernetes-validate; `--strict` rejects unknown keys).
KEDA's resources have no bundled schema: tests/unit/deploy/schemas/keda-v1alpha1.json checks them.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kustomize_render import render, resource_id

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "k8s"
K8S_VERSION = "1.31.0"
KEDA_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "keda-v1alpha1.json").read_text())
OVERLAYS = ["cpu", "gpu"]
KUSTOMIZE_FILES = {"kustomization.yaml"}
HARD_LIMIT_MARGIN_S = (
    30  # Celery's task_time_limit = PIANO_AI_TASK_TIME_LIMIT_S + 30 (piano_worker.celery_app)
)


def manifest_files() -> list[Path]:
    """Every Kubernetes manifest under k8s/ (not kustomizations, not JSON 6902 patch lists)."""
    files = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name in KUSTOMIZE_FILES or path.name.endswith(".patch.yaml"):
            continue
        files.append(path)
    return files


def validate(resource: dict[str, Any]) -> None:
    """Strict schema validation of one resource: Kubernetes' own, or ours for KEDA."""
    if resource["apiVersion"].startswith("keda.sh/"):
        jsonschema.validate(resource, KEDA_SCHEMA)
    else:
        kubernetes_validate.validate(resource, K8S_VERSION, strict=True)


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(K8S / "overlays" / request.param)


def by_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def containers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    spec = resource["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def test_manifests_exist() -> None:
    names = {p.name for p in manifest_files()}
    for expected in [
        "namespace.yaml",
        "configmap.yaml",
        "secret.example.yaml",
        "api.yaml",
        "ingress.yaml",
        "worker.yaml",
        "keda.yaml",
        "dashboard.yaml",
        "migrate-job.yaml",
        "pdb.yaml",
    ]:
        assert expected in names


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_kubernetes_validate_strict_cli(path: Path) -> None:
    """The command a person runs: kubernetes-validate --strict -k 1.31.0 <file> (KEDA kinds only warn)."""
    cli = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run(
        [str(cli), "--strict", "-k", K8S_VERSION, "--quiet", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_document_validates_including_keda(path: Path) -> None:
    for resource in yaml.safe_load_all(path.read_text()):
        validate(resource)


def test_strict_validation_catches_a_misspelt_key() -> None:
    deployment = yaml.safe_load((K8S / "base" / "api.yaml").read_text().split("---")[0])
    deployment["spec"]["revisionHistoryLimt"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    scaled = next(yaml.safe_load_all((K8S / "base" / "keda.yaml").read_text()))
    scaled["spec"]["maxReplicas"] = 3
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)


def test_rendered_overlay_validates(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, resources = overlay
    assert len({resource_id(r) for r in resources}) == len(resources)
    for resource in resources:
        validate(resource)


def test_everything_lives_in_the_namespace(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, resources = overlay
    namespaces = by_kind(resources, "Namespace")
    assert list(namespaces) == ["piano-ai"]
    for resource in resources:
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == "piano-ai", resource_id(resource)
        assert resource["metadata"]["labels"]["app.kubernetes.io/part-of"] == "piano-ai"


def test_requests_and_limits_everywhere(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, resources = overlay
    workloads = [r for r in resources if r["kind"] in {"Deployment", "Job"}]
    assert {r["metadata"]["name"] for r in workloads} == {
        "piano-ai-api",
        "piano-ai-worker",
        "piano-ai-dashboard",
        "piano-ai-migrate",
    }
    for workload in workloads:
        for container in containers(workload):
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), (
                    workload["metadata"]["name"],
                    kind,
                )


def test_pods_run_as_non_root(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, resources = overlay
    for workload in (r for r in resources if r["kind"] in {"Deployment", "Job"}):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001  # the images' user
        for container in containers(workload):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_images_are_set_by_the_overlay(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    name, resources = overlay
    images = {
        c["name"]: c["image"] for r in resources if r["kind"] in {"Deployment", "Job"} for c in containers(r)
    }
    for image in images.values():
        assert ":" in image.rsplit("/", 1)[-1], f"untagged image {image}"
    assert images["worker"].split(":")[0].endswith("/worker-gpu" if name == "gpu" else "/worker")
    assert images["migrate"] == images["api"]  # migrations ship with the API image


def test_worker_outlives_its_longest_job(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, resources = overlay
    config = by_kind(resources, "ConfigMap")["piano-ai-config"]["data"]
    worker = by_kind(resources, "Deployment")["piano-ai-worker"]
    pod = worker["spec"]["template"]["spec"]
    # The hard kill comes HARD_LIMIT_MARGIN_S after the soft limit (piano_worker.celery_app).
    assert (
        pod["terminationGracePeriodSeconds"] > int(config["PIANO_AI_TASK_TIME_LIMIT_S"]) + HARD_LIMIT_MARGIN_S
    )
    assert "replicas" not in worker["spec"], "KEDA owns the worker replica count"


def test_worker_liveness_reads_the_heartbeat_file_not_the_broker(overlay: tuple[str, Any]) -> None:
    _, resources = overlay
    (worker,) = containers(by_kind(resources, "Deployment")["piano-ai-worker"])
    for probe in ("livenessProbe", "startupProbe"):
        command = worker[probe]["exec"]["command"]
        assert command[:3] == ["python", "-m", "piano_worker.heartbeat"]
        assert "inspect" not in command and "ping" not in command
    assert worker["livenessProbe"]["periodSeconds"] >= 30
    # The heartbeat module must be loaded by the worker for the file to exist.
    assert "piano_worker.heartbeat" in worker["command"][worker["command"].index("--include") + 1]
    assert {"mountPath": "/tmp", "name": "tmp"} in worker["volumeMounts"]


def test_keda_scales_the_worker_on_the_transcribe_queue(overlay: tuple[str, Any]) -> None:
    _, resources = overlay
    (scaled,) = by_kind(resources, "ScaledObject").values()
    target = scaled["spec"]["scaleTargetRef"]
    deployments = by_kind(resources, "Deployment")
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    assert target["name"] == "piano-ai-worker" and target["name"] in deployments
    (trigger,) = scaled["spec"]["triggers"]
    config = by_kind(resources, "ConfigMap")["piano-ai-config"]["data"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == config["PIANO_AI_QUEUE"] == "transcribe"
    assert trigger["metadata"]["addressFromEnv"] in config  # resolved from the worker's envFrom
    auth = by_kind(resources, "TriggerAuthentication")[trigger["authenticationRef"]["name"]]
    secret = yaml.safe_load((K8S / "base" / "secret.example.yaml").read_text())
    for ref in auth["spec"]["secretTargetRef"]:
        assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
    assert 1 <= scaled["spec"]["minReplicaCount"] < scaled["spec"]["maxReplicaCount"]


def test_references_resolve(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    """Selectors, config/secret refs, service accounts and ingress backends all point at something."""
    _, resources = overlay
    deployments = by_kind(resources, "Deployment")
    services = by_kind(resources, "Service")
    secret_name = yaml.safe_load((K8S / "base" / "secret.example.yaml").read_text())["metadata"]["name"]
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments.values()]

    def selects_something(selector: dict[str, str]) -> bool:
        return any(selector.items() <= labels.items() for labels in pod_labels)

    for deployment in deployments.values():
        assert (
            deployment["spec"]["selector"]["matchLabels"].items()
            <= deployment["spec"]["template"]["metadata"]["labels"].items()
        )
    for service in services.values():
        assert selects_something(service["spec"]["selector"])
    pdbs = by_kind(resources, "PodDisruptionBudget")
    assert {p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for p in pdbs.values()} == {
        "piano-ai-api",
        "piano-ai-worker",
        "piano-ai-dashboard",
    }
    for pdb in pdbs.values():
        assert selects_something(pdb["spec"]["selector"]["matchLabels"])
    for workload in (r for r in resources if r["kind"] in {"Deployment", "Job"}):
        pod = workload["spec"]["template"]["spec"]
        if "serviceAccountName" in pod:
            assert pod["serviceAccountName"] in by_kind(resources, "ServiceAccount")
        for container in containers(workload):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in by_kind(resources, "ConfigMap")
                if "secretRef" in source:
                    assert source["secretRef"]["name"] == secret_name
    ingress = by_kind(resources, "Ingress")["piano-ai"]
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            ports = [p["name"] for p in services[backend["name"]]["spec"]["ports"]]
            assert backend["port"]["name"] in ports


def test_only_the_gpu_overlay_asks_for_gpus() -> None:
    base = render(K8S / "base")
    cpu = render(K8S / "overlays" / "cpu")
    gpu = render(K8S / "overlays" / "gpu")
    assert "nvidia.com/gpu" not in json.dumps(base) + json.dumps(cpu)
    pod = by_kind(gpu, "Deployment")["piano-ai-worker"]["spec"]["template"]["spec"]
    (worker,) = pod["containers"]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert {"name": "PIANO_AI_RUNTIME", "value": "keras"} in worker["env"]
    strategy = by_kind(gpu, "Deployment")["piano-ai-worker"]["spec"]["strategy"]["rollingUpdate"]
    assert strategy == {"maxSurge": 0, "maxUnavailable": 1}
    # Nothing but the worker and its scaling differs between the overlays.
    changed = {resource_id(a) for a, b in zip(cpu, gpu, strict=True) if a != b}
    assert {rid[3] for rid in changed} == {"piano-ai-worker"}
    assert {rid[1] for rid in changed} == {"Deployment", "ScaledObject"}
    for name, resources in [("cpu", cpu), ("gpu", gpu)]:
        assert by_kind(resources, "ScaledObject")["piano-ai-worker"]["spec"]["maxReplicaCount"] == (
            12 if name == "cpu" else 4
        )


def test_the_dashboard_gets_its_api_key_from_the_secret() -> None:
    resources = render(K8S / "base")
    (dashboard,) = containers(by_kind(resources, "Deployment")["piano-ai-dashboard"])
    env = {item["name"]: item for item in dashboard["env"]}
    ref = env["PIANO_AI_API_KEY"]["valueFrom"]["secretKeyRef"]
    secret = yaml.safe_load((K8S / "base" / "secret.example.yaml").read_text())
    assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
