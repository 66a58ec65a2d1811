"""One mesh as `make run` starts it (`agentmesh up`), shared by the console's browser tests.

The tests of a module run in order on it, as a new user and an admin would use the console one
after the other; a remote LLM is the one boundary they cannot reach, so acme's LLM, when a test
configures one in the console, is a loopback OpenAI-compatible endpoint (`tests.support.fake_openai`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.console.browser import Browser, chromium, require_chromium
from tests.support.fake_openai import Completion, FakeOpenAI, ProposedCall, ReceivedRequest
from tests.support.whole_mesh import WholeMesh, running_whole_mesh

ACME_MST = "3428557611"
ORDER_SKU = "ACM-0001"
ORDER_TOOL = "erp__create_order"


def order_taker(request: ReceivedRequest) -> Completion:
    """A model that places the order it is asked for, then reports what the ERP answered."""
    results = request.tool_results()
    if results:
        return Completion(text=f"Done. {results[-1][:400]}")
    if ORDER_TOOL in request.offered:
        items = [{"sku": ORDER_SKU, "quantity": 2}]
        return Completion(calls=(ProposedCall(ORDER_TOOL, {"mst": ACME_MST, "items": items}),))
    return Completion(text="I only place orders here.")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, llm: FakeOpenAI) -> Iterator[WholeMesh]:
    require_chromium()
    assert llm.base_url is not None
    env = {
        # The admin points acme's agents at the loopback model: the platform allows that origin.
        "AGENTMESH_OUTBOUND_ALLOW": llm.base_url,
        "AGENTMESH_RATE_LIMIT_RPM": "1000",
        "AGENTMESH_USER_RATE_LIMIT_RPM": "1000",
        # Uploads above 128 bytes become ingestion jobs, so the knowledge page shows a job's progress.
        "AGENTMESH_RAG_JOB_THRESHOLD_BYTES": "128",
    }
    with running_whole_mesh(tmp_path_factory.mktemp("console"), **env) as running:
        yield running


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(respond=order_taker)
    with fake.serving():
        yield fake


@pytest.fixture(scope="module")
def user(mesh: WholeMesh) -> Iterator[Browser]:
    """The business user's browser."""
    with chromium(mesh.url) as browser:
        yield browser


@pytest.fixture(scope="module")
def admin(mesh: WholeMesh) -> Iterator[Browser]:
    """The admin's browser (a second window, as on another desk)."""
    with chromium(mesh.url) as browser:
        yield browser
