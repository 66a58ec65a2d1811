"""The deploy files as the tests read them: the rendered Kubernetes overlays and the compose file."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import require_backend

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
# Every kustomization a user applies or builds on; the base renders alone too.
KUSTOMIZATIONS = ["base", "overlays/in-cluster"]
WORKLOAD_KINDS = {"Deployment", "StatefulSet"}

Manifest = dict[str, Any]


def render(kustomization: str) -> list[Manifest]:
    """The manifests `kubectl apply -k deploy/k8s/<kustomization>` would apply."""
    if shutil.which("kubectl") is None:
        require_backend("kubectl", "renders the kustomize overlays (kubectl kustomize)")
    return _render(kustomization)


@cache
def _render(kustomization: str) -> list[Manifest]:
    completed = subprocess.run(
        ["kubectl", "kustomize", str(K8S / kustomization)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise AssertionError(f"kubectl kustomize {kustomization} failed:\n{completed.stderr}")
    return [document for document in yaml.safe_load_all(completed.stdout) if document]


def compose() -> Manifest:
    loaded: Manifest = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    """The one manifest of that kind and name."""
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} manifests"
    return found[0]


def workloads(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: Manifest) -> Manifest:
    spec: Manifest = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Manifest) -> list[Manifest]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def selects(selector: Manifest, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True
