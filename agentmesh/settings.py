"""One typed settings object, read once at start and passed down.

Every value has an embedded default, so a fresh machine runs with no configuration at all:
SQLite, Qdrant on disk and in-process limits, all under the data directory. Setting a URL
moves a concern to a real backend without changing the code path.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agentmesh.uploads import INTERNAL_UPLOADS_PATH


def default_data_dir() -> Path:
    """The per-user data directory (`~/.local/share/agentmesh` on Linux, the platform's
    equivalent elsewhere; `$XDG_DATA_HOME` is honoured). Never the working directory: a desktop
    assistant starts servers in a directory that is often read-only, and two shells in two
    folders would otherwise see two different meshes."""
    return Path(platformdirs.user_data_dir("agentmesh", appauthor=False))


class Settings(BaseSettings):
    """Platform configuration. Environment variables win over the defaults below."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default_factory=default_data_dir, alias="AGENTMESH_DATA_DIR")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    qdrant_url: str | None = Field(default=None, alias="QDRANT_URL")
    # Without QDRANT_URL: Qdrant local mode (pure Python) or Qdrant Edge (the Rust engine in process).
    rag_engine: Literal["auto", "local", "edge"] = Field(
        default="auto",
        alias="AGENTMESH_RAG_ENGINE",
        description=(
            "the embedded RAG engine without QDRANT_URL: edge (Qdrant Edge, in process), local "
            "(qdrant-client's local mode), or auto: edge, unless the data directory already holds "
            "a local-mode index (an earlier default), which is then kept"
        ),
    )

    # End-user tokens accepted by the gateway.
    jwt_issuer: str = Field(default="agentmesh-dev", alias="AGENTMESH_JWT_ISSUER")
    jwt_audience: str = Field(default="agentmesh", alias="AGENTMESH_JWT_AUDIENCE")
    jwt_public_key_file: Path | None = Field(default=None, alias="AGENTMESH_JWT_PUBLIC_KEY_FILE")
    jwt_jwks_url: str | None = Field(default=None, alias="AGENTMESH_JWT_JWKS_URL")
    jwt_leeway_seconds: int = Field(default=30, alias="AGENTMESH_JWT_LEEWAY")

    # Mesh tokens minted by the host for one server and one call.
    mesh_issuer: str = Field(default="agentmesh-host", alias="AGENTMESH_MESH_ISSUER")
    mesh_jwks_url: str | None = Field(default=None, alias="AGENTMESH_MESH_JWKS_URL")
    mesh_token_ttl_seconds: int = Field(default=60, ge=5, le=60, alias="AGENTMESH_MESH_TOKEN_TTL")

    # Gateway limits (in-process unless REDIS_URL is set).
    rate_limit_requests_per_minute: int = Field(default=100, ge=1, alias="AGENTMESH_RATE_LIMIT_RPM")
    session_window_messages: int = Field(default=10, ge=2, alias="AGENTMESH_SESSION_WINDOW")
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, alias="AGENTMESH_MAX_BODY_BYTES")
    # Defaults under the tenant policy's `limits` (which win when set), and per-user limits.
    rate_limit_tokens_per_minute: int = Field(default=200_000, ge=1, alias="AGENTMESH_RATE_LIMIT_TPM")
    max_concurrent_turns: int = Field(default=50, ge=1, alias="AGENTMESH_MAX_CONCURRENT_TURNS")
    user_requests_per_minute: int = Field(default=60, ge=1, alias="AGENTMESH_USER_RATE_LIMIT_RPM")
    user_tokens_per_minute: int = Field(default=100_000, ge=1, alias="AGENTMESH_USER_RATE_LIMIT_TPM")
    # A turn slot held longer than this is presumed lost with its replica and is reclaimed.
    turn_lease_seconds: int = Field(default=600, ge=10, alias="AGENTMESH_TURN_LEASE_SECONDS")
    session_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60, alias="AGENTMESH_SESSION_TTL")
    redis_key_prefix: str = Field(default="agentmesh", min_length=1, alias="AGENTMESH_REDIS_PREFIX")
    jwks_cache_seconds: int = Field(default=600, ge=1, alias="AGENTMESH_JWKS_CACHE_SECONDS")
    # An unknown `kid` refetches the JWKS at most once per this interval (stops key-id floods).
    jwks_min_refetch_seconds: float = Field(default=30.0, ge=0, alias="AGENTMESH_JWKS_MIN_REFETCH_SECONDS")

    # Jobs and events: NATS JetStream when set, else a durable queue in the platform database.
    nats_url: str | None = Field(default=None, alias="AGENTMESH_NATS_URL")
    # The first token of every subject and the stem of the stream names (one mesh's namespace).
    bus_prefix: str = Field(
        default="agentmesh", pattern=r"^[a-z][a-z0-9_]{0,31}$", alias="AGENTMESH_BUS_PREFIX"
    )
    # A delivery not acknowledged within this long is given to another consumer (a worker that
    # died); a live worker extends it while it works.
    bus_ack_wait_seconds: float = Field(default=30.0, ge=1, alias="AGENTMESH_BUS_ACK_WAIT")
    # Deliveries of one message before it goes to the dead-letter stream with its reason.
    bus_max_attempts: int = Field(default=5, ge=1, le=100, alias="AGENTMESH_BUS_MAX_ATTEMPTS")
    bus_retry_base_seconds: float = Field(default=2.0, ge=0, alias="AGENTMESH_BUS_RETRY_BASE")
    # Webhooks: attempts per delivery before it is dead, the first retry's delay (doubling after),
    # and how long one attempt may take.
    webhook_max_attempts: int = Field(default=8, ge=1, le=30, alias="AGENTMESH_WEBHOOK_MAX_ATTEMPTS")
    webhook_retry_base_seconds: float = Field(default=5.0, ge=0, alias="AGENTMESH_WEBHOOK_RETRY_BASE")
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, alias="AGENTMESH_WEBHOOK_TIMEOUT")

    gateway_url: str = Field(default="http://127.0.0.1:8000", alias="AGENTMESH_URL")
    # When set, `/metrics` (labelled by tenant) answers only to this bearer token.
    metrics_token: str | None = Field(default=None, min_length=16, alias="AGENTMESH_METRICS_TOKEN")

    # Non-public destinations the platform may call for tenants (ERP tool URLs, search provider and
    # LLM base URLs, registered MCP servers): comma-separated host globs, IPs or CIDR ranges, each
    # with an optional port (`searx.internal:8080,10.20.0.0/16`). The platform's own configured
    # endpoints (the ERP API, its MCP servers, OPENAI_BASE_URL) need no entry. Empty: public only.
    outbound_allow: Annotated[tuple[str, ...], NoDecode] = Field(default=(), alias="AGENTMESH_OUTBOUND_ALLOW")
    # The MCP servers without which the gateway is not ready: /readyz answers 503 while one of
    # them is disconnected (comma separated names; the others only make /healthz `degraded`).
    required_servers: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="AGENTMESH_REQUIRED_SERVERS"
    )

    # Where the tool servers live; `agentmesh up` fills these for the children it starts.
    erp_url: str | None = Field(default=None, alias="AGENTMESH_ERP_URL")
    rag_url: str | None = Field(default=None, alias="AGENTMESH_RAG_URL")
    ocr_url: str | None = Field(default=None, alias="AGENTMESH_OCR_URL")
    search_url: str | None = Field(default=None, alias="AGENTMESH_SEARCH_URL")
    erp_api_url: str | None = Field(default=None, alias="AGENTMESH_ERP_API_URL")
    # The audience of the identity tokens ERP tools with auth mode `user` send to that API (the
    # demo ERP API expects this value too).
    erp_api_audience: str = Field(
        default="agentmesh-erp-api",
        min_length=1,
        pattern=r"^\S+$",
        alias="AGENTMESH_ERP_API_AUDIENCE",
    )

    # Origins (`https://crm.example.com`) that trust the same identity provider as the gateway: the
    # only upstreams an ERP tool in auth mode `forward` may send the user's own token to.
    forward_user_token_to: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="AGENTMESH_FORWARD_USER_TOKEN_TO"
    )

    # Files the OCR server may read by path (base64 input is always accepted).
    ocr_allowed_dir: Path | None = Field(default=None, alias="AGENTMESH_OCR_ALLOWED_DIR")
    # OCR engine when a call names none, Tesseract languages, and caps on what one call may read.
    ocr_engine: Literal["auto", "rapidocr", "tesseract"] = Field(default="auto", alias="AGENTMESH_OCR_ENGINE")
    ocr_tesseract_languages: str = Field(default="eng+vie", alias="AGENTMESH_OCR_TESSERACT_LANGUAGES")
    ocr_max_input_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, alias="AGENTMESH_OCR_MAX_BYTES")
    ocr_max_pixels: int = Field(default=40_000_000, ge=10_000, alias="AGENTMESH_OCR_MAX_PIXELS")
    ocr_max_pages: int = Field(default=20, ge=1, alias="AGENTMESH_OCR_MAX_PAGES")

    # Web search server: per-tenant network rules and providers (YAML files), and fetch caps.
    search_network_rules_file: Path | None = Field(default=None, alias="AGENTMESH_SEARCH_NETWORK_RULES_FILE")
    search_providers_file: Path | None = Field(default=None, alias="AGENTMESH_SEARCH_PROVIDERS_FILE")
    search_fetch_max_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, alias="AGENTMESH_SEARCH_FETCH_MAX_BYTES"
    )
    search_fetch_timeout_seconds: float = Field(default=15.0, gt=0, alias="AGENTMESH_SEARCH_FETCH_TIMEOUT")
    search_fetch_max_redirects: int = Field(
        default=5, ge=0, le=20, alias="AGENTMESH_SEARCH_FETCH_MAX_REDIRECTS"
    )

    # RAG server: the largest document one call may send, the size from which ingestion runs as a
    # job polled with ingest_status, and whether the demo knowledge base is seeded on start.
    rag_max_upload_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1024, alias="AGENTMESH_RAG_MAX_UPLOAD_BYTES"
    )
    rag_job_threshold_bytes: int = Field(default=64 * 1024, ge=0, alias="AGENTMESH_RAG_JOB_THRESHOLD_BYTES")
    rag_demo_kb: bool = Field(default=True, alias="AGENTMESH_RAG_DEMO_KB")

    # Uploads: files handed to tools by reference (`upload://<handle>`). The gateway keeps them per
    # tenant in the platform database (so every replica has them) and serves them to the MCP
    # servers at `uploads_url` (default: the gateway's own `/internal/uploads`).
    upload_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024, alias="AGENTMESH_UPLOAD_MAX_BYTES")
    upload_tenant_quota_bytes: int = Field(
        default=1024 * 1024 * 1024, ge=1024, alias="AGENTMESH_UPLOAD_TENANT_QUOTA_BYTES"
    )
    upload_retention_days: float = Field(default=7.0, gt=0, alias="AGENTMESH_UPLOAD_RETENTION_DAYS")
    uploads_url: str | None = Field(default=None, alias="AGENTMESH_UPLOADS_URL")

    secret_key: str | None = Field(default=None, alias="AGENTMESH_SECRET_KEY")

    # Web console (`gateway/console`): how people sign in. With the development key pair (no JWKS
    # URL and no public key file) a demo user can be picked on the sign-in page: `auto` allows it
    # for browsers on this machine only, `on` for any client, `off` never. With an OpenID Connect
    # provider configured, people sign in there (authorization code + PKCE); its access tokens must
    # be JWTs the gateway accepts (`AGENTMESH_JWT_JWKS_URL`, issuer, audience, `tenant_id`, `roles`).
    console_dev_signin: Literal["auto", "on", "off"] = Field(
        default="auto", alias="AGENTMESH_CONSOLE_DEV_SIGNIN"
    )
    console_session_seconds: int = Field(
        default=8 * 3600, ge=60, le=30 * 24 * 3600, alias="AGENTMESH_CONSOLE_SESSION_SECONDS"
    )
    console_token_seconds: int = Field(default=300, ge=30, le=3600, alias="AGENTMESH_CONSOLE_TOKEN_SECONDS")
    oidc_issuer: str | None = Field(default=None, alias="AGENTMESH_OIDC_ISSUER")
    oidc_client_id: str | None = Field(default=None, alias="AGENTMESH_OIDC_CLIENT_ID")
    oidc_client_secret: SecretStr | None = Field(default=None, alias="AGENTMESH_OIDC_CLIENT_SECRET")
    oidc_redirect_url: str | None = Field(default=None, alias="AGENTMESH_OIDC_REDIRECT_URL")
    oidc_scopes: str = Field(default="openid profile email", alias="AGENTMESH_OIDC_SCOPES")

    # The gateway's own OAuth 2.1 authorization server for `/mcp` (`gateway/oauth`), offered with the
    # development key pair and a bare-name issuer: MCP clients register, the user signs in and
    # consents, and the client gets access tokens bound to `/mcp` plus rotating refresh tokens.
    oauth_access_token_seconds: int = Field(
        default=900, ge=60, le=24 * 3600, alias="AGENTMESH_OAUTH_ACCESS_TOKEN_SECONDS"
    )
    oauth_refresh_token_days: float = Field(
        default=30.0, gt=0, le=365, alias="AGENTMESH_OAUTH_REFRESH_TOKEN_DAYS"
    )

    # Agent host: remote model providers. A tenant's stored LLM configuration wins; these keys are
    # the platform's fallback. Retries (429/5xx, with backoff) and timeouts apply to every provider.
    anthropic_api_key: SecretStr | None = Field(default=None, alias="ANTHROPIC_API_KEY")
    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    gemini_api_key: SecretStr | None = Field(default=None, alias="GEMINI_API_KEY")
    llm_timeout_seconds: float = Field(default=60.0, gt=0, alias="AGENTMESH_LLM_TIMEOUT")
    llm_max_retries: int = Field(default=3, ge=0, le=10, alias="AGENTMESH_LLM_MAX_RETRIES")
    llm_retry_base_seconds: float = Field(default=0.5, ge=0, alias="AGENTMESH_LLM_RETRY_BASE")
    llm_prices_file: Path | None = Field(default=None, alias="AGENTMESH_LLM_PRICES_FILE")

    # Agent host: tool calls, the tool catalog, the per-server circuit breaker, episode recording.
    host_call_timeout_seconds: float = Field(default=30.0, gt=0, alias="AGENTMESH_TOOL_CALL_TIMEOUT")
    host_max_result_chars: int = Field(default=20_000, ge=256, alias="AGENTMESH_TOOL_RESULT_MAX_CHARS")
    host_catalog_ttl_seconds: float = Field(default=300.0, gt=0, alias="AGENTMESH_CATALOG_TTL")
    host_llm_tool_limit: int = Field(default=5, ge=1, alias="AGENTMESH_LLM_TOOL_LIMIT")
    host_breaker_failures: int = Field(default=5, ge=1, alias="AGENTMESH_BREAKER_FAILURES")
    host_breaker_reset_seconds: float = Field(default=15.0, gt=0, alias="AGENTMESH_BREAKER_RESET")
    host_record_episodes: bool = Field(default=False, alias="AGENTMESH_RECORD_EPISODES")

    # The Host names and browser Origins `/mcp` answers (DNS rebinding protection), comma-separated;
    # `*` accepts any. The defaults serve a gateway on this machine.
    allowed_hosts: str = Field(default="localhost:*,127.0.0.1:*,[::1]:*", alias="AGENTMESH_ALLOWED_HOSTS")
    allowed_origins: str = Field(
        default="http://localhost:*,http://127.0.0.1:*,http://[::1]:*", alias="AGENTMESH_ALLOWED_ORIGINS"
    )

    log_level: str = Field(default="INFO", alias="AGENTMESH_LOG_LEVEL")
    log_json: bool = Field(default=True, alias="AGENTMESH_LOG_JSON")
    # Identifiers masked in logs (and by `agentmesh.redaction.platform_redactor` wherever it is used)
    # besides the built-in personal data categories: a JSON object of name -> regular expression.
    redact_identifiers: dict[str, str] = Field(default_factory=dict, alias="AGENTMESH_REDACT_IDENTIFIERS")
    otlp_endpoint: str | None = Field(default=None, alias="OTEL_EXPORTER_OTLP_ENDPOINT")

    @field_validator("erp_api_audience")
    @classmethod
    def _not_a_server_audience(cls, value: str) -> str:
        if value.startswith("mcp:"):
            raise ValueError("'mcp:' audiences belong to MCP servers, not to the ERP API")
        return value

    @field_validator("outbound_allow", "required_servers", "forward_user_token_to", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(entry.strip() for entry in value.split(",") if entry.strip())
        return value

    @cached_property
    def resolved_data_dir(self) -> Path:
        """The data directory as an absolute path, created on first use."""
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def resolved_database_url(self) -> str:
        """`DATABASE_URL`, or SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.resolved_data_dir / 'agentmesh.db'}"

    @property
    def embedded_database(self) -> bool:
        """Whether the database is the embedded SQLite default (no `DATABASE_URL`): this machine's
        own, which a process that needs its tables may migrate (`agentmesh.db.require_schema`)."""
        return not self.database_url

    @property
    def resolved_uploads_url(self) -> str:
        """Where MCP servers fetch upload bytes: `AGENTMESH_UPLOADS_URL`, else the gateway's own."""
        return (self.uploads_url or f"{self.gateway_url.rstrip('/')}{INTERNAL_UPLOADS_PATH}").rstrip("/")

    @property
    def keys_dir(self) -> Path:
        path = self.resolved_data_dir / "keys"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def server_urls(self) -> dict[str, str]:
        """The configured MCP server URLs by server name."""
        urls = {"erp": self.erp_url, "rag": self.rag_url, "ocr": self.ocr_url, "search": self.search_url}
        return {name: url for name, url in urls.items() if url}


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, with explicit overrides (used by the CLI and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
