"""deploy/compose.yaml is a valid Compose file (the Compose Specification's JSON schema) and runs
the mesh on PostgreSQL, Redis, a Qdrant server and NATS JetStream, each service waiting for the
backends it needs to be healthy."""

from __future__ import annotations

import copy
import importlib.resources
import json
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from tests.deploy.manifests import Manifest, compose

BACKENDS = {"postgres": 5432, "redis": 6379, "qdrant": 6333, "nats": 4222}
APPLICATION = ["gateway", "demo-erp", "erp", "rag", "ocr", "search"]
BACKEND_URLS = {
    "DATABASE_URL": "postgres",
    "REDIS_URL": "redis",
    "QDRANT_URL": "qdrant",
    "AGENTMESH_NATS_URL": "nats",
}


def compose_spec() -> dict[str, Any]:
    """The Compose Specification schema as vendored, with its licence, by check-jsonschema."""
    schema = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    loaded: dict[str, Any] = json.loads(schema.read_text())
    return loaded


def spec_errors(document: Manifest) -> list[str]:
    validator = jsonschema.Draft202012Validator(compose_spec(), format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


@pytest.fixture(scope="module")
def services() -> dict[str, Manifest]:
    found: dict[str, Manifest] = compose()["services"]
    return found


def test_the_compose_file_follows_the_compose_specification() -> None:
    assert spec_errors(compose()) == []


def test_an_unknown_service_key_breaks_the_specification() -> None:
    """The schema check can fail: a misspelt key (`healthchek`) is an error."""
    broken = copy.deepcopy(compose())
    broken["services"]["gateway"]["healthchek"] = {"test": ["CMD", "true"]}
    assert any("healthchek" in error for error in spec_errors(broken))


def test_the_mesh_and_its_backends_are_services(services: dict[str, Manifest]) -> None:
    assert set(services) == {*APPLICATION, *BACKENDS}


def test_nats_runs_jetstream_on_a_volume(services: dict[str, Manifest]) -> None:
    nats = services["nats"]
    command = nats["command"]
    assert "-js" in command
    store = command[command.index("-sd") + 1]
    assert any(store.startswith(volume.split(":")[1]) for volume in nats["volumes"])


@pytest.mark.parametrize("service", APPLICATION)
def test_application_services_reach_every_backend(services: dict[str, Manifest], service: str) -> None:
    environment = services[service]["environment"]
    for variable, backend in BACKEND_URLS.items():
        url = urlsplit(environment[variable])
        assert (url.hostname, url.port) == (backend, BACKENDS[backend]), variable


@pytest.mark.parametrize("service", APPLICATION)
def test_application_services_wait_for_healthy_backends(services: dict[str, Manifest], service: str) -> None:
    depends_on = services[service]["depends_on"]
    assert set(depends_on) == set(BACKENDS)
    for backend, condition in depends_on.items():
        assert condition == {"condition": "service_healthy"}
        assert services[backend]["healthcheck"]["test"], backend


@pytest.mark.parametrize("service", APPLICATION)
def test_application_services_health_check_their_own_port(
    services: dict[str, Manifest], service: str
) -> None:
    """The image's HEALTHCHECK reads AGENTMESH_HEALTHCHECK_URL: it must name the port the role serves."""
    command = services[service]["command"]
    port = int(command[command.index("--port") + 1])
    url = urlsplit(services[service]["environment"]["AGENTMESH_HEALTHCHECK_URL"])
    assert (url.hostname, url.port) == ("127.0.0.1", port)
    assert url.path in {"/healthz", "/readyz"}


@pytest.mark.parametrize("service", APPLICATION)
def test_application_services_run_read_only_without_capabilities(
    services: dict[str, Manifest], service: str
) -> None:
    definition = services[service]
    assert definition["read_only"] is True
    assert definition["cap_drop"] == ["ALL"]
    assert "/tmp" in definition["tmpfs"]
    assert any(volume.endswith(":/data") for volume in definition["volumes"])


def test_backends_keep_their_data_on_named_volumes(services: dict[str, Manifest]) -> None:
    volumes = set(compose()["volumes"])
    for backend in BACKENDS:
        names = {volume.split(":")[0] for volume in services[backend]["volumes"]}
        assert names and names <= volumes, backend
