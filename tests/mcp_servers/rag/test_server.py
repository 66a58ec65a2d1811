"""The RAG server as deployed: `agentmesh serve rag` over HTTP, called with mesh tokens.

One server process per embedded engine (Qdrant local mode, Qdrant Edge) serves the whole module,
and every test runs against both. acme and globex
are the demo tenants with their own seeded policies; every cross-tenant test asks with the other
tenant's real ids and expects to learn nothing.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import MCPError
from mcp_types import TextContent, TextResourceContents

from agentmesh.errors import ErrorCode
from agentmesh.settings import Settings, load_settings
from mcp_servers.common.errors import error_code
from tests.mcp_servers.rag.documents import scanned_pdf, text_pdf
from tests.support.mcp import http_client, mesh_token
from tests.support.processes import running_server

TOOLS = [
    "ingest_text",
    "ingest_document",
    "ingest_status",
    "search",
    "list_documents",
    "get_document",
    "delete_document",
]
JOB_THRESHOLD = 6 * 1024


@pytest.fixture(scope="module", params=["local", "edge"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Path:
    return tmp_path_factory.mktemp(f"rag-server-{engine}")


@pytest.fixture(scope="module")
def server_settings(data_dir: Path) -> Settings:
    return load_settings(AGENTMESH_DATA_DIR=data_dir)


@pytest.fixture(scope="module")
def server_url(data_dir: Path, engine: str) -> Iterator[str]:
    with running_server(
        "rag", data_dir, AGENTMESH_RAG_JOB_THRESHOLD_BYTES=str(JOB_THRESHOLD), AGENTMESH_RAG_ENGINE=engine
    ) as url:
        yield url


async def call(settings: Settings, url: str, tenant: str, tool: str, arguments: dict[str, Any]) -> Any:
    async with http_client(url, mesh_token(settings, "rag", tenant=tenant, tools=TOOLS)) as client:
        return await client.call_tool(tool, arguments)


async def ok(
    settings: Settings, url: str, tenant: str, tool: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    result = await call(settings, url, tenant, tool, arguments)
    assert not result.is_error, result.content[0].text
    return dict(result.structured_content)


async def refused(
    settings: Settings,
    url: str,
    tenant: str,
    tool: str,
    arguments: dict[str, Any],
    *,
    code: ErrorCode | None = None,
) -> str:
    """The text of a refusal; every refusal carries its code in `_meta` (`code`, when given)."""
    result = await call(settings, url, tenant, tool, arguments)
    assert result.is_error
    text = str(result.content[0].text)
    assert "Traceback" not in text
    assert error_code(result) is not None and error_code(result) == (code or error_code(result)), result
    return text


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_tools_declare_schemas_and_hints(server_settings: Settings, server_url: str) -> None:
    async with http_client(server_url, mesh_token(server_settings, "rag", tools=TOOLS)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        templates = (await client.list_resource_templates()).resource_templates
    assert set(tools) == set(TOOLS)
    search_hints, delete_hints = tools["search"].annotations, tools["delete_document"].annotations
    assert search_hints is not None and search_hints.read_only_hint is True
    assert delete_hints is not None and delete_hints.destructive_hint is True
    output_schema = tools["search"].output_schema
    assert output_schema is not None and output_schema["properties"]["results"]["type"] == "array"
    assert {"query", "top_k", "filters"} <= set(tools["search"].input_schema["properties"])
    assert [template.uri_template for template in templates] == ["kb://documents/{document_id}"]


async def test_each_demo_tenant_has_its_own_policies(server_settings: Settings, server_url: str) -> None:
    acme = await ok(server_settings, server_url, "acme", "list_documents", {})
    globex = await ok(server_settings, server_url, "globex", "list_documents", {})
    assert {d["document_id"] for d in acme["documents"]} >= {
        "return-policy",
        "payment-terms",
        "shipping-policy",
    }
    assert {d["document_id"] for d in globex["documents"]} >= {
        "return-policy",
        "payment-terms",
        "shipping-policy",
    }

    question = {"query": "How many days after delivery can I return an item?", "top_k": 3}
    acme_hits = (await ok(server_settings, server_url, "acme", "search", question))["results"]
    globex_hits = (await ok(server_settings, server_url, "globex", "search", question))["results"]
    assert any("within 30 days of delivery" in hit["text"] for hit in acme_hits)
    assert any("within 14 days of delivery" in hit["text"] for hit in globex_hits)
    assert all(hit["title"] == "ACME Return Policy" for hit in acme_hits[:2])
    assert all(hit["title"].startswith("Globex") for hit in globex_hits)


async def test_vietnamese_question_finds_the_vietnamese_passage(
    server_settings: Settings, server_url: str
) -> None:
    found = await ok(
        server_settings, server_url, "acme", "search", {"query": "Chính sách đổi trả là gì?", "top_k": 3}
    )
    best = found["results"][0]
    assert best["document_id"] == "return-policy"
    assert "đổi trả" in best["text"]


async def test_ingested_text_is_found_with_a_full_citation(
    server_settings: Settings, server_url: str
) -> None:
    text = (
        "# Warranty\n\n## Coverage\n\nEvery ACME power drill carries a 24-month warranty against defects in "
        "materials and workmanship.\n\n## Claims\n\n"
        "Send the serial number and proof of purchase to the service desk."
    )
    created = await ok(
        server_settings,
        server_url,
        "acme",
        "ingest_text",
        {"title": "Warranty terms", "text": text, "metadata": {"team": "support"}, "document_id": "warranty"},
    )
    assert created["status"] == "created"
    assert created["report"]["document"]["chunk_count"] == 2

    result = await call(
        server_settings, server_url, "acme", "search", {"query": "how long is the drill warranty", "top_k": 2}
    )
    hit = result.structured_content["results"][0]
    assert hit["document_id"] == "warranty"
    assert hit["title"] == "Warranty terms"
    assert hit["heading"] == "Coverage"
    assert (hit["chunk_index"], hit["chunk_count"]) == (0, 2)
    assert hit["uri"] == "kb://documents/warranty"
    assert "24-month warranty" in hit["snippet"]
    assert hit["score"] > 0
    assert "[1] Warranty terms > Coverage (warranty, chunk 1/2" in result.content[0].text


async def test_metadata_filters_narrow_the_search(server_settings: Settings, server_url: str) -> None:
    for team in ("sales", "legal"):
        await ok(
            server_settings,
            server_url,
            "acme",
            "ingest_text",
            {
                "title": f"{team} handbook",
                "text": f"The {team} team meets every Monday at nine.",
                "metadata": {"team": team},
            },
        )
    found = await ok(
        server_settings,
        server_url,
        "acme",
        "search",
        {"query": "team meeting Monday", "filters": {"team": "legal"}},
    )
    assert [hit["title"] for hit in found["results"]] == ["legal handbook"]
    either = await ok(
        server_settings,
        server_url,
        "acme",
        "search",
        {"query": "team meeting Monday", "filters": {"team": ["legal", "sales"]}},
    )
    assert {hit["title"] for hit in either["results"]} == {"legal handbook", "sales handbook"}
    message = await refused(
        server_settings,
        server_url,
        "acme",
        "search",
        {"query": "x", "filters": {"team": 1.5}},
        code="invalid_filter",
    )
    assert "'team' is a float" in message


async def test_markdown_html_and_pdf_files_are_ingested(server_settings: Settings, server_url: str) -> None:
    html = (
        b"<html><head><title>Holiday schedule</title><script>var x = 'ignored';</script></head><body>"
        b"<h1>Holidays</h1><p>The office closes for <b>Tet</b> from 8 to 14 February.</p>"
        b"<h2>Support</h2><ul><li>Email support stays open during Tet.</li></ul></body></html>"
    )
    from_html = await ok(
        server_settings,
        server_url,
        "acme",
        "ingest_document",
        {"filename": "holidays.html", "content_base64": b64(html)},
    )
    assert from_html["report"]["document"]["title"] == "Holiday schedule"
    assert from_html["report"]["document"]["source_type"] == "html"

    pdf = text_pdf(
        [["Fleet maintenance", "Trucks are serviced every 15000 km."], ["Tyres are rotated every 5000 km."]]
    )
    from_pdf = await ok(
        server_settings,
        server_url,
        "acme",
        "ingest_document",
        {"filename": "fleet.pdf", "content_base64": b64(pdf), "title": "Fleet maintenance"},
    )
    assert from_pdf["report"]["document"]["source_type"] == "pdf"

    markdown = b"# Parking\n\nVisitors park on level B2; staff use level B3.\n"
    await ok(
        server_settings,
        server_url,
        "acme",
        "ingest_document",
        {"filename": "parking.md", "content_base64": b64(markdown)},
    )

    tyres = (
        await ok(server_settings, server_url, "acme", "search", {"query": "how often are tyres rotated"})
    )["results"][0]
    assert (tyres["title"], tyres["page"]) == ("Fleet maintenance", 2)
    tet = (await ok(server_settings, server_url, "acme", "search", {"query": "is support open during Tet?"}))[
        "results"
    ][0]
    assert tet["title"] == "Holiday schedule" and tet["heading"] == "Holidays > Support"
    assert "ignored" not in tet["text"]
    parking = (await ok(server_settings, server_url, "acme", "search", {"query": "where do visitors park"}))[
        "results"
    ][0]
    assert parking["title"] == "Parking"


async def test_unreadable_uploads_get_precise_errors(server_settings: Settings, server_url: str) -> None:
    scan = await refused(
        server_settings,
        server_url,
        "acme",
        "ingest_document",
        {"filename": "scan.pdf", "content_base64": b64(scanned_pdf())},
    )
    assert "no text layer" in scan and "ocr_document" in scan
    bad_base64 = await refused(
        server_settings,
        server_url,
        "acme",
        "ingest_document",
        {"filename": "a.txt", "content_base64": "not base64!"},
    )
    assert "not valid base64" in bad_base64
    unsupported = await refused(
        server_settings,
        server_url,
        "acme",
        "ingest_document",
        {"filename": "a.docx", "content_base64": b64(b"PK..")},
    )
    assert "unsupported document type '.docx'" in unsupported
    corrupt = await refused(
        server_settings,
        server_url,
        "acme",
        "ingest_document",
        {"filename": "a.pdf", "content_base64": b64(b"%PDF-1.4 junk")},
        code="invalid_document",
    )
    assert "the PDF could not be read" in corrupt
    bad_id = await refused(
        server_settings,
        server_url,
        "acme",
        "ingest_text",
        {"title": "t", "text": "words", "document_id": "../etc"},
    )
    assert "document_id must start with a letter or digit" in bad_id
    empty_query = await refused(server_settings, server_url, "acme", "search", {"query": "   "})
    assert "the query is empty" in empty_query


async def test_duplicate_chunks_are_skipped_and_unchanged_content_is_not_rewritten(
    server_settings: Settings, server_url: str
) -> None:
    repeated = "Always wear safety glasses in the workshop."
    text = (
        f"# Safety\n\n## Workshop\n\n{repeated}\n\n## Warehouse\n\n{repeated}\n\n"
        "## Office\n\nKeep exits clear."
    )
    first = await ok(server_settings, server_url, "acme", "ingest_text", {"title": "Safety", "text": text})
    assert first["report"]["duplicates_skipped"] == 1
    assert first["report"]["document"]["chunk_count"] == 2

    again = await ok(server_settings, server_url, "acme", "ingest_text", {"title": "Safety", "text": text})
    assert again["status"] == "unchanged"
    assert again["document_id"] == first["document_id"]
    assert again["report"]["chunks_embedded"] == 0


async def test_reingesting_a_document_id_replaces_its_chunks(
    server_settings: Settings, server_url: str
) -> None:
    lunch = "# Lunch\n\n## Canteen\n\nLunch is served from {}.\n\n## Menu\n\nThe menu changes on Mondays."
    old, new = lunch.format("11:30"), lunch.format("12:15")
    await ok(
        server_settings,
        server_url,
        "acme",
        "ingest_text",
        {"title": "Lunch", "text": old, "document_id": "lunch"},
    )
    updated = await ok(
        server_settings,
        server_url,
        "acme",
        "ingest_text",
        {"title": "Lunch", "text": new, "document_id": "lunch"},
    )
    assert updated["status"] == "updated"
    assert (updated["report"]["chunks_embedded"], updated["report"]["chunks_reused"]) == (1, 1)

    found = await ok(
        server_settings,
        server_url,
        "acme",
        "search",
        {"query": "when is lunch served", "filters": {"document_id": "lunch"}},
    )
    texts = [hit["text"] for hit in found["results"]]
    assert len(texts) == 2
    assert any("12:15" in text for text in texts) and not any("11:30" in text for text in texts)


async def test_deleted_documents_are_gone_from_search_listing_and_resources(
    server_settings: Settings, server_url: str
) -> None:
    await ok(
        server_settings,
        server_url,
        "acme",
        "ingest_text",
        {
            "title": "Bike storage",
            "text": "Bicycles are stored in the basement cage.",
            "document_id": "bikes",
        },
    )
    deleted = await ok(server_settings, server_url, "acme", "delete_document", {"document_id": "bikes"})
    assert deleted["deleted"]["document_id"] == "bikes"

    found = await ok(server_settings, server_url, "acme", "search", {"query": "where are bicycles stored"})
    assert all(hit["document_id"] != "bikes" for hit in found["results"])
    listed = await ok(server_settings, server_url, "acme", "list_documents", {})
    assert "bikes" not in {doc["document_id"] for doc in listed["documents"]}
    again = await refused(server_settings, server_url, "acme", "delete_document", {"document_id": "bikes"})
    assert "no document 'bikes'" in again


async def test_documents_are_readable_as_resources(server_settings: Settings, server_url: str) -> None:
    async with http_client(
        server_url, mesh_token(server_settings, "rag", tenant="globex", tools=TOOLS)
    ) as client:
        resource = await client.read_resource("kb://documents/return-policy")
        with pytest.raises(MCPError, match="no document 'nope'"):
            await client.read_resource("kb://documents/nope")
    content = resource.contents[0]
    assert isinstance(content, TextResourceContents)
    text = content.text
    assert text.startswith("# Globex Return Policy")
    assert "14 days" in text and "30 days" not in text


async def test_a_document_is_read_whole_by_its_own_tenant_only(
    server_settings: Settings, server_url: str
) -> None:
    acme = await ok(server_settings, server_url, "acme", "get_document", {"document_id": "return-policy"})
    globex = await ok(server_settings, server_url, "globex", "get_document", {"document_id": "return-policy"})
    assert acme["title"].startswith("ACME") and globex["title"].startswith("Globex")
    assert "30 days" in acme["text"] and "30 days" not in globex["text"]
    assert acme["uri"] == "kb://documents/return-policy" and acme["chunk_count"] >= 1
    note = {"title": "Globex note", "text": "Only for Globex.", "document_id": "globex-note"}
    await ok(server_settings, server_url, "globex", "ingest_text", note)
    assert (await ok(server_settings, server_url, "globex", "get_document", {"document_id": "globex-note"}))[
        "text"
    ]
    missing = await refused(
        server_settings,
        server_url,
        "acme",
        "get_document",
        {"document_id": "globex-note"},
        code="document_not_found",
    )
    assert "no document 'globex-note'" in missing and "Only for Globex" not in missing


async def test_large_uploads_run_as_a_job_with_progress(server_settings: Settings, server_url: str) -> None:
    sections = [
        f"## Procedure {n}\n\nStep {n}: check valve {n} for leaks, record pressure reading {n} in the log, "
        f"and sign the inspection sheet for unit {n}."
        for n in range(120)
    ]
    manual = ("# Maintenance manual\n\n" + "\n\n".join(sections)).encode()
    assert len(manual) > JOB_THRESHOLD
    queued = await ok(
        server_settings,
        server_url,
        "acme",
        "ingest_document",
        {"filename": "manual.md", "content_base64": b64(manual), "document_id": "manual"},
    )
    assert queued["status"] == "queued"
    job_id = queued["job"]["job_id"]

    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = await ok(server_settings, server_url, "acme", "ingest_status", {"job_id": job_id})
        seen.append(job)
        if job["state"] in ("succeeded", "failed"):
            break
        await anyio.sleep(0.2)
    final = seen[-1]
    assert final["state"] == "succeeded", final
    assert final["progress"] == 1.0
    assert final["result"]["document"]["chunk_count"] == 120
    progress = [job["progress"] for job in seen]
    assert progress == sorted(progress)

    # globex cannot see acme's job, even with its real id.
    other = await refused(server_settings, server_url, "globex", "ingest_status", {"job_id": job_id})
    assert f"no ingestion job '{job_id}'" in other
    found = await ok(
        server_settings, server_url, "acme", "search", {"query": "pressure reading 77", "top_k": 3}
    )
    assert found["results"][0]["document_id"] == "manual"


async def test_a_tenant_never_reaches_another_tenants_documents(
    server_settings: Settings, server_url: str
) -> None:
    secret = "The Initech merger closes on 3 March; codename BLUEFISH."
    await ok(
        server_settings,
        server_url,
        "globex",
        "ingest_text",
        {"title": "Merger plan", "text": secret, "document_id": "merger-plan", "metadata": {"team": "legal"}},
    )
    # acme searches for globex's exact words, and with globex's document id as a filter.
    found = await ok(
        server_settings, server_url, "acme", "search", {"query": "Initech merger BLUEFISH", "top_k": 50}
    )
    assert all(
        hit["document_id"] != "merger-plan" and "BLUEFISH" not in hit["text"] for hit in found["results"]
    )
    by_id = await ok(
        server_settings,
        server_url,
        "acme",
        "search",
        {"query": "merger", "filters": {"document_id": "merger-plan"}},
    )
    assert by_id["results"] == []
    # acme's own return-policy is not globex's: a shared id names two separate documents.
    acme_policy = await ok(
        server_settings,
        server_url,
        "acme",
        "search",
        {"query": "return", "filters": {"document_id": "return-policy"}},
    )
    assert all("ACME" in hit["title"] for hit in acme_policy["results"])

    delete = await refused(
        server_settings, server_url, "acme", "delete_document", {"document_id": "merger-plan"}
    )
    assert "no document 'merger-plan'" in delete
    async with http_client(
        server_url, mesh_token(server_settings, "rag", tenant="acme", tools=TOOLS)
    ) as client:
        with pytest.raises(MCPError, match="no document 'merger-plan'"):
            await client.read_resource("kb://documents/merger-plan")
    listed = await ok(server_settings, server_url, "acme", "list_documents", {})
    assert "merger-plan" not in {doc["document_id"] for doc in listed["documents"]}

    # And globex still has it, untouched.
    still = await ok(server_settings, server_url, "globex", "search", {"query": "Initech merger codename"})
    assert still["results"][0]["document_id"] == "merger-plan"


async def test_a_tool_outside_the_token_scope_is_refused(server_settings: Settings, server_url: str) -> None:
    token = mesh_token(server_settings, "rag", tenant="globex", tools=["search", "list_documents"])
    async with http_client(server_url, token) as client:
        result = await client.call_tool("delete_document", {"document_id": "return-policy"})
    message = result.content[0]
    assert result.is_error and isinstance(message, TextContent) and "not granted" in message.text
    listed = await ok(server_settings, server_url, "globex", "list_documents", {})
    assert "return-policy" in {doc["document_id"] for doc in listed["documents"]}
