"""The Kubernetes overlays render, pass the Kubernetes schemas strictly, and run the mesh the way
deploy/README.md says: non-root and read-only, probed, autoscaled, budgeted and wired to its
datastores."""

from __future__ import annotations

import copy
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
from kubernetes_validate.utils import ValidationError

from agentmesh.settings import Settings
from tests.deploy.manifests import (
    KUSTOMIZATIONS,
    Manifest,
    containers,
    named,
    pod_spec,
    render,
    selects,
    workloads,
)

# The oldest Kubernetes release still in common support, and the newest the schemas cover.
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]
APPLICATION = ["gateway", "erp", "rag", "ocr", "search", "demo-erp"]
MCP_SERVERS = ["erp", "rag", "ocr", "search"]
DATASTORE_MOUNTS = {
    "postgres": "/var/lib/postgresql/data",
    "redis": "/data",
    "qdrant": "/qdrant/storage",
    "nats": "/data",
}


@pytest.fixture(scope="module")
def cluster() -> list[Manifest]:
    return render("overlays/in-cluster")


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_rendered_manifests_pass_the_kubernetes_schemas_strictly(kustomization: str, version: str) -> None:
    manifests = render(kustomization)
    assert manifests
    errors = []
    for manifest in manifests:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except ValidationError as error:
            errors.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {error.message}")
    assert not errors, "\n".join(errors)


