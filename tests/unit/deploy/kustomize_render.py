"""A small kustomize renderer for the tests: enough of `kustomize build` for k8s/ to be checked offline.

No kustomize binary installs from PyPI or Debian, so the tests render the overlays with this module and,
where a real kustomize is on the machine (`kustomize` or `kubectl kustomize`), check that both agree.
Supported, as k8s/ uses them: `resources` (files and directories), `namespace`, `labels` (pairs,
includeSelectors: false, includeTemplates), `images` (newName, newTag, digest) and `patches` holding JSON 6902
operations (add, replace, remove) with a `target`. Anything else, `commonLabels` included (deprecated in
kustomize 5, and it rewrites selectors), raises UnsupportedKustomization, so the renderer never silently
differs from kustomize.
"""

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}
# Kinds that live outside namespaces (the ones a kustomization here could plausibly contain).
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
    "ClusterIssuer",
}
# Where pod templates (and so containers) sit in each workload kind, as key paths from the resource root.
POD_TEMPLATES: dict[str, list[tuple[str, ...]]] = {
    "Deployment": [("spec", "template")],
    "StatefulSet": [("spec", "template")],
    "DaemonSet": [("spec", "template")],
    "ReplicaSet": [("spec", "template")],
    "ReplicationController": [("spec", "template")],
    "Job": [("spec", "template")],
    "CronJob": [("spec", "jobTemplate"), ("spec", "jobTemplate", "spec", "template")],
}


class UnsupportedKustomization(Exception):
    """The kustomization uses a feature this renderer does not implement."""


def render(directory: Path) -> list[Resource]:
    """Build the kustomization in ``directory`` (base or overlay) into a list of resources."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED_KEYS
    if unknown:
        raise UnsupportedKustomization(f"{directory}: unsupported keys {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            resources.extend(render(path))
        else:
            resources.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    _check_unique(resources)
    for patch in kustomization.get("patches", []):
        _apply_patch(resources, patch, directory)
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    for spec in kustomization.get("labels", []):
        if spec.get("includeSelectors"):
            raise UnsupportedKustomization("labels with includeSelectors: true")
        _add_labels(resources, spec["pairs"], templates=bool(spec.get("includeTemplates")))
    for image in kustomization.get("images", []):
        _set_image(resources, image)
    return resources


def resource_id(resource: Resource) -> tuple[str, str, str, str]:
    """(apiVersion, kind, namespace, name): what kustomize considers one resource."""
    meta = resource.get("metadata", {})
    return (resource["apiVersion"], resource["kind"], meta.get("namespace", ""), meta["name"])


def _check_unique(resources: list[Resource]) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    for resource in resources:
        rid = resource_id(resource)
        if rid in seen:
            raise ValueError(f"duplicate resource {rid}")
        seen.add(rid)


def _matches(resource: Resource, target: dict[str, str]) -> bool:
    group, _, version = resource["apiVersion"].rpartition("/")
    actual = {
        "group": group,
        "version": version,
        "kind": resource["kind"],
        "name": resource["metadata"]["name"],
        "namespace": resource["metadata"].get("namespace", ""),
    }
    for key, wanted in target.items():
        if key not in actual:
            raise UnsupportedKustomization(f"patch target key {key!r}")
        if actual[key] != wanted:
            return False
    return True


def _apply_patch(resources: list[Resource], patch: dict[str, Any], directory: Path) -> None:
    text = (directory / patch["path"]).read_text() if "path" in patch else patch["patch"]
    operations = yaml.safe_load(text)
    if not isinstance(operations, list) or "target" not in patch:
        raise UnsupportedKustomization("only JSON 6902 patches with a target are supported")
    targets = [r for r in resources if _matches(r, patch["target"])]
    if not targets:
        raise ValueError(f"patch {patch} matches no resource")
    for resource in targets:
        for operation in operations:
            apply_json6902(resource, operation)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise ValueError(f"JSON pointer must start with '/': {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def apply_json6902(document: Resource, operation: dict[str, Any]) -> None:
    """Apply one RFC 6902 operation (add, replace or remove) to ``document`` in place."""
    op = operation["op"]
    *parents, last = _pointer(operation["path"])
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    value = copy.deepcopy(operation.get("value"))
    if op == "add":
        if isinstance(node, list):
            node.insert(len(node) if last == "-" else int(last), value)
        else:
            node[last] = value
    elif op == "replace":
        if isinstance(node, list):
            node[int(last)] = value
        elif last not in node:
            raise KeyError(f"replace of missing {operation['path']}")
        else:
            node[last] = value
    elif op == "remove":
        del node[int(last) if isinstance(node, list) else last]
    else:
        raise UnsupportedKustomization(f"JSON 6902 op {op!r}")


def _dig(resource: Resource, keys: tuple[str, ...]) -> dict[str, Any] | None:
    node: Any = resource
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _add_labels(resources: list[Resource], pairs: dict[str, str], templates: bool) -> None:
    for resource in resources:
        resource.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        if not templates:
            continue
        for keys in POD_TEMPLATES.get(resource["kind"], []):
            template = _dig(resource, keys)
            if template is not None:
                template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


def _containers(resource: Resource) -> list[dict[str, Any]]:
    specs = [_dig(resource, (*keys, "spec")) for keys in POD_TEMPLATES.get(resource["kind"], [])]
    if resource["kind"] == "Pod":
        specs.append(resource.get("spec"))
    found: list[dict[str, Any]] = []
    for spec in specs:
        if spec:
            found.extend(spec.get("initContainers", []) + spec.get("containers", []))
    return found


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """'registry/name:tag@sha256:...' -> (name with registry, tag or None, digest or None)."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest or None
    return name, None, digest or None


def _set_image(resources: list[Resource], spec: dict[str, str]) -> None:
    for resource in resources:
        for container in _containers(resource):
            name, tag, digest = split_image(container["image"])
            if name != spec["name"]:
                continue
            new = spec.get("newName", name)
            if "digest" in spec:
                container["image"] = f"{new}@{spec['digest']}"
            elif "newTag" in spec:
                container["image"] = f"{new}:{spec['newTag']}"
            else:
                container["image"] = new + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def real_kustomize_command() -> list[str] | None:
    """The command of a kustomize on this machine (standalone or kubectl's), or None."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        probe = subprocess.run(["kubectl", "kustomize", "--help"], capture_output=True, timeout=60)
        if probe.returncode == 0:
            return ["kubectl", "kustomize"]
    return None
