"""Uploads: a file is stored once per tenant and named by an unguessable handle; only its uploader
and the tenant's admins can use it, it is capped in size and per tenant, and it expires.

The servers' side (reading a reference with a mesh token) runs against real servers in
`test_uploads_live.py`; here the gateway alone, in process.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from starlette.requests import Request
from starlette.testclient import TestClient

from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.dev_tokens import issue_dev_token
from agentmesh.keys import mesh_key
from agentmesh.mesh_tokens import LISTING_TENANT, mint_server_token
from agentmesh.settings import Settings, load_settings
from gateway.app import create_app
from gateway.errors import ApiError
from gateway.mesh_callers import MeshCallers
from gateway.tables import UploadChunkRow
from gateway.uploads import UploadNotFound, UploadStore
from tests.support.mcp import mesh_token

RECEIPT = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40  # 10 KiB that start like a JPEG


class Gateway:
    def __init__(self, client: TestClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def headers(self, tenant: str = "acme", user: str = "alice", *roles: str) -> dict[str, str]:
        token = issue_dev_token(self.settings, tenant_id=tenant, user=user, roles=list(roles) or None)
        return {"Authorization": f"Bearer {token}"}

    def upload(
        self, data: bytes, *, tenant: str = "acme", user: str = "alice", media_type: str = "image/jpeg"
    ) -> httpx.Response:
        return self.client.post(
            f"/api/{tenant}/uploads?filename=receipt.jpg",
            content=data,
            headers={**self.headers(tenant, user), "Content-Type": media_type},
        )


def gateway_settings(data_dir: Path, **env: object) -> Settings:
    return load_settings(AGENTMESH_DATA_DIR=data_dir, DATABASE_URL=None, REDIS_URL=None, **env)


@pytest.fixture
def gateway(settings: Settings) -> Iterator[Gateway]:
    with TestClient(create_app(settings, servers={})) as client:
        yield Gateway(client, settings)


def test_a_raw_upload_is_named_by_a_handle_and_served_back_as_an_attachment(gateway: Gateway) -> None:
    created = gateway.upload(RECEIPT)
    assert created.status_code == 201, created.text
    info = created.json()
    assert len(info["handle"]) == 32 and info["reference"] == f"upload://{info['handle']}"
    assert info["filename"] == "receipt.jpg" and info["media_type"] == "image/jpeg"
    assert info["size_bytes"] == len(RECEIPT) and info["sha256"] == hashlib.sha256(RECEIPT).hexdigest()
    assert info["uploaded_by"] == "alice"
    assert datetime.fromisoformat(info["expires_at"]) - datetime.fromisoformat(info["created_at"]) == (
        timedelta(days=7)
    )

    path = f"/api/acme/uploads/{info['handle']}"
    assert gateway.client.get(path, headers=gateway.headers()).json() == info
    content = gateway.client.get(f"{path}/content", headers=gateway.headers())
    assert content.status_code == 200 and content.content == RECEIPT
    # Never rendered on the gateway's origin, whatever the file claims to be.
    assert content.headers["content-type"] == "application/octet-stream"
    assert content.headers["content-disposition"].startswith("attachment")
    assert content.headers["x-content-type-options"] == "nosniff"
    assert content.headers["x-upload-media-type"] == "image/jpeg"
    listed = gateway.client.get("/api/acme/uploads", headers=gateway.headers()).json()["items"]
    assert [item["handle"] for item in listed] == [info["handle"]]


def test_a_multipart_upload_keeps_the_file_part_and_its_name(gateway: Gateway) -> None:
    created = gateway.client.post(
        "/api/acme/uploads",
        data={"note": "not the file"},
        files={"file": ("scan 01.png", b"\x89PNG\r\n\x1a\n" + b"p" * 5000, "image/png")},
        headers=gateway.headers(),
    )
    assert created.status_code == 201, created.text
    info = created.json()
    assert (info["filename"], info["media_type"], info["size_bytes"]) == ("scan 01.png", "image/png", 5008)

    missing = gateway.client.post(
        "/api/acme/uploads",
        data={"note": "no file here"},
        files={"other": ("a.txt", b"x")},
        headers=gateway.headers(),
    )
    assert missing.status_code == 400 and "'file' part" in missing.json()["error"]["message"]


def test_an_upload_is_its_uploaders_and_its_tenant_admins_only(gateway: Gateway) -> None:
    handle = gateway.upload(RECEIPT).json()["handle"]
    path = f"/api/acme/uploads/{handle}"

    assert gateway.client.get(path, headers=gateway.headers("acme", "ada", "tenant_admin")).status_code == 200
    for who in (gateway.headers("acme", "bob"),):
        for suffix in ("", "/content"):
            refused = gateway.client.get(path + suffix, headers=who)
            assert refused.status_code == 404 and refused.json()["error"]["code"] == "upload_not_found"
        assert gateway.client.delete(path, headers=who).status_code == 404
        assert gateway.client.get("/api/acme/uploads", headers=who).json()["items"] == []
    # Another tenant's user: its own tenant has no such upload; acme's path is not theirs to use.
    as_globex = gateway.client.get(f"/api/globex/uploads/{handle}", headers=gateway.headers("globex", "gary"))
    assert as_globex.status_code == 404 and as_globex.json()["error"]["code"] == "upload_not_found"
    in_acme = gateway.client.get(path, headers=gateway.headers("globex", "gary"))
    assert in_acme.status_code == 403 and in_acme.json()["error"]["code"] == "forbidden_tenant"

    assert gateway.client.delete(path, headers=gateway.headers()).status_code == 204
    assert gateway.client.get(path, headers=gateway.headers()).status_code == 404


def test_an_upload_over_the_cap_is_cut_off_and_a_tenant_has_a_quota(data_dir: Path) -> None:
    settings = gateway_settings(
        data_dir, AGENTMESH_UPLOAD_MAX_BYTES=4096, AGENTMESH_UPLOAD_TENANT_QUOTA_BYTES=10_000
    )
    with TestClient(create_app(settings, servers={})) as client:
        gateway = Gateway(client, settings)
        declared = gateway.upload(b"x" * 5000)

        def unannounced() -> Iterator[bytes]:  # chunked: no Content-Length to refuse up front
            yield from (b"y" * 1000 for _ in range(6))

        streamed = client.post(
            "/api/acme/uploads",
            content=unannounced(),
            headers={**gateway.headers(), "Content-Type": "text/plain"},
        )
        kept = [gateway.upload(b"z" * 4000).status_code for _ in range(2)]
        over_quota = gateway.upload(b"q" * 4000)
        stored = gateway.client.get("/api/acme/uploads", headers=gateway.headers()).json()["items"]

    for refused in (declared, streamed):
        assert refused.status_code == 413 and refused.json()["error"]["code"] == "too_large", refused.text
    assert kept == [201, 201]
    assert over_quota.status_code == 413, over_quota.text
    assert over_quota.json()["error"]["code"] == "upload_quota_exceeded"
    assert [item["size_bytes"] for item in stored] == [4000, 4000]  # nothing of the refused ones


async def test_uploads_expire_after_the_retention_and_go_with_their_tenant(settings: Settings) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    db = session_factory(engine)
    store = UploadStore(
        db, max_bytes=1000, tenant_quota_bytes=10_000, retention=timedelta(days=2), clock=lambda: now
    )
    old = await store.save_bytes("acme", uploaded_by="alice", filename="a.txt", media_type=None, data=b"a")
    now += timedelta(days=1)
    fresh = await store.save_bytes("acme", uploaded_by="alice", filename="b.txt", media_type=None, data=b"b")
    other = await store.save_bytes("globex", uploaded_by="gary", filename="c.txt", media_type=None, data=b"c")
    now += timedelta(days=1, seconds=1)

    assert await store.expire() == 1
    with pytest.raises(UploadNotFound):
        await store.get("acme", old.handle)
    assert (await store.get("acme", fresh.handle)).media_type == "application/octet-stream"
    with pytest.raises(UploadNotFound):  # a handle is looked up in its own tenant only
        await store.get("globex", fresh.handle)

    async with db() as session, session.begin():
        assert await store.delete_tenant(session, "acme") == {"uploads": 1}
    assert await store.list("acme") == []
    assert await store.read(await store.get("globex", other.handle)) == b"c"
    async with db() as session:  # the bytes went with their upload
        handles = set(await session.scalars(select(UploadChunkRow.handle)))
    assert handles == {other.handle}
    await engine.dispose()


def test_chat_attachments_travel_by_reference_and_stay_the_callers(gateway: Gateway) -> None:
    photo = base64.b64encode(RECEIPT).decode()
    inline = gateway.client.post(
        "/api/acme/chat",
        json={
            "message": "Read the text in this image",
            "attachments": [{"name": "receipt.jpg", "media_type": "image/jpeg", "content_base64": photo}],
        },
        headers=gateway.headers(),
    )
    assert inline.status_code == 200, inline.text
    stored = gateway.client.get("/api/acme/uploads", headers=gateway.headers()).json()["items"]
    assert [(item["filename"], item["size_bytes"]) for item in stored] == [("receipt.jpg", len(RECEIPT))]

    reference = stored[0]["reference"]
    as_bob = gateway.client.post(
        "/api/acme/chat",
        json={"message": "Read this", "attachments": [{"name": "r.jpg", "upload": reference}]},
        headers=gateway.headers("acme", "bob"),
    )
    assert as_bob.status_code == 404 and as_bob.json()["error"]["code"] == "upload_not_found"
    as_globex = gateway.client.post(
        "/api/globex/chat",
        json={"message": "Read this", "attachments": [{"name": "r.jpg", "upload": reference}]},
        headers=gateway.headers("globex", "gary"),
    )
    assert as_globex.status_code == 404 and as_globex.json()["error"]["code"] == "upload_not_found"
    both = gateway.client.post(
        "/api/acme/chat",
        json={"message": "x", "attachments": [{"name": "r", "upload": reference, "content_base64": photo}]},
        headers=gateway.headers(),
    )
    assert both.status_code == 400 and both.json()["error"]["code"] == "invalid_request"


def test_a_referenced_attachment_is_held_to_the_tenants_attachment_cap(gateway: Gateway) -> None:
    big = gateway.upload(b"\0" * 5_000_001, tenant="globex", user="gary").json()
    refused = gateway.client.post(
        "/api/globex/chat",
        json={"message": "read this", "attachments": [{"name": "scan.png", "upload": big["reference"]}]},
        headers=gateway.headers("globex", "gary"),
    )
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"]["details"] == {
        "size": 5_000_001,
        "limit": 5_000_000,
        "limit_name": "max_attachment_bytes",
    }


def test_servers_read_uploads_with_a_mesh_token_of_a_known_server_only(gateway: Gateway) -> None:
    handle = gateway.upload(RECEIPT).json()["handle"]
    as_user = gateway.client.get(f"/internal/uploads/{handle}", headers=gateway.headers())
    assert as_user.status_code == 401, as_user.text  # a user token is not a server's
    # This gateway has no servers: no mesh token, however valid, names one of them.
    token = mesh_token(gateway.settings, "ocr", tools=["ocr_image"])
    as_unknown = gateway.client.get(
        f"/internal/uploads/{handle}", headers={"Authorization": f"Bearer {token}"}
    )
    assert as_unknown.status_code == 401, as_unknown.text


def _request(token: str) -> Request:
    return Request({"type": "http", "headers": [(b"authorization", f"Bearer {token}".encode())]})


def test_the_mesh_token_decides_tenant_and_user(settings: Settings) -> None:
    callers = MeshCallers(settings, lambda: ["ocr", "rag"])
    claims = callers.verify(_request(mesh_token(settings, "ocr", tenant="globex", tools=["ocr_image"])))
    assert (claims.tenant_id, claims.sub, claims.server) == ("globex", "alice", "ocr")

    listing = mint_server_token(
        mesh_key(settings.keys_dir),
        issuer=settings.mesh_issuer,
        server="ocr",
        tenant_id=LISTING_TENANT,
        subject="agentmesh-host",
        tools=[],
    )
    for token in (
        listing,
        mesh_token(settings, "search", tools=["fetch_page"]),  # not a server of this gateway
        mesh_token(settings, "ocr", tools=["ocr_image"], ttl_seconds=-120),
        issue_dev_token(settings, tenant_id="acme", user="alice"),
    ):
        with pytest.raises(ApiError) as refused:
            callers.verify(_request(token))
        assert refused.value.code == "unauthorized"


async def test_an_upload_made_through_one_replica_is_read_through_another(tmp_path: Path) -> None:
    # Two gateway replicas: their own disks, one database and one deployment's keys (a Secret).
    database = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first, second = (
        load_settings(AGENTMESH_DATA_DIR=tmp_path / name, DATABASE_URL=database, REDIS_URL=None)
        for name in ("replica-a", "replica-b")
    )
    engine = create_engine(database)
    await upgrade_database(engine)
    await engine.dispose()
    with TestClient(create_app(first, servers={})) as one:
        shutil.copytree(first.keys_dir, second.keys_dir, dirs_exist_ok=True)
        with TestClient(create_app(second, servers={})) as other:
            made = Gateway(one, first).upload(RECEIPT).json()
            through_b = Gateway(other, second)
            content = other.get(f"/api/acme/uploads/{made['handle']}/content", headers=through_b.headers())
            listed = other.get("/api/acme/uploads", headers=through_b.headers()).json()["items"]
            deleted = other.delete(f"/api/acme/uploads/{made['handle']}", headers=through_b.headers())
            gone = one.get(f"/api/acme/uploads/{made['handle']}", headers=Gateway(one, first).headers())

    assert content.status_code == 200 and content.content == RECEIPT
    assert content.headers["content-length"] == str(len(RECEIPT))
    assert [item["handle"] for item in listed] == [made["handle"]]
    assert deleted.status_code == 204 and gone.status_code == 404
