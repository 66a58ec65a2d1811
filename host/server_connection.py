"""One long-lived MCP client to one server, shared by every tenant and every turn.

A `ServerConnection` owns one `mcp.Client` over Streamable HTTP, run by a background task that
connects, reconnects with backoff when the server is away, and closes it on shutdown. Calls
from any turn go through that one client; the per-call mesh token rides in a context variable
that the HTTP auth hook reads, so one connection serves all tenants while every request carries
its own caller's audience-bound token. A tool call without progress goes out as one HTTP
exchange on the same server (`host.single_exchange`).

A server registered at run time is connected through the outbound guard (`host.mcp_pool`).

While connected, each client also keeps a `subscriptions/listen` stream open for tool list
changes (protocol 2026-07-28 delivers `tools/list_changed` only on such a stream) and re-opens it
when it ends; every (re)open and every event calls `on_tools_changed`, since a stream replays
nothing. A stream that cannot be re-opened means the server is gone: the client reconnects.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio
import httpx2
import structlog
from anyio.abc import TaskGroup
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ListenNotSupportedError, SubscriptionLost
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp_types import (
    CONNECTION_CLOSED,
    REQUEST_TIMEOUT,
    CallToolResult,
    Completion,
    GetPromptResult,
    Prompt,
    PromptReference,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    ResourceTemplateReference,
    Tool,
)

from agentmesh.errors import AgentmeshError
from agentmesh.outbound import OutboundGuard
from agentmesh.outbound_http import guarded_client
from host import single_exchange
from host.single_exchange import CLIENT_INFO, NotServedHere, Poster, ToolShapes

log = structlog.get_logger(__name__)

_call_bearer: contextvars.ContextVar[str | None] = contextvars.ContextVar("mcp_call_bearer", default=None)


def _describe(exc: BaseException) -> str:
    """The innermost cause of a connection failure, readable (task groups wrap it in groups)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"[:300]


class ServerUnavailable(AgentmeshError):
    """The server cannot be reached now; the message names it."""

    code = "server_unavailable"
    retryable = True


class _BearerFromContext(httpx2.Auth):
    """Puts the current call's mesh token (or the host's listing token) on each request."""

    def __init__(self, fallback: Callable[[], str]) -> None:
        self._fallback = fallback

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.headers["Authorization"] = f"Bearer {_call_bearer.get() or self._fallback()}"
        yield request


@dataclass
class ConnectionState:
    """What the pool reports about one server (for health and metrics)."""

    name: str
    url: str
    connected: bool
    last_error: str | None
    connected_at: float | None


@contextlib.asynccontextmanager
async def _single_exchange_poster(http: httpx2.AsyncClient, *, guarded: bool) -> AsyncIterator[Poster]:
    """How single-exchange calls are sent: an aiohttp session to the platform's own servers, the
    connection's guarded httpx client to a server registered at run time."""
    if guarded:
        yield single_exchange.httpx_poster(http)
        return
    async with aiohttp.ClientSession() as session:
        yield single_exchange.aiohttp_poster(session)


