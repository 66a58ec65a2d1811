"""An ERP tool is a configuration, not code: one HTTP call described by a validated model.

Configurations come from YAML in the repository (`demo_tools.yaml`) and from the platform
database (`tool_store`). Everything a tool needs is here: the HTTP method and URL template, its
input and output JSON Schemas, how it authenticates, its time limit, how its result is shown,
and whether it only reads or also changes the ERP.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator, SchemaError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mcp_servers.common.results import OutputFormat

TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""Valid MCP tool names as this platform accepts them."""

DEMO_TOOLS_FILE = Path(__file__).with_name("demo_tools.yaml")

# Secrets belong in an encrypted service credential, never in a plaintext static header.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"})
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")

AuthMode = Literal["none", "service", "user", "forward"]


class ToolAuth(BaseModel):
    """How the call authenticates to the ERP.

    - `none`: no credential is sent.
    - `service`: the tenant's service credential named `credential` (stored encrypted) is sent in
      `header`, prefixed by `scheme` when given (e.g. `Bearer`).
    - `user`: the calling user, as a signed identity token (`Authorization: Bearer`, 60 seconds,
      mesh key; see `mcp_servers.erp.identity`) for the upstream `audience`: by default the
      origin of an absolute URL, or `AGENTMESH_ERP_API_AUDIENCE` for a URL relative to the ERP API.
    - `forward`: the user's own bearer token, as the gateway received it (`Authorization: Bearer`),
      for an upstream that trusts the same identity provider; only to origins the operator lists
      (`mcp_servers.erp.forwarding`).
    """

    model_config = ConfigDict(extra="forbid")

    mode: AuthMode = "none"
    credential: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    header: str = Field(default="X-API-Key", pattern=_HEADER_NAME.pattern)
    scheme: str | None = Field(default=None, pattern=r"^[A-Za-z]{1,20}$")
    audience: str | None = Field(
        default=None,
        max_length=300,
        pattern=r"^\S+$",
        description="who the identity token is for (mode user); never an 'mcp:' server audience",
    )

    @model_validator(mode="after")
    def _credential_only_for_service(self) -> ToolAuth:
        if self.mode == "service" and not self.credential:
            raise ValueError("auth mode 'service' needs the name of a service credential in 'credential'")
        if self.mode != "service" and self.credential:
            raise ValueError(f"auth mode '{self.mode}' sends no service credential; remove 'credential'")
        if self.mode != "user" and self.audience:
            raise ValueError(f"auth mode '{self.mode}' sends no identity token; remove 'audience'")
        if self.audience and self.audience.startswith("mcp:"):
            raise ValueError("'mcp:' audiences belong to the platform's MCP servers, not to an upstream")
        return self

    @property
    def sent_header(self) -> str | None:
        """The header this mode sets on every request, if any."""
        if self.mode == "service":
            return self.header
        return "Authorization" if self.mode in ("user", "forward") else None


class RendererHints(BaseModel):
    """How a client is advised to show the result."""

    model_config = ConfigDict(extra="forbid")

    fields: list[str] = Field(default_factory=list, description="fields to show, in order")
    sortable: list[str] = Field(default_factory=list)
    filterable: list[str] = Field(default_factory=list)
    priority: int = Field(default=0, ge=0, le=100)
    rows: str | None = Field(
        default=None, description="dotted path of the list a table or chart is built from"
    )


def _check_template(summary: str | None) -> str | None:
    if summary is not None:
        try:
            list(string.Formatter().parse(summary))
        except ValueError as exc:
            raise ValueError(f"summary is not a valid template: {exc}") from exc
    return summary


class OutputTranslation(BaseModel):
    """The tool's wording in another language, for a host answering a reader of it.

    `summary` is a template like the tool's own; there `{outstanding:money}` is an amount in the
    result's currency, written the reader's way (`318.780.000 ₫`). `labels` name fields and
    arguments; `values` word coded values (`unpaid`).
    """

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200, description="the action, as a clause")
    summary: str | None = Field(default=None, max_length=2000)
    labels: dict[str, str] = Field(default_factory=dict, max_length=100)
    values: dict[str, str] = Field(default_factory=dict, max_length=100)

    _summary_is_a_template = field_validator("summary")(_check_template)


class ToolOutput(BaseModel):
    """The result's format, its readable summary template and renderer hints.

    `summary` is a template over the ERP's JSON answer: `{customer.name}` inserts a nested
    field and `{outstanding:,}` a number with thousands separators. `translations` word the
    answer for readers of other languages (`vi`).
    """

    model_config = ConfigDict(extra="forbid")

    format: OutputFormat = "structured_json"
    summary: str | None = Field(default=None, max_length=2000)
    hints: RendererHints = Field(default_factory=RendererHints)
    translations: dict[Literal["vi"], OutputTranslation] = Field(default_factory=dict)

    _summary_is_a_template = field_validator("summary")(_check_template)

    @model_validator(mode="after")
    def _format_has_what_it_needs(self) -> ToolOutput:
        if self.format == "summary_text" and not self.summary:
            raise ValueError("output format 'summary_text' needs a 'summary' template")
        if self.format in ("markdown_table", "chart_data") and not self.hints.rows:
            raise ValueError(f"output format '{self.format}' needs 'hints.rows' (the list to tabulate)")
        return self


