"""The test-side kustomize renderer: its operations, and agreement with a real kustomize where one exists."""

import subprocess
from pathlib import Path

import pytest
import yaml
from kustomize_render import (
    UnsupportedKustomization,
    apply_json6902,
    real_kustomize_command,
    render,
    resource_id,
    split_image,
)

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "k8s"


def test_json6902_add_replace_remove() -> None:
    doc = {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1"}}}]}}
    apply_json6902(doc, {"op": "add", "path": "/spec/nodeSelector", "value": {"gpu": "true"}})
    apply_json6902(doc, {"op": "add", "path": "/spec/containers/-", "value": {"name": "b"}})
    apply_json6902(doc, {"op": "add", "path": "/spec/containers/0/env", "value": []})
    apply_json6902(doc, {"op": "replace", "path": "/spec/containers/0/resources/limits/cpu", "value": "2"})
    apply_json6902(doc, {"op": "add", "path": "/spec/a~1b", "value": 1})
    apply_json6902(doc, {"op": "remove", "path": "/spec/containers/1"})
    assert doc == {
        "spec": {
            "containers": [{"name": "a", "resources": {"limits": {"cpu": "2"}}, "env": []}],
            "nodeSelector": {"gpu": "true"},
            "a/b": 1,
        }
    }
    with pytest.raises(KeyError):
        apply_json6902(doc, {"op": "replace", "path": "/spec/missing", "value": 1})
    with pytest.raises(UnsupportedKustomization):
        apply_json6902(doc, {"op": "move", "from": "/spec/a~1b", "path": "/spec/c"})


@pytest.mark.parametrize(
    ("image", "parts"),
    [
        ("piano-ai-api", ("piano-ai-api", None, None)),
        ("piano-ai-api:1.2", ("piano-ai-api", "1.2", None)),
        ("localhost:5000/piano/api", ("localhost:5000/piano/api", None, None)),
        ("localhost:5000/piano/api:1.2@sha256:ab", ("localhost:5000/piano/api", "1.2", "sha256:ab")),
    ],
)
def test_split_image(image: str, parts: tuple[str, str | None, str | None]) -> None:
    assert split_image(image) == parts


def test_unsupported_features_fail_loudly(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(UnsupportedKustomization):
        render(tmp_path)
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(UnsupportedKustomization):
        render(tmp_path)


def test_a_patch_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {}\n")
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": ["cm.yaml"],
                "patches": [
                    {
                        "target": {"kind": "ConfigMap", "name": "other"},
                        "patch": "- {op: add, path: /data/x, value: y}",
                    }
                ],
            }
        )
    )
    with pytest.raises(ValueError, match="matches no resource"):
        render(tmp_path)


def _real_build(directory: Path, command: list[str]) -> list[dict]:
    out = subprocess.run([*command, str(directory)], capture_output=True, text=True, timeout=300, check=True)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.mark.parametrize("directory", ["base", "overlays/cpu", "overlays/gpu"])
def test_renderer_agrees_with_real_kustomize(directory: str) -> None:
    """Where kustomize (or kubectl's built-in one) is installed, both renderings must be identical."""
    command = real_kustomize_command()
    if command is None:
        pytest.skip("no kustomize or kubectl on this machine: the renderer alone is used")
    ours = {resource_id(r): r for r in render(K8S / directory)}
    theirs = {resource_id(r): r for r in _real_build(K8S / directory, command)}
    assert ours.keys() == theirs.keys()
    for rid, resource in ours.items():
        assert resource == theirs[rid], rid