class ServerConnection:
    """One long-lived client to one server, kept connected by its own task."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        listing_token: Callable[[], str],
        outbound: OutboundGuard | None = None,
        on_message: Callable[[str, Any], Any] | None = None,
        on_tools_changed: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self._listing_token = listing_token
        self._outbound = outbound
        """Guards every connection to a server registered at run time; None for the platform's own."""
        self._on_message = on_message
        self._on_tools_changed = on_tools_changed
        self._client: Client | None = None
        self._post: Poster | None = None
        self._shapes = ToolShapes()
        self._ready = anyio.Event()
        self._reconnect = anyio.Event()
        self._stop = anyio.Event()
        self._last_error: str | None = None
        self._connected_at: float | None = None

    @property
    def state(self) -> ConnectionState:
        return ConnectionState(
            self.name, self.url, self._client is not None, self._last_error, self._connected_at
        )

    def close(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Connect, stay connected until closed or asked to reconnect, and retry with backoff."""
        stop = self._stop
        delay = 0.2
        while not stop.is_set():
            try:
                await self._connected_until(stop)
                delay = 0.2
            except Exception as exc:  # any failure to connect means: wait, then try again
                self._last_error = _describe(exc)
                log.info("mcp_connect_failed", server=self.name, error=self._last_error)
            finally:
                self._client = None
                self._post = None
            with anyio.move_on_after(delay):
                await stop.wait()
            delay = min(delay * 2, 5.0)

    async def _connected_until(self, stop: anyio.Event) -> None:
        async def message_handler(message: Any) -> None:
            if self._on_message is not None:
                await self._on_message(self.name, message)

        auth = _BearerFromContext(self._listing_token)
        timeout = httpx2.Timeout(30.0, connect=5.0)
        http_client = (
            httpx2.AsyncClient(auth=auth, timeout=timeout)
            if self._outbound is None
            else guarded_client(self._outbound, auth=auth, timeout=timeout)
        )
        async with (
            http_client as http,
            Client(
                streamable_http_client(self.url, http_client=http),
                message_handler=message_handler,
                client_info=CLIENT_INFO,
            ) as client,
            _single_exchange_poster(http, guarded=self._outbound is not None) as post,
        ):
            self._client = client
            self._post = post
            self._last_error = None
            self._connected_at = time.time()
            self._reconnect = anyio.Event()
            self._ready.set()
            log.info("mcp_connected", server=self.name, protocol=client.protocol_version)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._cancel_on, stop, tg)
                tg.start_soon(self._cancel_on, self._reconnect, tg)
                if self._on_tools_changed is not None:
                    tg.start_soon(self._listen, client, self._on_tools_changed)

    async def _listen(self, client: Client, on_change: Callable[[str], Awaitable[None]]) -> None:
        """Keep a tools-changed stream open; a stream that cannot be re-opened means reconnect."""
        while True:
            try:
                async with client.listen(tools_list_changed=True) as changes:
                    await on_change(self.name)  # nothing is replayed: whatever changed before now
                    async for _ in changes:
                        await on_change(self.name)
            except ListenNotSupportedError:
                log.info("mcp_listen_unsupported", server=self.name, protocol=client.protocol_version)
                return
            except (SubscriptionLost, MCPError, httpx2.TransportError, anyio.BrokenResourceError) as exc:
                self._last_error = f"listen: {type(exc).__name__}: {exc}"[:300]
                log.info("mcp_listen_lost", server=self.name, error=self._last_error)
                self.request_reconnect()
                return
            # The server closed the stream gracefully (a restart, a deploy): listen again shortly.
            await anyio.sleep(0.5)

    @staticmethod
    async def _cancel_on(event: anyio.Event, tg: TaskGroup) -> None:
        await event.wait()
        tg.cancel_scope.cancel()

    def request_reconnect(self) -> None:
        self._reconnect.set()

    async def wait_ready(self, timeout: float) -> bool:
        with anyio.move_on_after(timeout):
            await self._ready.wait()
        return self._client is not None

    def _require_client(self) -> Client:
        if self._client is None:
            raise ServerUnavailable(f"the '{self.name}' server is not reachable right now")
        return self._client

    async def list_tools(self) -> list[Tool]:
        client = self._require_client()
        tools: list[Tool] = []
        cursor: str | None = None
        with self._unreachable_as_unavailable():
            while True:
                page = await client.list_tools(cursor=cursor, cache_mode="refresh")
                tools.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    return tools

    async def call_tool(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        *,
        token: str,
        timeout: float,
        progress: ProgressFnT | None = None,
        input_schema: Mapping[str, Any] | None = None,
        output_schema: Mapping[str, Any] | None = None,
    ) -> CallToolResult:
        """Call `tool` as the holder of `token`; the tool's schemas (from the catalog) shape the
        request's headers and check its result on the single-exchange path."""
        client = self._require_client()
        reset = _call_bearer.set(token)
        try:
            with self._unreachable_as_unavailable(), anyio.fail_after(timeout):
                post = self._post
                if progress is None and post is not None and single_exchange.serves(client.protocol_version):
                    headers = self._shapes.param_headers(tool, input_schema, arguments)
                    headers["authorization"] = f"Bearer {token}"
                    try:
                        result = await single_exchange.call_tool(
                            post,
                            self.url,
                            client.protocol_version,
                            tool,
                            arguments,
                            headers=headers,
                            timeout=timeout,
                        )
                    except NotServedHere as exc:
                        log.info("mcp_call_through_sdk", server=self.name, tool=tool, reason=str(exc))
                    else:
                        self._shapes.check_output(tool, output_schema, result)
                        return result
                return await client.call_tool(
                    tool, dict(arguments), read_timeout_seconds=timeout, progress_callback=progress
                )
        finally:
            _call_bearer.reset(reset)

    # Resources, prompts and completions, for one caller. Every answer may be the caller's own
    # (a tenant's documents), so nothing is taken from the client's shared response cache.

    async def list_resources(self, *, token: str) -> list[Resource]:
        client = self._require_client()
        with self._as_caller(token), self._unreachable_as_unavailable():
            return (await client.list_resources(cache_mode="refresh")).resources

    async def list_resource_templates(self, *, token: str) -> list[ResourceTemplate]:
        client = self._require_client()
        with self._as_caller(token), self._unreachable_as_unavailable():
            return (await client.list_resource_templates(cache_mode="refresh")).resource_templates

    async def read_resource(self, uri: str, *, token: str) -> ReadResourceResult:
        client = self._require_client()
        with self._as_caller(token), self._unreachable_as_unavailable():
            return await client.read_resource(uri, cache_mode="refresh")

    async def list_prompts(self, *, token: str) -> list[Prompt]:
        client = self._require_client()
        with self._as_caller(token), self._unreachable_as_unavailable():
            return (await client.list_prompts(cache_mode="refresh")).prompts

    async def get_prompt(self, name: str, arguments: dict[str, str], *, token: str) -> GetPromptResult:
        client = self._require_client()
        with self._as_caller(token), self._unreachable_as_unavailable():
            return await client.get_prompt(name, arguments)

    async def complete(
        self, ref: PromptReference | ResourceTemplateReference, argument: dict[str, str], *, token: str
    ) -> Completion:
        client = self._require_client()
        with self._as_caller(token), self._unreachable_as_unavailable():
            return (await client.complete(ref, argument)).completion

    @staticmethod
    @contextlib.contextmanager
    def _as_caller(token: str) -> Generator[None, None, None]:
        reset = _call_bearer.set(token)
        try:
            yield
        finally:
            _call_bearer.reset(reset)

    @contextlib.contextmanager
    def _unreachable_as_unavailable(self) -> Generator[None, None, None]:
        """A dropped connection becomes `ServerUnavailable` (and a reconnect); a timeout `TimeoutError`."""
        try:
            yield
        except MCPError as exc:
            if exc.error.code == REQUEST_TIMEOUT:
                raise TimeoutError(str(exc)) from exc
            if exc.error.code != CONNECTION_CLOSED:
                raise
            self.request_reconnect()
            raise ServerUnavailable(f"the '{self.name}' server went away during the call") from exc
        except (
            httpx2.TransportError,
            aiohttp.ClientError,
            anyio.ClosedResourceError,
            anyio.BrokenResourceError,
        ) as exc:
            self.request_reconnect()
            raise ServerUnavailable(f"the '{self.name}' server did not answer: {type(exc).__name__}") from exc