def _check_schema(schema: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"{what} is not a valid JSON Schema: {exc.message}") from exc
    if schema.get("type") != "object":
        raise ValueError(f"{what} must describe an object (`type: object`)")
    return schema


def url_placeholders(template: str) -> list[str]:
    """Argument names that a URL template substitutes, in order."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


class HttpToolConfig(BaseModel):
    """One configured ERP tool: an HTTP call with validated inputs and a declared output."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=TOOL_NAME_PATTERN, description="MCP tool name: [A-Za-z0-9_-], at most 64 characters"
    )
    title: str | None = Field(default=None, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    method: Literal["GET", "POST"]
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="a path under the tenant's ERP base URL (`/customers/{mst}/debt`) or an http(s) URL",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="static, non-secret request headers")
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    auth: ToolAuth = Field(default_factory=ToolAuth)
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    output: ToolOutput = Field(default_factory=ToolOutput)
    destructive: bool = Field(default=False, description="changes data in the ERP (never retried)")
    max_retries: int | None = Field(
        default=None,
        ge=0,
        le=3,
        description="extra attempts on a 5xx or unreachable ERP; read-only tools only",
    )

    @field_validator("input_schema")
    @classmethod
    def _input_schema_valid(cls, schema: dict[str, Any]) -> dict[str, Any]:
        return _check_schema(schema, "input_schema")

    @field_validator("output_schema")
    @classmethod
    def _output_schema_valid(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if schema is None else _check_schema(schema, "output_schema")

    @field_validator("headers")
    @classmethod
    def _headers_not_secret(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            if name.lower() in _SECRET_HEADERS:
                raise ValueError(
                    f"header {name!r} carries a secret: use auth mode 'service' with a credential"
                )
            if "\n" in value or "\r" in value:
                raise ValueError(f"header {name!r} has a line break in its value")
        return headers

    @field_validator("url")
    @classmethod
    def _url_is_a_template(cls, url: str) -> str:
        try:
            names = url_placeholders(url)
        except ValueError as exc:
            raise ValueError(f"url is not a valid template: {exc}") from exc
        for name in names:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"url placeholder {{{name}}} must be a plain argument name")
        if not url.startswith("/"):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(
                    "url must start with '/' (relative to the ERP base URL) or be an http(s) URL"
                )
        if "{" in urlsplit(url).netloc:
            raise ValueError("url placeholders may only appear in the path")
        return url

    @model_validator(mode="after")
    def _consistent(self) -> HttpToolConfig:
        properties = self.input_schema.get("properties", {})
        required = set(self.input_schema.get("required", []))
        for name in url_placeholders(self.url):
            if name not in properties or name not in required:
                raise ValueError(f"url placeholder {{{name}}} must be a required property of input_schema")
        if self.destructive and self.max_retries:
            raise ValueError("a destructive tool is never retried: remove max_retries")
        sent = self.auth.sent_header
        if sent is not None and sent.lower() in {h.lower() for h in self.headers}:
            raise ValueError(f"header {sent!r} is set by auth; remove it from headers")
        return self

    @property
    def read_only(self) -> bool:
        return not self.destructive

    @property
    def retries(self) -> int:
        """Extra attempts after a retryable failure: none for a destructive tool, one by default."""
        if self.destructive:
            return 0
        return 1 if self.max_retries is None else self.max_retries

    @property
    def path_parameters(self) -> list[str]:
        return url_placeholders(self.url)

    @property
    def absolute_origin(self) -> str | None:
        """`scheme://host[:port]` of an absolute URL; None for a URL relative to the ERP base URL."""
        if self.url.startswith("/"):
            return None
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


class ToolConfigFileError(ValueError):
    """A YAML tool file that cannot be loaded; the message names the file and the tool."""


def load_tool_file(path: Path) -> list[HttpToolConfig]:
    """The tool configurations in a YAML file (a top-level `tools:` list)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ToolConfigFileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("tools"), list):
        raise ToolConfigFileError(f"{path}: expected a mapping with a 'tools' list")
    configs: list[HttpToolConfig] = []
    seen: set[str] = set()
    for index, raw in enumerate(document["tools"]):
        label = raw.get("name", f"#{index}") if isinstance(raw, dict) else f"#{index}"
        try:
            config = HttpToolConfig.model_validate(raw)
        except ValidationError as exc:
            raise ToolConfigFileError(f"{path}: tool {label}: {exc}") from exc
        if config.name in seen:
            raise ToolConfigFileError(f"{path}: tool {config.name} is defined twice")
        seen.add(config.name)
        configs.append(config)
    return configs


def builtin_tools() -> list[HttpToolConfig]:
    """The tools configured in the repository."""
    return load_tool_file(DEMO_TOOLS_FILE)
