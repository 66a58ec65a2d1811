"""Client ID metadata documents: an MCP client named by the https URL of its metadata.

The documents are served over real TLS on loopback (a certificate authority made for the test,
which the gateway is told to trust), so the gateway fetches them exactly as it would a public
one: through the outbound guard, which refuses a loopback address unless
`AGENTMESH_OUTBOUND_ALLOW` names it. The MCP Python SDK uses such a URL as its `client_id` when
the server metadata says it may (`client_id_metadata_document_supported`), with no registration.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import httpx2
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agentmesh.settings import load_settings
from gateway.app import create_app
from tests.gateway.oauth_flow import (
    REDIRECT_URI,
    Browser,
    HeadlessUser,
    MemoryStorage,
    authorization_url,
    pkce_pair,
)
from tests.support.gateway import serving
from tests.support.processes import free_port, running_server, wait_healthy

pytestmark = pytest.mark.slow

CLIENT_NAME = "Trợ lý của Minh (metadata document)"


@dataclass
class Authority:
    """A certificate authority of the test, and a server certificate for localhost it signed."""

    cert_file: Path
    key_file: Path
    trust: ssl.SSLContext


def make_authority(directory: Path) -> Authority:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agentmesh test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    trust = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return Authority(cert_file, key_file, trust)


async def document(request: Request) -> JSONResponse:
    """A client's metadata document; `/impostor.json` names another client than its own URL."""
    own_url = str(request.url)
    return JSONResponse(
        {
            "client_id": own_url
            if request.path_params["name"] != "impostor.json"
            else "https://elsewhere.example/c",
            "client_name": CLIENT_NAME,
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
    )


@contextlib.contextmanager
def documents_over_tls(authority: Authority) -> Iterator[str]:
    """Serve client metadata documents at `https://localhost:PORT/{name}`; yield the origin."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/clients/{name}", document)]),
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(authority.cert_file),
            ssl_keyfile=str(authority.key_file),
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the document server did not start"
        time.sleep(0.05)
    try:
        yield f"https://localhost:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Setup:
    gateway: str
    allowed: str
    blocked: str


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    data_dir = tmp_path_factory.mktemp("oauth-documents")
    authority = make_authority(data_dir)
    with documents_over_tls(authority) as allowed, documents_over_tls(authority) as blocked:
        settings = load_settings(
            AGENTMESH_DATA_DIR=data_dir, AGENTMESH_OUTBOUND_ALLOW=allowed.removeprefix("https://")
        )
        with running_server("erp", data_dir) as erp_url:
            app = create_app(settings, {"erp": erp_url}, outbound_tls=authority.trust)
            with serving(app) as url:
                wait_healthy(f"{url}/healthz")
                yield Setup(url, allowed, blocked)


async def test_the_sdk_signs_in_named_by_its_metadata_document(setup: Setup) -> None:
    client_id = f"{setup.allowed}/clients/agentmesh-test.json"
    user, storage = HeadlessUser(setup.gateway), MemoryStorage()
    provider = OAuthClientProvider(
        server_url=f"{setup.gateway}/mcp",
        client_metadata=OAuthClientMetadata(
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=user.redirect,
        callback_handler=user.callback,
        client_metadata_url=client_id,
    )
    async with (
        httpx2.AsyncClient(auth=provider, timeout=60.0) as http,
        Client(streamable_http_client(f"{setup.gateway}/mcp", http_client=http)) as client,
    ):
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert "erp__get_customer_debt" in names
    assert storage.client_info is not None and storage.client_info.client_id == client_id

    # The consent page named the client as its document does.
    _, challenge = pkce_pair()
    browser = Browser(setup.gateway)
    try:
        page = await browser.open(authorization_url(setup.gateway, client_id, challenge))
        signed_in = await browser.submit(page, user="acme-user")
        consent = await browser.open(signed_in.headers["location"])
    finally:
        await browser.aclose()
    assert CLIENT_NAME in consent.text and client_id in consent.text


async def test_a_document_on_an_address_the_guard_refuses_is_not_fetched(setup: Setup) -> None:
    _, challenge = pkce_pair()
    async with httpx.AsyncClient(timeout=30) as http:
        page = await http.get(
            authorization_url(setup.gateway, f"{setup.blocked}/clients/agentmesh-test.json", challenge)
        )
    assert page.status_code == 400 and "location" not in page.headers
    assert "invalid_client" in page.text and "loopback" in page.text


async def test_a_document_that_names_another_client_is_refused(setup: Setup) -> None:
    _, challenge = pkce_pair()
    async with httpx.AsyncClient(timeout=30) as http:
        page = await http.get(
            authorization_url(setup.gateway, f"{setup.allowed}/clients/impostor.json", challenge)
        )
    assert page.status_code == 400 and "another client_id" in page.text
