"""The guarded HTTP client: every connection it opens is checked after DNS resolution, on every
redirect hop, and goes to the address that was checked (real sockets on loopback)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from agentmesh.outbound import AllowList, BlockedDestination, OutboundGuard
from agentmesh.outbound_http import guarded_client
from mcp_servers.erp.demo_runtime import serve_on_loopback
from tests.support.resolver import StaticResolver


class Site:
    """A loopback web site that counts what reached it."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.hits: Counter[str] = Counter()
        self.redirect_to = redirect_to

    async def _page(self, request: Request) -> Response:
        self.hits[request.url.path] += 1
        if self.redirect_to:
            return RedirectResponse(self.redirect_to, status_code=302)
        return JSONResponse({"host": request.headers["host"]})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._page)])


@contextlib.asynccontextmanager
async def serving(site: Site) -> AsyncIterator[int]:
    """`site` on a free loopback port; yields the port."""
    async with serve_on_loopback(site.app()) as url:
        yield int(url.rsplit(":", 1)[1])


def guard(*allow: str, resolver: StaticResolver | None = None) -> OutboundGuard:
    return OutboundGuard(AllowList(allow), resolver or StaticResolver())


async def test_a_loopback_server_is_refused_when_the_connection_opens() -> None:
    served = Site()
    async with serving(served) as port:
        async with guarded_client(guard()) as client:
            with pytest.raises(BlockedDestination, match=r"127\.0\.0\.1 is a loopback address"):
                await client.get(f"http://127.0.0.1:{port}/secrets")
        assert served.hits == Counter(), "nothing reached the server"


async def test_the_platform_allow_list_lets_an_allowed_loopback_server_through() -> None:
    served = Site()
    async with serving(served) as port:
        async with guarded_client(guard(f"127.0.0.1:{port}")) as client:
            response = await client.get(f"http://127.0.0.1:{port}/customers")
        assert response.status_code == 200
        assert served.hits["/customers"] == 1


async def test_a_name_public_when_saved_and_private_when_called_is_refused() -> None:
    served = Site()
    async with serving(served) as port:
        resolver = StaticResolver({"erp.example.com": ["93.184.216.34"]})
        checked = guard(resolver=resolver)
        await checked.check(f"http://erp.example.com:{port}/")  # what an admin API does on save
        resolver.answer("erp.example.com", "127.0.0.1")  # DNS rebinding: the next answer is loopback
        async with guarded_client(checked) as client:
            with pytest.raises(
                BlockedDestination, match=r"erp.example.com resolves to 127.0.0.1, a loopback"
            ):
                await client.get(f"http://erp.example.com:{port}/customers")
        assert served.hits == Counter()


async def test_a_redirect_from_an_allowed_server_to_a_private_one_is_refused_on_its_hop() -> None:
    private = Site()
    async with serving(private) as private_port:
        redirecting = Site(redirect_to=f"http://127.0.0.1:{private_port}/admin")
        async with serve_on_loopback(redirecting.app()) as url:
            allowed_port = int(url.rsplit(":", 1)[1])
            resolver = StaticResolver({"partner.test": ["127.0.0.1"]})
            async with guarded_client(
                guard(f"partner.test:{allowed_port}", resolver=resolver), follow_redirects=True
            ) as client:
                with pytest.raises(BlockedDestination, match=r"127\.0\.0\.1 is a loopback address"):
                    await client.get(f"http://partner.test:{allowed_port}/start")
        assert redirecting.hits["/start"] == 1
        assert private.hits == Counter(), "the redirect target was never contacted"


async def test_the_connection_goes_to_the_checked_address_and_keeps_the_host_name() -> None:
    served = Site()
    async with serving(served) as port:
        resolver = StaticResolver({"erp.corp.test": ["127.0.0.1"]})
        async with guarded_client(guard("*.corp.test", resolver=resolver)) as client:
            first = await client.get(f"http://erp.corp.test:{port}/a")
            second = await client.get(f"http://erp.corp.test:{port}/b")
        assert first.json() == {"host": f"erp.corp.test:{port}"}
        assert second.status_code == 200
        assert resolver.lookups == ["erp.corp.test"], "one lookup for the one pooled connection"


async def test_environment_proxies_are_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    served = Site()
    async with serving(served) as port:
        for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy"):
            monkeypatch.setenv(variable, "http://127.0.0.1:9")
        async with guarded_client(guard(f"127.0.0.1:{port}")) as client:
            response = await client.get(f"http://127.0.0.1:{port}/direct")
        assert response.status_code == 200 and served.hits["/direct"] == 1
