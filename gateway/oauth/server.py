"""The OAuth 2.1 protocol of the gateway's authorization server, on authlib.

authlib's `AuthorizationServer` does the protocol: the authorization code grant with PKCE
(`CodeChallenge`, S256 only, required of every client), refresh tokens (rotated on every use),
dynamic client registration (RFC 7591) and revocation (RFC 7009). This module gives it what a
framework integration gives it (requests built from Starlette's, responses as status, body and
headers) and what a deployment gives it: clients, codes and refresh tokens in `OAuthStore`,
clients named by a metadata document (`ClientDocuments`), and access tokens signed with the
deployment's key carrying the claims of every user token (`tenant_id`, `sub`, `roles`) with the
`/mcp` resource as their audience (RFC 8707).

authlib is synchronous. Each protocol step runs in a worker thread (`run`), and what it asks of
the database or the network is awaited back on the event loop (`anyio.from_thread.run`).
"""

from __future__ import annotations

import functools
import ipaddress
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.from_thread
import anyio.to_thread
import structlog
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidRequestError,
    JsonPayload,
    JsonRequest,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint, InvalidClientMetadataError
from authlib.oauth2.rfc7591.errors import InvalidRedirectURIError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings
from gateway.auth import canonical_resource
from gateway.oauth.client_documents import ClientDocumentError, ClientDocuments, is_document_client_id
from gateway.oauth.store import Grantee, IssuedCode, OAuthStore, RefreshGrant, RegisteredClient, new_secret

log = structlog.get_logger(__name__)

T = TypeVar("T")

SCOPES = {"mcp": "Use the tools, resources and prompts your tenant's policy allows you, as you"}
"""The scopes this server grants, and what each lets a client do."""
DEFAULT_SCOPE = "mcp"
AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"]
AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"
REGISTER_PATH = "/oauth/register"
REVOKE_PATH = "/oauth/revoke"
MAX_REDIRECT_URIS = 10
MAX_URI_LENGTH = 2048


def describable(text: str) -> str:
    """`text` in the characters an OAuth error description may hold (RFC 6749 §5.2)."""
    return "".join(char if 0x20 <= ord(char) <= 0x7E and char not in '"\\' else "?" for char in text)


class InvalidTargetError(OAuth2Error):
    """RFC 8707: the `resource` asked for is not one this server issues tokens for."""

    error = "invalid_target"


# -- requests, as authlib reads them ------------------------------------------------------------