def test_an_unknown_field_fails_the_schema_check(cluster: list[Manifest]) -> None:
    """The check above is strict: a misspelt field deep in a pod spec is an error, not ignored."""
    gateway = copy.deepcopy(named(cluster, "Deployment", "gateway"))
    pod_spec(gateway)["containers"][0]["readinessprobe"] = {"httpGet": {"path": "/readyz", "port": 8000}}
    with pytest.raises(ValidationError, match="readinessprobe"):
        kubernetes_validate.validate(gateway, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_in_cluster_overlay_runs_the_application_and_its_datastores(cluster: list[Manifest]) -> None:
    names = {m["metadata"]["name"]: m["kind"] for m in workloads(cluster)}
    assert names == {
        **dict.fromkeys(APPLICATION, "Deployment"),
        **dict.fromkeys(DATASTORE_MOUNTS, "StatefulSet"),
    }
    namespaced = [m for m in cluster if m["kind"] != "Namespace"]
    assert {m["metadata"].get("namespace") for m in namespaced} == {"agentmesh"}


def test_every_container_runs_non_root_read_only_without_capabilities(cluster: list[Manifest]) -> None:
    for workload in workloads(cluster):
        pod = pod_spec(workload)
        name = workload["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in containers(workload):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
            assert container["resources"]["requests"]["cpu"], name
            assert container["resources"]["limits"]["memory"], name


def test_application_pods_write_only_to_their_volumes(cluster: list[Manifest]) -> None:
    """With a read-only root, the data directory and /tmp are volumes."""
    for name in APPLICATION:
        workload = named(cluster, "Deployment", name)
        for container in containers(workload):
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert {"/data", "/tmp"} <= mounts, (name, container["name"])


def test_gateway_probes_readiness_on_readyz_and_liveness_on_healthz(cluster: list[Manifest]) -> None:
    gateway = pod_spec(named(cluster, "Deployment", "gateway"))["containers"][0]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["startupProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("server", [*MCP_SERVERS, "demo-erp"])
def test_servers_are_probed_on_healthz(cluster: list[Manifest], server: str) -> None:
    container = pod_spec(named(cluster, "Deployment", server))["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz", probe


def test_datastores_are_probed(cluster: list[Manifest]) -> None:
    for name in DATASTORE_MOUNTS:
        container = pod_spec(named(cluster, "StatefulSet", name))["containers"][0]
        assert container["readinessProbe"] and container["livenessProbe"], name


def test_the_gateway_autoscales_on_cpu_from_two_replicas(cluster: list[Manifest]) -> None:
    autoscaler = named(cluster, "HorizontalPodAutoscaler", "gateway")["spec"]
    assert autoscaler["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    assert autoscaler["minReplicas"] >= 2
    assert autoscaler["maxReplicas"] > autoscaler["minReplicas"]
    assert [metric["resource"]["name"] for metric in autoscaler["metrics"]] == ["cpu"]


def test_every_autoscaler_targets_a_rendered_deployment(cluster: list[Manifest]) -> None:
    deployments = {m["metadata"]["name"] for m in cluster if m["kind"] == "Deployment"}
    for autoscaler in (m for m in cluster if m["kind"] == "HorizontalPodAutoscaler"):
        assert autoscaler["spec"]["scaleTargetRef"]["name"] in deployments


def test_every_replicated_workload_has_a_disruption_budget(cluster: list[Manifest]) -> None:
    autoscaled = {
        m["spec"]["scaleTargetRef"]["name"] for m in cluster if m["kind"] == "HorizontalPodAutoscaler"
    }
    budgets = [m for m in cluster if m["kind"] == "PodDisruptionBudget"]
    replicated = [
        w for w in workloads(cluster) if w["spec"]["replicas"] > 1 or w["metadata"]["name"] in autoscaled
    ]
    assert {"gateway", "erp", "ocr", "search"} <= {w["metadata"]["name"] for w in replicated}
    for workload in replicated:
        labels = workload["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        assert len(covering) == 1, workload["metadata"]["name"]
        assert covering[0]["spec"]["minAvailable"] < workload["spec"]["replicas"]


def test_every_disruption_budget_selects_a_workload(cluster: list[Manifest]) -> None:
    for budget in (m for m in cluster if m["kind"] == "PodDisruptionBudget"):
        matched = [
            w
            for w in workloads(cluster)
            if selects(budget["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(matched) == 1, budget["metadata"]["name"]


def test_every_service_routes_to_one_workload_and_a_named_port(cluster: list[Manifest]) -> None:
    for service in (m for m in cluster if m["kind"] == "Service"):
        matched = [
            w
            for w in workloads(cluster)
            if selects(
                {"matchLabels": service["spec"]["selector"]}, w["spec"]["template"]["metadata"]["labels"]
            )
        ]
        assert len(matched) == 1, service["metadata"]["name"]
        port_names = {p.get("name") for c in pod_spec(matched[0])["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, (service["metadata"]["name"], port)


def test_datastores_keep_their_data_on_persistent_volume_claims(cluster: list[Manifest]) -> None:
    for name, data_path in DATASTORE_MOUNTS.items():
        statefulset = named(cluster, "StatefulSet", name)
        claims = {claim["metadata"]["name"] for claim in statefulset["spec"]["volumeClaimTemplates"]}
        mounts = {m["mountPath"]: m["name"] for m in pod_spec(statefulset)["containers"][0]["volumeMounts"]}
        assert mounts.get(data_path) in claims, name
        assert statefulset["spec"]["serviceName"] == named(cluster, "Service", name)["metadata"]["name"]


def test_nats_runs_with_jetstream_on_its_volume(cluster: list[Manifest]) -> None:
    args = pod_spec(named(cluster, "StatefulSet", "nats"))["containers"][0]["args"]
    assert "-js" in args
    assert args[args.index("-sd") + 1].startswith(DATASTORE_MOUNTS["nats"] + "/")


def test_backend_urls_name_rendered_services_and_ports(cluster: list[Manifest]) -> None:
    config = named(cluster, "ConfigMap", "agentmesh-config")["data"]
    services = {
        m["metadata"]["name"]: {p["port"] for p in m["spec"]["ports"]}
        for m in cluster
        if m["kind"] == "Service"
    }
    for key in (
        "REDIS_URL",
        "QDRANT_URL",
        "AGENTMESH_NATS_URL",
        "AGENTMESH_MESH_JWKS_URL",
        "AGENTMESH_ERP_API_URL",
    ):
        url = urlsplit(config[key])
        assert url.hostname in services, key
        assert url.port in services[url.hostname], key
    for server in MCP_SERVERS:
        url = urlsplit(config[f"AGENTMESH_{server.upper()}_URL"])
        assert (url.hostname, url.path) == (server, "/mcp")
        assert url.port in services[server]


def test_the_config_holds_only_known_settings_and_no_credentials(cluster: list[Manifest]) -> None:
    config = named(cluster, "ConfigMap", "agentmesh-config")["data"]
    known = {field.alias for field in Settings.model_fields.values()}
    assert set(config) <= known, set(config) - known
    assert "DATABASE_URL" not in config
    assert "AGENTMESH_SECRET_KEY" not in config


def test_application_containers_read_the_config_and_the_secrets(cluster: list[Manifest]) -> None:
    for name in APPLICATION:
        for container in containers(named(cluster, "Deployment", name)):
            sources = container["envFrom"]
            assert {"configMapRef": {"name": "agentmesh-config"}} in sources, name
            assert {"secretRef": {"name": "agentmesh-secrets"}} in sources, name


def test_every_gateway_replica_signs_with_the_mounted_mesh_key(cluster: list[Manifest]) -> None:
    gateway = named(cluster, "Deployment", "gateway")
    mounts = {m["mountPath"]: m for m in pod_spec(gateway)["containers"][0]["volumeMounts"]}
    key_mount = mounts["/data/keys/mesh_private.pem"]
    volume = next(v for v in pod_spec(gateway)["volumes"] if v["name"] == key_mount["name"])
    assert volume["secret"]["secretName"] == "agentmesh-mesh-key"
    assert key_mount["readOnly"] is True


def test_mcp_services_keep_a_gateway_on_the_replica_holding_its_sessions(cluster: list[Manifest]) -> None:
    for server in MCP_SERVERS:
        assert named(cluster, "Service", server)["spec"]["sessionAffinity"] == "ClientIP", server
