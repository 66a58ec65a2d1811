"""`agentmesh token --server`: a development token that one server run alone over HTTP accepts, for
the tools it names, and that every other server refuses."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from agentmesh.cli import main
from agentmesh.keys import MESH_JWKS_FILE
from agentmesh.mesh_tokens import MeshJwks, MeshTokenError, verify_server_token
from agentmesh.settings import load_settings
from mcp_servers.common.auth import accepted_lifetime
from tests.support.mcp import http_client
from tests.support.processes import running_server


def cli_token(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["token", *argv]) == 0
    return capsys.readouterr().out.strip()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    """The OCR and search servers over HTTP on one data directory, as `agentmesh serve` runs them."""
    data_dir = tmp_path_factory.mktemp("server-token")
    with contextlib.ExitStack() as stack:
        ocr = stack.enter_context(running_server("ocr", data_dir))
        search = stack.enter_context(running_server("search", data_dir))
        yield data_dir, ocr, search


def test_a_server_token_names_its_server_tenant_user_and_tools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = cli_token(
        capsys, "--server", "erp", "--tenant", "acme", "--user", "ada", "--role", "admin",
        "--tool", "get_customer_debt", "--tool", "create_order", "--ttl", "7200", "--data-dir", str(tmp_path),
    )  # fmt: skip
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == "mcp:erp"
    assert (claims["tenant_id"], claims["sub"], claims["roles"]) == ("acme", "ada", ["tenant_admin"])
    assert claims["scope"] == "create_order get_customer_debt"
    assert claims["exp"] - claims["iat"] == 7200


async def test_the_server_it_names_accepts_it_for_the_tools_it_grants(
    servers: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, ocr, _ = servers
    token = cli_token(
        capsys, "--server", "ocr", "--tenant", "acme", "--tool", "ocr_image", "--data-dir", str(data_dir)
    )
    async with http_client(ocr, token) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        granted = await client.call_tool("ocr_image", {"image": "not base64 at all!"})
        other = await client.call_tool("ocr_document", {"document": "not base64 at all!"})
    assert tools == {"ocr_image"}, "the server lists only the tools the token grants"
    # The granted call reached the OCR domain, which refused the input itself.
    assert granted.is_error and "not granted" not in granted.content[0].text  # type: ignore[union-attr]
    assert other.is_error
    refusal = (
        "tool 'ocr_document' is not granted by this request's token (tenant 'acme'): "
        "a mesh token lists the tools it may call"
    )
    assert other.content[0].text == refusal  # type: ignore[union-attr]


def test_another_server_refuses_it(
    servers: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, _, search = servers
    token = cli_token(
        capsys, "--server", "ocr", "--tenant", "acme", "--tool", "search", "--data-dir", str(data_dir)
    )
    response = httpx.post(
        search,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
    )
    assert response.status_code == 401


def test_a_deployed_server_takes_the_hosts_60_second_tokens_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = cli_token(capsys, "--server", "rag", "--tenant", "acme", "--data-dir", str(tmp_path))
    jwks = MeshJwks(file=tmp_path / "keys" / MESH_JWKS_FILE)
    local = load_settings(AGENTMESH_DATA_DIR=tmp_path)
    deployed = load_settings(AGENTMESH_DATA_DIR=tmp_path, AGENTMESH_MESH_JWKS_URL="http://gateway/jwks")
    claims = verify_server_token(
        token,
        jwks=jwks,
        issuer=local.mesh_issuer,
        server="rag",
        max_lifetime_seconds=accepted_lifetime(local),
    )
    assert claims.tenant_id == "acme"
    with pytest.raises(MeshTokenError, match="token lifetime exceeds 60 seconds"):
        verify_server_token(
            token,
            jwks=jwks,
            issuer=deployed.mesh_issuer,
            server="rag",
            max_lifetime_seconds=accepted_lifetime(deployed),
        )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tenant", "acme", "--tool", "search"], "agentmesh token: --tool needs --server\n"),
        (
            ["--server", "rag", "--tenant", "acme", "--ttl", "90000"],
            "agentmesh token: --ttl for a server token is 1 to 86400 s\n",
        ),
    ],
    ids=["tool-without-server", "ttl-over-a-day"],
)
def test_a_token_that_cannot_be_minted_is_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", *argv, "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == message


def test_without_tools_it_may_list_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--server", "rag", "--tenant", "acme", "--data-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.count(".") == 2
    assert "this token grants no tool" in captured.err
