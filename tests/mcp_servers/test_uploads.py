"""A server reads an `upload://` argument from the gateway as the caller of its call, within its own
byte limit: a file over the limit is refused from its declared length, or cut off while it streams.

The gateway's side (which uploads a token may read) is `tests/gateway/test_uploads.py` and the
isolation suite; here a loopback peer answers as the gateway's `/internal/uploads` does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agentmesh.errors import AgentmeshError
from agentmesh.settings import Settings, load_settings
from mcp_servers.common.uploads import UploadReader
from tests.gateway.loopback import serve_in_thread

DECLARED, STREAMED, MISSING = "d" * 32, "s" * 32, "m" * 32
TOKEN = "the-calls-mesh-token"


async def upload(request: Request) -> Response:
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        return JSONResponse({"error": {"code": "unauthorized"}}, status_code=401)
    handle = request.path_params["handle"]
    headers = {"X-Upload-Filename": "r%C3%A9cu.jpg", "X-Upload-Media-Type": "image/jpeg"}
    if handle == DECLARED:
        return Response(b"x" * 5000, media_type="application/octet-stream", headers=headers)
    if handle == STREAMED:

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: cut off by counting
            for _ in range(50):
                yield b"y" * 1000

        return StreamingResponse(chunks(), media_type="application/octet-stream", headers=headers)
    return JSONResponse({"error": {"code": "upload_not_found"}}, status_code=404)


@pytest.fixture(scope="module")
def gateway() -> Iterator[Settings]:
    with serve_in_thread(Starlette(routes=[Route("/internal/uploads/{handle}", upload)])) as url:
        yield load_settings(AGENTMESH_UPLOADS_URL=f"{url}/internal/uploads")


@pytest.fixture
def as_the_caller() -> Iterator[None]:
    """The request context a server's tool runs in: the call's verified mesh token."""
    token = AccessToken(token=TOKEN, client_id="agentmesh-host", scopes=["ocr_image"])
    reset = auth_context_var.set(AuthenticatedUser(token))
    yield
    auth_context_var.reset(reset)


async def codes(reader: UploadReader, reference: str, max_bytes: int) -> str:
    with pytest.raises(AgentmeshError) as refused:
        await reader.read(reference, max_bytes=max_bytes)
    return refused.value.code


async def test_a_reference_is_read_with_the_calls_token_within_the_servers_limit(
    gateway: Settings, as_the_caller: None
) -> None:
    reader = UploadReader(gateway)
    read = await reader.read(f"upload://{DECLARED}", max_bytes=5000)
    assert (len(read.data), read.filename, read.media_type) == (5000, "récu.jpg", "image/jpeg")
    assert len((await reader.read(f"upload://{STREAMED}", max_bytes=50_000)).data) == 50_000

    assert await codes(reader, f"upload://{DECLARED}", 4999) == "too_large"  # by its declared length
    assert await codes(reader, f"upload://{STREAMED}", 20_000) == "too_large"  # cut off as it streams
    assert await codes(reader, f"upload://{MISSING}", 5000) == "upload_not_found"
    assert await codes(reader, "upload://not-a-handle", 5000) == "invalid_arguments"
    await reader.aclose()


async def test_without_a_call_token_or_a_gateway_nothing_is_read(
    gateway: Settings, as_the_caller: None
) -> None:
    unreachable = UploadReader(load_settings(AGENTMESH_UPLOADS_URL="http://127.0.0.1:9/internal/uploads"))
    assert await codes(unreachable, f"upload://{DECLARED}", 5000) == "uploads_unavailable"
    await unreachable.aclose()

    reset = auth_context_var.set(None)  # stdio: no token, no gateway behind the server
    try:
        assert await codes(UploadReader(gateway), f"upload://{DECLARED}", 5000) == "uploads_unavailable"
    finally:
        auth_context_var.reset(reset)
