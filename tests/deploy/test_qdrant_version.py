"""The Qdrant server the deploy files run speaks to the pinned qdrant-client: within one minor
version (the client's own rule) and the version the wire recordings were made for."""

from __future__ import annotations

import importlib.metadata
import re

from qdrant_client.common.version_check import is_compatible

from tests.deploy.manifests import compose, named, pod_spec, render
from tests.mcp_servers.rag.qdrant_wire.cassette import Cassette

RECORDED = Cassette.load("index_scenario.json").server["version"]


def _version(image: str) -> str:
    match = re.fullmatch(r"qdrant/qdrant:v(\d+\.\d+\.\d+)(-unprivileged)?", image)
    assert match, f"{image} is not a pinned qdrant/qdrant release"
    return match[1]


def _check(image: str) -> None:
    version = _version(image)
    assert is_compatible(importlib.metadata.version("qdrant-client"), version)
    assert version == RECORDED


def test_compose_runs_a_compatible_qdrant() -> None:
    _check(compose()["services"]["qdrant"]["image"])


def test_kubernetes_runs_a_compatible_qdrant() -> None:
    _check(pod_spec(named(render("overlays/in-cluster"), "StatefulSet", "qdrant"))["containers"][0]["image"])
