"""The rendered NetworkPolicies allow exactly the mesh's paths: deny by default, clients reach the
gateway only, the gateway reaches the servers, each server reaches its own datastores."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import Manifest, render, workloads
from tests.deploy.network import Endpoint, allowed

NAMESPACE = "agentmesh"
CLIENT = Endpoint("internet client", "203.0.113.10")
PUBLIC_WEB = Endpoint("public web server", "93.184.216.34")
PRIVATE_HOST = Endpoint("host on a private range", "10.0.0.5")
METADATA = Endpoint("cloud metadata service", "169.254.169.254")
DNS = Endpoint("kube-dns", "10.96.0.10", "kube-system", {"k8s-app": "kube-dns"})
INTRUDER = Endpoint("pod in another namespace", "10.244.9.9", "default", {"app": "intruder"})


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    return render("overlays/in-cluster")


@pytest.fixture(scope="module")
def policies(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == "NetworkPolicy"]


@pytest.fixture(scope="module")
def pods(manifests: list[Manifest]) -> dict[str, Endpoint]:
    found = {}
    for number, workload in enumerate(workloads(manifests)):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        name = workload["metadata"]["name"]
        found[name] = Endpoint(name, f"10.244.0.{number + 10}", NAMESPACE, labels)
    return found


ALLOWED = [
    ("gateway", "erp", 8100),
    ("gateway", "rag", 8100),
    ("gateway", "ocr", 8100),
    ("gateway", "search", 8100),
    ("erp", "gateway", 8000),
    ("rag", "gateway", 8000),
    ("ocr", "gateway", 8000),
    ("search", "gateway", 8000),
    ("gateway", "postgres", 5432),
    ("gateway", "redis", 6379),
    ("gateway", "nats", 4222),
    ("erp", "postgres", 5432),
    ("search", "postgres", 5432),
    ("demo-erp", "postgres", 5432),
    ("erp", "demo-erp", 8090),
    ("rag", "qdrant", 6333),
    ("rag", "qdrant", 6334),
    ("rag", "nats", 4222),
]

DENIED = [
    ("ocr", "postgres", 5432),
    ("rag", "postgres", 5432),
    ("erp", "redis", 6379),
    ("search", "qdrant", 6333),
    ("gateway", "qdrant", 6333),
    ("ocr", "erp", 8100),
    ("rag", "search", 8100),
    ("search", "demo-erp", 8090),
    ("gateway", "demo-erp", 8090),
    ("qdrant", "gateway", 8000),
    ("postgres", "redis", 6379),
    ("gateway", "erp", 9000),
]


@pytest.mark.parametrize(("source", "target", "port"), ALLOWED, ids=[f"{s}->{t}:{p}" for s, t, p in ALLOWED])
def test_mesh_path_is_open(
    policies: list[Manifest], pods: dict[str, Endpoint], source: str, target: str, port: int
) -> None:
    assert allowed(policies, pods[source], pods[target], port)


@pytest.mark.parametrize(("source", "target", "port"), DENIED, ids=[f"{s}->{t}:{p}" for s, t, p in DENIED])
def test_path_outside_the_mesh_is_closed(
    policies: list[Manifest], pods: dict[str, Endpoint], source: str, target: str, port: int
) -> None:
    assert not allowed(policies, pods[source], pods[target], port)


def test_only_the_gateway_takes_connections_from_outside(
    policies: list[Manifest], pods: dict[str, Endpoint], manifests: list[Manifest]
) -> None:
    reachable = {
        (name, port)
        for name, pod in pods.items()
        for port in _container_ports(manifests, name)
        for outsider in (CLIENT, INTRUDER)
        if allowed(policies, outsider, pod, port)
    }
    assert reachable == {("gateway", 8000)}


def test_every_pod_resolves_names(policies: list[Manifest], pods: dict[str, Endpoint]) -> None:
    for pod in pods.values():
        assert allowed(policies, pod, DNS, 53, "UDP"), pod.name


def test_only_the_callers_of_outside_services_leave_the_cluster(
    policies: list[Manifest], pods: dict[str, Endpoint]
) -> None:
    """LLM APIs and identity providers (gateway), tenants' ERPs (erp), the web (search)."""
    leaving = {name for name, pod in pods.items() if allowed(policies, pod, PUBLIC_WEB, 443)}
    assert leaving == {"gateway", "erp", "search"}
    assert not any(allowed(policies, pod, PUBLIC_WEB, 80) for name, pod in pods.items() if name != "search")


def test_private_ranges_and_metadata_stay_closed_to_every_pod(
    policies: list[Manifest], pods: dict[str, Endpoint]
) -> None:
    for pod in pods.values():
        for host in (PRIVATE_HOST, METADATA):
            for port in (80, 443):
                assert not allowed(policies, pod, host, port), (pod.name, host.name, port)


def _container_ports(manifests: list[Manifest], name: str) -> set[int]:
    workload = next(m for m in workloads(manifests) if m["metadata"]["name"] == name)
    return {
        port["containerPort"]
        for container in workload["spec"]["template"]["spec"]["containers"]
        for port in container.get("ports", [])
    }
