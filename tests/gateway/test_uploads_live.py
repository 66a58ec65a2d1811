"""Real documents and photos work under the shipped policies: they travel by reference.

A gateway with real RAG and OCR servers behind it, on the shipped policy files (the base policy
caps tool arguments at 64 KiB). Files are uploaded once; the tools receive `upload://<handle>`
and the servers read the bytes back from the gateway with the call's mesh token. So a 10 MB
PDF reaches the knowledge base, a 48 KiB document in a JSON body too, and a SROIE scan or a 5 MB
phone photo attached to a chat question is read by the OCR agent, while a 70 KiB argument sent
inline is still refused by the cap.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from PIL import Image

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from mcp_servers.common.errors import error_code
from tests.mcp_servers.ocr.rendering import phone_photo, text_image
from tests.mcp_servers.rag.documents import illustrated_pdf
from tests.support.gateway import running_gateway
from tests.support.mcp import http_client
from tests.support.processes import free_port, running_server

pytestmark = pytest.mark.slow

SROIE = next(
    (
        folder / "shared/data/sroie"
        for folder in Path(__file__).resolve().parents
        if (folder / "shared/data/sroie").is_dir()
    ),
    Path("shared/data/sroie"),
)
"""The SROIE development set, next to the checkout (which may be a worktree one level deeper)."""
RECEIPT = "007"  # S.H.H. MOTOR (SUNGAI RENGIT) SDN. BHD., 23-01-2019, total 20.00
ARGUMENTS_CAP = 65536


@dataclass
class Mesh:
    url: str
    settings: Settings

    def headers(self, tenant: str = "acme", user: str = "alice", *roles: str) -> dict[str, str]:
        token = issue_dev_token(self.settings, tenant_id=tenant, user=user, roles=list(roles) or None)
        return {"Authorization": f"Bearer {token}"}

    @property
    def acme_admin(self) -> dict[str, str]:
        return self.headers("acme", "ada", "tenant_admin")

    def post(self, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", headers=headers, timeout=300, **kwargs)

    def upload(self, data: bytes, filename: str, media_type: str) -> dict[str, Any]:
        response = self.post(
            f"/api/acme/uploads?filename={filename}",
            {**self.headers(), "Content-Type": media_type},
            content=data,
        )
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def wait_for_job(self, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 240
        while True:
            response = httpx.get(
                f"{self.url}/api/admin/tenants/acme/knowledge/jobs/{job_id}",
                headers=self.acme_admin,
                timeout=30,
            )
            job: dict[str, Any] = response.json()
            if job.get("state") in ("succeeded", "failed"):
                return job
            assert response.status_code == 200 and time.monotonic() < deadline, job
            time.sleep(0.5)

    def search(self, query: str) -> str:
        async def call() -> str:
            async with http_client(f"{self.url}/mcp", self.headers()["Authorization"].split()[1]) as client:
                result = await client.call_tool("rag__search", {"query": query, "top_k": 1})
            assert not result.is_error, result
            return json.dumps(result.structured_content)

        return anyio.run(call)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    data_dir = tmp_path_factory.mktemp("uploads-live")
    port = free_port()
    uploads_url = f"http://127.0.0.1:{port}/internal/uploads"
    # A large photo takes RapidOCR tens of seconds on a busy 2-core machine: more than the
    # default 30 s a tool call may take, which is not what this module is about.
    settings = load_settings(
        AGENTMESH_DATA_DIR=data_dir, AGENTMESH_TOOL_CALL_TIMEOUT=180, AGENTMESH_USER_RATE_LIMIT_RPM=1000
    )
    with (
        running_server(
            "rag", data_dir, AGENTMESH_RAG_DEMO_KB="false", AGENTMESH_UPLOADS_URL=uploads_url
        ) as rag,
        running_server("ocr", data_dir, AGENTMESH_UPLOADS_URL=uploads_url) as ocr,
        running_gateway(settings, {"rag": rag, "ocr": ocr}, port=port) as url,
    ):
        yield Mesh(url, settings)


def test_a_10_mb_pdf_uploaded_to_the_knowledge_base_is_ingested(mesh: Mesh) -> None:
    pdf = illustrated_pdf(
        [
            ["Fleet handbook", "Every truck is inspected by the Borealis crew each Tuesday before dawn."],
            ["Tyres are rotated every 12,000 kilometres."],
        ],
        photo_bytes=10 * 1024 * 1024,
        title="Fleet handbook",
    )
    assert len(pdf) >= 10 * 1024 * 1024

    response = mesh.post(
        "/api/admin/tenants/acme/knowledge?filename=fleet-handbook.pdf&document_id=fleet-handbook",
        {**mesh.acme_admin, "Content-Type": "application/pdf"},
        content=pdf,
    )
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["status"] == "queued", outcome  # large: ingested as a job
    job = mesh.wait_for_job(outcome["job"]["job_id"])
    assert job["state"] == "succeeded", job
    assert job["result"]["document"]["title"] == "Fleet handbook"
    assert "Borealis crew" in mesh.search("Who inspects the trucks?")
    # The transient copy the gateway made for the RAG server is gone once it was read.
    listed = httpx.get(f"{mesh.url}/api/acme/uploads", headers=mesh.acme_admin, timeout=30).json()
    assert listed["items"] == []


def test_a_48_kib_document_in_a_json_body_is_ingested(mesh: Mesh) -> None:
    paragraph = "The Quillon depot closes at noon on the last Friday of every month. "
    document = ("# Depot hours\n\n" + paragraph * (48 * 1024 // len(paragraph) + 1))[: 48 * 1024]
    body = {
        "filename": "depot-hours.md",
        "content_base64": base64.b64encode(document.encode()).decode(),
        "document_id": "depot-hours",
    }
    assert len(json.dumps(body)) > ARGUMENTS_CAP  # inline, the tool call would be over the cap

    response = mesh.post("/api/admin/tenants/acme/knowledge", mesh.acme_admin, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "created", response.text
    assert "Quillon depot" in mesh.search("When does the depot close?")


def _read_by_the_ocr_agent(mesh: Mesh, attachment: dict[str, Any]) -> dict[str, Any]:
    response = mesh.post(
        "/api/acme/chat",
        mesh.headers(),
        json={"message": "What is the total on this receipt?", "attachments": [attachment]},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["agent"] == "ocr" and body["outcome"] == "answered", body
    calls = [step for step in body["steps"] if step["type"] == "tool_call"]
    results = [step for step in body["steps"] if step["type"] == "tool_result"]
    assert calls and not any(result["is_error"] for result in results), body["steps"]
    # The tool got the small reference, never the file.
    assert all(len(json.dumps(call["arguments"])) < 200 for call in calls), calls
    assert any(str(value).startswith("upload://") for call in calls for value in call["arguments"].values())
    return body


@pytest.mark.skipif(not SROIE.is_dir(), reason=f"SROIE development data not found at {SROIE}")
def test_a_sroie_scan_attached_to_a_chat_question_is_read_by_the_ocr_agent(mesh: Mesh) -> None:
    scan = (SROIE / "img" / f"{RECEIPT}.jpg").read_bytes()
    upload = mesh.upload(scan, f"{RECEIPT}.jpg", "image/jpeg")
    body = _read_by_the_ocr_agent(mesh, {"name": "receipt.jpg", "upload": upload["reference"]})
    assert body["data"]["total"]["value"] == 20.0, body
    assert body["data"]["company"]["value"].startswith("S.H.H. MOTOR"), body


@pytest.mark.skipif(not SROIE.is_dir(), reason=f"SROIE development data not found at {SROIE}")
def test_a_5_mb_phone_photo_attached_to_a_chat_question_is_read_by_the_ocr_agent(mesh: Mesh) -> None:
    photo = phone_photo(Image.open(SROIE / "img" / f"{RECEIPT}.jpg"), min_bytes=5_000_000)
    upload = mesh.upload(photo, "IMG_2041.jpg", "image/jpeg")
    assert upload["size_bytes"] >= 5_000_000
    body = _read_by_the_ocr_agent(mesh, {"name": "IMG_2041.jpg", "upload": upload["reference"]})
    assert body["data"]["total"]["value"] == 20.0, body


@pytest.mark.skipif(not SROIE.is_dir(), reason=f"SROIE development data not found at {SROIE}")
def test_a_receipt_attached_inline_travels_by_reference_too(mesh: Mesh) -> None:
    scan = (SROIE / "img" / f"{RECEIPT}.jpg").read_bytes()  # about 100 KB: 130 KB of base64
    inline = {
        "name": "receipt.jpg",
        "media_type": "image/jpeg",
        "content_base64": base64.b64encode(scan).decode(),
    }
    assert len(inline["content_base64"]) > ARGUMENTS_CAP
    body = _read_by_the_ocr_agent(mesh, inline)
    assert body["data"]["total"]["value"] == 20.0, body


@pytest.mark.parametrize(
    "question",
    ["Read the text in this image", "Đọc chữ trong ảnh này", "Doc chu trong anh nay"],
    ids=["english", "diacritics", "no-diacritics"],
)
def test_a_request_to_read_an_image_answers_with_its_text(mesh: Mesh, question: str) -> None:
    receipt = text_image(["CONG TY TNHH AN PHAT", "Coffee x2 50,000", "Bread x1 25,000", "TOTAL: 75,000 VND"])
    png = io.BytesIO()
    receipt.save(png, format="PNG")
    upload = mesh.upload(png.getvalue(), "receipt.png", "image/png")
    response = mesh.post(
        "/api/acme/chat",
        mesh.headers(),
        json={"message": question, "attachments": [{"name": "receipt.png", "upload": upload["reference"]}]},
    )
    body: dict[str, Any] = response.json()
    assert body["agent"] == "ocr" and body["outcome"] == "answered", body
    assert [step["tool"] for step in body["steps"] if step["type"] == "tool_call"] == ["ocr_image"]
    assert "Bread x1 25,000" in body["answer"] and "75,000" in body["answer"], body["answer"]


def test_the_total_printed_before_its_currency_is_the_receipts_total(mesh: Mesh) -> None:
    receipt = text_image(
        ["CONG TY TNHH AN PHAT", "Date: 12/05/2025", "Coffee x2 50,000", "TOTAL: 75,000 VND"]
    )
    png = io.BytesIO()
    receipt.save(png, format="PNG")
    upload = mesh.upload(png.getvalue(), "receipt.png", "image/png")
    body = _read_by_the_ocr_agent(mesh, {"name": "receipt.png", "upload": upload["reference"]})
    assert body["data"]["total"]["value"] == 75000.0, body


def test_a_70_kib_inline_argument_is_still_refused_by_the_cap(mesh: Mesh) -> None:
    image = base64.b64encode(b"\xff\xd8\xff" + b"\x00" * (70 * 1024)).decode()

    async def call() -> Any:
        async with http_client(f"{mesh.url}/mcp", mesh.headers()["Authorization"].split()[1]) as client:
            return await client.call_tool("ocr__ocr_image", {"image": image})

    result = anyio.run(call)
    assert result.is_error and error_code(result) == "denied", result
    assert f"at most {ARGUMENTS_CAP} are accepted" in result.content[0].text, result
