"""One real mesh for the isolation suite, with acme's data in every store.

`agentmesh up` runs the demo ERP API, the four MCP servers and the gateway; acme's data is written
through the public APIs (see `acme_data`). Acme's LLM configuration points at a loopback
OpenAI-compatible endpoint that records every request, so a test can tell whose turns reached it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.isolation.acme_data import AcmeData, seed_acme_data
from tests.support.fake_openai import Completion, FakeOpenAI
from tests.support.whole_mesh import WholeMesh, running_whole_mesh

LLM_ANSWER = "Noted."


@pytest.fixture(scope="package")
def llm() -> Iterator[FakeOpenAI]:
    """Acme's remote LLM: it answers every step with a short text and keeps the requests."""
    fake = FakeOpenAI(respond=lambda request: Completion(text=LLM_ANSWER))
    with fake.serving():
        yield fake


@pytest.fixture(scope="package")
def mesh(tmp_path_factory: pytest.TempPathFactory, llm: FakeOpenAI) -> Iterator[WholeMesh]:
    # Every upload above 64 bytes becomes an ingestion job, so acme has a job id to go after.
    # The platform allows the loopback LLM and the loopback "elsewhere" (port 9) the attempts
    # name, so what stops a cross-tenant write is tenant scoping, not the outbound guard.
    env = {
        "AGENTMESH_RAG_JOB_THRESHOLD_BYTES": "64",
        "AGENTMESH_USER_RATE_LIMIT_RPM": "1000",
        "AGENTMESH_OUTBOUND_ALLOW": f"127.0.0.1:9,{llm.base_url}",
    }
    with running_whole_mesh(tmp_path_factory.mktemp("isolation"), **env) as running:
        yield running


@pytest.fixture(scope="package")
def acme(mesh: WholeMesh, llm: FakeOpenAI) -> AcmeData:
    assert llm.base_url is not None
    return seed_acme_data(mesh, llm.base_url)
