"""HTTPS through the guard: connected to the checked address, certificate verified for the host name."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from mcp_servers.search.errors import UpstreamUnreachable
from mcp_servers.search.fetcher import PageFetcher
from mcp_servers.search.network_rules import NetworkRules
from tests.mcp_servers.search.certificates import ServerCertificate, issue
from tests.mcp_servers.search.conftest import SMALL_LIMITS
from tests.mcp_servers.search.sites import serve
from tests.support.resolver import StaticResolver

HOST = "secure.example.test"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    return issue(tmp_path_factory.mktemp("tls"), HOST)


@pytest.fixture(scope="module")
def secure_site(certificate: ServerCertificate) -> Iterator[str]:
    app = Starlette(routes=[Route("/", lambda r: PlainTextResponse(f"secure hello to {r.headers['host']}"))])
    with serve(app, tls=certificate) as base_url:
        yield base_url


def _fetcher(certificate: ServerCertificate, names: dict[str, list[str]]) -> PageFetcher:
    trust = ssl.create_default_context(cafile=str(certificate.ca_file))
    return PageFetcher(SMALL_LIMITS, StaticResolver(names), verify=trust)


async def test_https_is_verified_for_the_host_name_while_connecting_to_the_checked_address(
    certificate: ServerCertificate, secure_site: str
) -> None:
    port = secure_site.rsplit(":", 1)[1]
    fetcher = _fetcher(certificate, {HOST: ["127.0.0.1"]})
    download = await fetcher.download(f"https://{HOST}:{port}/", NetworkRules(allowed_hosts=(HOST,)))
    assert download.body.decode() == f"secure hello to {HOST}:{port}"


async def test_a_certificate_for_another_name_is_refused(
    certificate: ServerCertificate, secure_site: str
) -> None:
    port = secure_site.rsplit(":", 1)[1]
    fetcher = _fetcher(certificate, {"impostor.example.test": ["127.0.0.1"]})
    rules = NetworkRules(allowed_hosts=("impostor.example.test",))
    with pytest.raises(UpstreamUnreachable, match="certificate verify failed"):
        await fetcher.download(f"https://impostor.example.test:{port}/", rules)


async def test_an_untrusted_certificate_is_refused(tmp_path: Path, secure_site: str) -> None:
    port = secure_site.rsplit(":", 1)[1]
    other_ca = issue(tmp_path, HOST)
    fetcher = _fetcher(other_ca, {HOST: ["127.0.0.1"]})
    with pytest.raises(UpstreamUnreachable, match="certificate verify failed"):
        await fetcher.download(f"https://{HOST}:{port}/", NetworkRules(allowed_hosts=(HOST,)))