class _Payload(OAuth2Payload):
    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class GatewayOAuth2Request(OAuth2Request):
    """An OAuth request (query and form parameters) with the resource this server issues for."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: dict[str, str],
        *,
        query: Sequence[tuple[str, str]],
        form: Sequence[tuple[str, str]] = (),
        resource: str,
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload([*query, *form])
        self.resource = resource

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _JsonPayload(JsonPayload):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        return self._data


class GatewayJsonRequest(JsonRequest):
    """A JSON request (client registration)."""

    def __init__(self, uri: str, headers: dict[str, str], data: dict[str, Any]) -> None:
        super().__init__("POST", uri, headers)
        self.payload = _JsonPayload(data)


@dataclass(frozen=True)
class Answer:
    """What the server answers: status, body (a JSON object, or empty) and headers."""

    status: int
    body: dict[str, Any] | str
    headers: list[tuple[str, str]]

    @property
    def location(self) -> str | None:
        return next((value for name, value in self.headers if name.lower() == "location"), None)


# -- the models authlib works with --------------------------------------------------------------


def _is_loopback_host(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def redirect_uri_problem(uri: str) -> str | None:
    """Why a redirect URI cannot be registered (OAuth 2.1 §2.3.1), or None: https, http on a
    loopback address (a native app's listener), or a private-use scheme (`cursor://...`)."""
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment:
        return f"{uri} is not an absolute URI without a fragment"
    if parts.scheme == "http" and not _is_loopback_host(parts.hostname):
        return f"{uri}: plain http is allowed only on a loopback address (localhost, 127.0.0.1, [::1])"
    if parts.scheme in ("javascript", "data", "file", "vbscript"):
        return f"{uri}: the {parts.scheme} scheme cannot be a redirect URI"
    return None


def _same_but_port(registered: str, requested: str) -> bool:
    """RFC 8252 §7.3: a loopback redirect URI matches whatever port the app listens on."""
    a, b = urlsplit(registered), urlsplit(requested)
    return (
        a.scheme == b.scheme == "http"
        and _is_loopback_host(a.hostname)
        and a.hostname == b.hostname
        and (a.path, a.query) == (b.path, b.query)
    )


class OAuthClient(ClientMixin):
    """A registered client, or one named by its metadata document, as authlib asks about it."""

    def __init__(
        self, client_id: str, metadata: dict[str, Any], registered: RegisteredClient | None = None
    ) -> None:
        self.client_id = client_id
        self.metadata = metadata
        self._registered = registered

    @property
    def name(self) -> str:
        name = self.metadata.get("client_name")
        return name if isinstance(name, str) and name.strip() else self.client_id

    @property
    def redirect_uris(self) -> list[str]:
        return [uri for uri in self.metadata.get("redirect_uris", []) if isinstance(uri, str)]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return DEFAULT_SCOPE
        return " ".join(item for item in scope_to_list(scope) if item in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return any(uri == redirect_uri or _same_but_port(uri, redirect_uri) for uri in self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        return self._registered is not None and self._registered.secret_matches(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return bool(method == self.metadata.get("token_endpoint_auth_method", "client_secret_basic"))

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.metadata.get("response_types", ["code"])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.metadata.get("grant_types", ["authorization_code"])


class _Code:
    """An authorization code being exchanged (already marked used in the store)."""

    def __init__(self, issued: IssuedCode) -> None:
        self.issued = issued
        self.code_challenge = issued.code_challenge
        self.code_challenge_method = issued.code_challenge_method
        self.family_id = issued.family_id

    def get_redirect_uri(self) -> str | None:
        return self.issued.redirect_uri or None

    def get_scope(self) -> str:
        return self.issued.scope


class _RefreshToken:
    """A refresh token being used (already rotated out in the store)."""

    def __init__(self, grant: RefreshGrant) -> None:
        self.grant = grant
        self.family_id = grant.family_id

    def check_client(self, client: OAuthClient) -> bool:
        return bool(client.client_id == self.grant.client_id)

    def get_scope(self) -> str:
        return self.grant.scope


class _RevocableToken:
    def __init__(self, value: str, client_id: str) -> None:
        self.value = value
        self.client_id = client_id

    def check_client(self, client: OAuthClient) -> bool:
        return bool(client.client_id == self.client_id)


# -- grants and endpoints -----------------------------------------------------------------------


def _check_resource(request: GatewayOAuth2Request, granted: str | None = None) -> None:
    """The `resource` a request names (RFC 8707) must be `/mcp`, and a grant's own when it has one."""
    asked = request.payload.datalist.get("resource", [])
    if len(asked) > 1:
        raise InvalidTargetError("one resource per request: this server issues tokens for /mcp only")
    if not asked:
        return
    if canonical_resource(asked[0]) != request.resource:
        raise InvalidTargetError(f"tokens are issued for {request.resource} only")
    if granted is not None and canonical_resource(asked[0]) != granted:
        raise InvalidTargetError("the resource differs from the one the grant was made for")


class S256CodeChallenge(CodeChallenge):
    """PKCE as OAuth 2.1 has it: every authorization request carries an S256 challenge."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: grants.AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)
        _check_resource(grant.request)

    def validate_code_verifier(self, grant: grants.AuthorizationCodeGrant, result: object) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    server: GatewayAuthorizationServer

    def save_authorization_code(self, code: str, request: GatewayOAuth2Request) -> None:
        grantee: Grantee = request.user
        issued = IssuedCode(
            grantee=grantee,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri or "",
            scope=request.scope,
            code_challenge=request.payload.data["code_challenge"],
            code_challenge_method=request.payload.data["code_challenge_method"],
            family_id=uuid.uuid4().hex,
        )
        self.server.wait(self.server.store.add_code, code, issued)

    def query_authorization_code(self, code: str, client: OAuthClient) -> _Code | None:
        issued = self.server.wait(self.server.store.use_code, code, client.client_id)
        return _Code(issued) if issued is not None else None

    def validate_token_request(self) -> None:
        super().validate_token_request()
        _check_resource(self.request, self.request.authorization_code.issued.grantee.resource)

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        """Nothing left to do: the code was marked used when it was read (`OAuthStore.use_code`)."""

    def authenticate_user(self, authorization_code: _Code) -> Grantee:
        return authorization_code.issued.grantee


class RotatingRefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: GatewayAuthorizationServer

    def authenticate_refresh_token(self, refresh_token: str) -> _RefreshToken | None:
        grant = self.server.wait(
            self.server.store.use_refresh_token, refresh_token, self.request.client.client_id
        )
        return _RefreshToken(grant) if grant is not None else None

    def validate_token_request(self) -> None:
        super().validate_token_request()
        _check_resource(self.request, self.request.refresh_token.grant.grantee.resource)

    def authenticate_user(self, refresh_token: _RefreshToken) -> Grantee:
        return refresh_token.grant.grantee

    def revoke_old_credential(self, refresh_token: _RefreshToken) -> None:
        """Nothing left to do: the token was revoked when it was used (`OAuthStore.use_refresh_token`)."""


class Registration(ClientRegistrationEndpoint):
    """Open dynamic client registration (RFC 7591), as MCP clients expect of an authorization server."""

    server: GatewayAuthorizationServer

    def authenticate_token(self, request: GatewayJsonRequest) -> bool:
        # Registration is open: a client gains nothing until a user signs in and approves it.
        return True

    def get_server_metadata(self) -> dict[str, Any]:
        return self.server.protocol_metadata()

    def generate_client_secret(self, request: GatewayJsonRequest) -> str | None:
        if request.payload.data.get("token_endpoint_auth_method") == "none":
            return None
        return new_secret()

    def generate_client_info(self, request: GatewayJsonRequest) -> dict[str, Any]:
        info: dict[str, Any] = super().generate_client_info(request)
        if info["client_secret"] is None:
            del info["client_secret"], info["client_secret_expires_at"]
        return info

    def save_client(
        self, client_info: dict[str, Any], client_metadata: dict[str, Any], request: GatewayJsonRequest
    ) -> RegisteredClient:
        uris = client_metadata.get("redirect_uris") or []
        if not uris:
            raise InvalidRedirectURIError("redirect_uris: the authorization code flow needs at least one")
        if len(uris) > MAX_REDIRECT_URIS or any(len(uri) > MAX_URI_LENGTH for uri in uris):
            raise InvalidRedirectURIError(
                f"redirect_uris: at most {MAX_REDIRECT_URIS}, each at most {MAX_URI_LENGTH} characters"
            )
        for uri in uris:
            problem = redirect_uri_problem(uri)
            if problem is not None:
                raise InvalidRedirectURIError(describable(problem))
        if "authorization_code" not in client_metadata.get("grant_types", ["authorization_code"]):
            raise InvalidClientMetadataError("grant_types: this server offers the authorization_code grant")
        return self.server.wait(
            self.server.store.add_client,
            client_info["client_id"],
            client_metadata,
            client_info.get("client_secret"),
        )


class Revocation(RevocationEndpoint):
    """RFC 7009 for refresh tokens: revoking one ends its grant. Access tokens are short-lived JWTs
    that nothing records, so revoking one is answered 200 as the RFC asks, and it runs out."""

    CLIENT_AUTH_METHODS = AUTH_METHODS
    server: GatewayAuthorizationServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> _RevocableToken | None:
        if token_type_hint == "access_token":
            return None
        client_id = self.server.wait(self.server.store.refresh_token_client, token_string)
        return _RevocableToken(token_string, client_id) if client_id is not None else None

    def revoke_token(self, token: _RevocableToken, request: GatewayOAuth2Request) -> None:
        self.server.wait(self.server.store.revoke_refresh_token, token.value)


# -- the server ---------------------------------------------------------------------------------


class GatewayAuthorizationServer(AuthorizationServer):
    """authlib's authorization server over the gateway's store, documents and signing key."""

    def __init__(self, settings: Settings, store: OAuthStore, documents: ClientDocuments) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.settings = settings
        self.store = store
        self.documents = documents
        self.register_grant(CodeGrant, [S256CodeChallenge(required=True)])
        self.register_grant(RotatingRefreshGrant)
        self.register_endpoint(Registration)
        self.register_endpoint(Revocation)
        self.register_token_generator("default", self._generate_token)

    # Each protocol step runs in a worker thread; `wait` runs a coroutine back on the event loop.
    @staticmethod
    def wait(function: Callable[..., Any], *args: Any) -> Any:
        return anyio.from_thread.run(function, *args)

    async def run(self, step: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(step, *args)

    # -- what a framework integration provides -----------------------------------------------

    def create_oauth2_request(self, request: GatewayOAuth2Request) -> GatewayOAuth2Request:
        return request

    def create_json_request(self, request: GatewayJsonRequest) -> GatewayJsonRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Answer:
        return Answer(status, body, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        if name == "after_revoke_token":
            log.info("oauth_token_revoked", client_id=kwargs["client"].client_id)

    def error_answer(self, request: GatewayOAuth2Request, error: OAuth2Error) -> Answer:
        answer: Answer = self.handle_error_response(request, error)
        return answer

    # -- what the deployment provides --------------------------------------------------------

    def query_client(self, client_id: str) -> OAuthClient | None:
        if is_document_client_id(client_id):
            try:
                metadata = self.wait(self.documents.metadata, client_id)
            except ClientDocumentError as exc:
                raise InvalidClientError(description=describable(str(exc))) from exc
            return OAuthClient(client_id, metadata)
        registered: RegisteredClient | None = self.wait(self.store.client, client_id)
        if registered is None:
            return None
        return OAuthClient(registered.client_id, registered.client_metadata, registered)

    def save_token(self, token: dict[str, Any], request: GatewayOAuth2Request) -> None:
        refresh_token = token.get("refresh_token")
        if not refresh_token:
            return
        origin = request.refresh_token if request.refresh_token is not None else request.authorization_code
        self.wait(
            functools.partial(
                self.store.add_refresh_token,
                refresh_token,
                grantee=request.user,
                client_id=request.client.client_id,
                scope=token["scope"],
                family_id=origin.family_id,
                lifetime=timedelta(days=self.settings.oauth_refresh_token_days),
            )
        )

    def _generate_token(
        self,
        grant_type: str,
        client: OAuthClient,
        user: Grantee,
        scope: str,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        lifetime = self.settings.oauth_access_token_seconds
        access_token = issue_dev_token(
            self.settings,
            tenant_id=user.tenant_id,
            user=user.subject,
            roles=list(user.roles),
            ttl_seconds=lifetime,
            extra_claims={"aud": user.resource, "scope": scope, "client_id": client.client_id},
        )
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": access_token,
            "expires_in": lifetime,
            "scope": scope,
        }
        if include_refresh_token:
            token["refresh_token"] = new_secret()
        return token

    # -- metadata ------------------------------------------------------------------------------

    def protocol_metadata(self) -> dict[str, Any]:
        """What the server supports, wherever it is reached (registration checks clients against it)."""
        return {
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "code_challenge_methods_supported": ["S256"],
        }

    def metadata(self, issuer: str) -> AuthorizationServerMetadata:
        """RFC 8414 metadata of the server at `issuer` (the gateway's base URL)."""
        return AuthorizationServerMetadata(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}{AUTHORIZE_PATH}",
                "token_endpoint": f"{issuer}{TOKEN_PATH}",
                "registration_endpoint": f"{issuer}{REGISTER_PATH}",
                "revocation_endpoint": f"{issuer}{REVOKE_PATH}",
                **self.protocol_metadata(),
                "client_id_metadata_document_supported": True,
                "ui_locales_supported": ["en", "vi"],
            }
        )
