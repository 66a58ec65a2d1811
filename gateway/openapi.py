"""The gateway's HTTP API described once, as `Operation`s, and rendered as OpenAPI 3.1.

An `Operation` is both the documentation of an endpoint and the means to serve it: its path and
the schemas of its path parameters (checked before the endpoint runs), the pydantic model its
body is read into, the model of its query string, the model it replies with, and the endpoint
itself (`bind`). Each route module exports its bound `operations`; the application serves exactly
those and renders `/openapi.json` from the same list, so the served API and its document cannot
drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic, Literal

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from pydantic_core import to_jsonable_python
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from typing_extensions import TypeVar

from gateway.bodies import read_model
from gateway.errors import ApiError, validation_details

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
BodyT = TypeVar("BodyT", bound=BaseModel, default=BaseModel)
QueryT = TypeVar("QueryT", bound=BaseModel, default=BaseModel)

OPENAPI_VERSION = "3.1.0"
SCHEMA_REF = "#/components/schemas/{model}"
BEARER_SCHEME = "bearer"
CONSOLE_SCHEME = "console_session"
"""The web console's session cookie (`gateway.console.auth`), for the console's own endpoints."""

DEFAULT_PATH_SCHEMA: Mapping[str, Any] = {"type": "string", "minLength": 1, "maxLength": 256}
"""A path parameter whose operation declares no schema of its own."""

Endpoint = Callable[[Request], Awaitable[Response]]
JSON = "application/json"

FILE_CONTENT: Mapping[str, Any] = {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}},
        }
    },
}
"""A file as a request body: raw bytes (any media type; `application/octet-stream` documented) or a
multipart form whose `file` part holds it."""

_PATH_PARAMETER = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?}")

ERROR_DESCRIPTIONS = {
    400: "The request is malformed or does not match the schema; `details` lists each problem.",
    401: "The bearer token is missing or invalid.",
    403: "The caller may not do this (role, tenant or policy).",
    404: "No such resource for this caller.",
    409: "The resource exists already or conflicts with another.",
    413: "The request body is too large.",
    429: "Rate limited; retry after the `Retry-After` header's seconds.",
    502: "A tool server answered with an error the gateway cannot turn into a result.",
    503: "A tool server needed for this request is unavailable.",
}


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a readable message and, for validation, each problem."""

    code: str = Field(description="stable, machine-readable error code")
    message: str = Field(description="a sentence for people")
    details: Any = Field(default=None, description="problems by field, limits, or other specifics")
    type: str = Field(
        description="the error's class in OpenAI's terms (`invalid_request_error`, `rate_limit_error`, "
        "`server_error`), so OpenAI SDKs report it"
    )
    param: str | None = Field(default=None, description="the request field at fault, when one is")


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer of the gateway's JSON APIs."""

    error: ErrorDetail


@dataclass(frozen=True)
class Operation(Generic[BodyT, QueryT]):
    """One documented endpoint. `response=None` means it answers 204 with no body."""

    method: Method
    path: str
    operation_id: str
    summary: str
    tag: str
    response: type[BaseModel] | None
    body: type[BodyT] | None = None
    query: type[QueryT] | None = None
    status: int = 200
    errors: tuple[int, ...] = (400, 401, 403, 404)
    description: str = ""
    authenticated: bool = True
    security_scheme: str = BEARER_SCHEME
    """How an authenticated operation is authenticated: a bearer token, or the console's cookie."""
    streams: bool = False
    path_schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    media_type: str = JSON
    """What the endpoint answers with: JSON (`response`), or another type documented as text."""
    file_body: bool = False
    """The request body may be a file: raw (its own `Content-Type`) or `multipart/form-data`."""
    endpoint: Endpoint | None = None

    def __post_init__(self) -> None:
        undeclared = set(self.path_schemas) - set(self.path_parameters())
        if undeclared:
            raise ValueError(f"{self.operation_id}: schemas for parameters not in the path: {undeclared}")

    def bind(self, endpoint: Endpoint) -> Operation[BodyT, QueryT]:
        """This operation served by `endpoint`."""
        return replace(self, endpoint=endpoint)

    def route(self) -> Route:
        """The Starlette route serving this operation: path parameters checked, then the endpoint."""
        endpoint = self.endpoint
        assert endpoint is not None, f"{self.operation_id} is not bound to an endpoint"
        validators = {
            name: Draft202012Validator(dict(self.path_schemas.get(name, DEFAULT_PATH_SCHEMA)))
            for name in self.path_parameters()
        }

        async def checked(request: Request) -> Response:
            problems = [
                {"field": name, "problem": error.message}
                for name, validator in validators.items()
                for error in validator.iter_errors(request.path_params.get(name))
            ]
            if problems:
                raise ApiError("invalid_path", "path parameters do not match the schema", details=problems)
            return await endpoint(request)

        return Route(self.path, checked, methods=[self.method], name=self.operation_id)

    async def read_body(self, request: Request, max_bytes: int) -> BodyT:
        """The request body as this operation's body model (400/413 with details when not)."""
        assert self.body is not None, f"{self.operation_id} declares no body"
        return await read_model(request, self.body, max_bytes)

    def read_query(self, request: Request) -> QueryT:
        """The query string as this operation's query model (400 naming each bad parameter)."""
        assert self.query is not None, f"{self.operation_id} declares no query"
        try:
            return self.query.model_validate(dict(request.query_params))
        except ValidationError as exc:
            raise ApiError(
                "invalid_query",
                "query parameters do not match the schema",
                details=validation_details(exc),
            ) from exc

    def reply(self, model: BaseModel | None = None, *, headers: Mapping[str, str] | None = None) -> Response:
        """The response this operation documents: `model` as JSON with `status`, or 204."""
        if self.response is None:
            assert model is None, f"{self.operation_id} documents no response body"
            return Response(status_code=204, headers=dict(headers or {}))
        assert isinstance(model, self.response), f"{self.operation_id} replies with {self.response.__name__}"
        return JSONResponse(json_body(model), status_code=self.status, headers=dict(headers or {}))

    def path_parameters(self) -> list[str]:
        return _PATH_PARAMETER.findall(self.path)

    @property
    def openapi_path(self) -> str:
        """The path with Starlette converters (`{path:path}`) written as OpenAPI templates."""
        return _PATH_PARAMETER.sub(lambda m: "{" + m.group(1) + "}", self.path)


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, dict):
        return {key: _utc(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_utc(item) for item in value]
    return value


def json_body(model: BaseModel) -> Any:
    """`model` as JSON-ready data, every timestamp with its zone (RFC 3339).

    The platform stores UTC; SQLite hands timestamps back without a zone, which is not a valid
    `date-time`, so a zone-less timestamp is UTC by definition here.
    """
    return to_jsonable_python(_utc(model.model_dump(mode="python")))


class OpenApiInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str = "agentmesh gateway"
    version: str = "0.1.0"
    description: str = (
        "Chat, sessions, the OpenAI-compatible API and the admin API of the agentmesh gateway. "
        "Every call needs a bearer JWT carrying `tenant_id` and `roles`; errors are "
        '`{"error": {"code", "message", "details", "type", "param"}}`.'
    )


def _model_schemas(
    operations: Iterable[Operation[Any, Any]],
) -> tuple[dict[tuple[type[BaseModel], JsonSchemaMode], Any], dict[str, Any]]:
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ErrorResponse, "serialization"): None}
    for operation in operations:
        if operation.body is not None:
            wanted[(operation.body, "validation")] = None
        if operation.response is not None:
            wanted[(operation.response, "serialization")] = None
    refs, document = models_json_schema(list(wanted), ref_template=SCHEMA_REF)
    return dict(refs), document.get("$defs", {})  # type: ignore[arg-type]


def _query_parameters(query: type[BaseModel]) -> list[dict[str, Any]]:
    schema = query.model_json_schema(ref_template=SCHEMA_REF)
    required = set(schema.get("required", []))
    parameters = []
    for name, property_schema in schema.get("properties", {}).items():
        property_schema = dict(property_schema)
        description = property_schema.pop("description", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": property_schema,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _operation_object(
    operation: Operation[Any, Any], refs: Mapping[tuple[type[BaseModel], JsonSchemaMode], Any]
) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": dict(operation.path_schemas.get(name, DEFAULT_PATH_SCHEMA)),
        }
        for name in operation.path_parameters()
    ]
    if operation.query is not None:
        parameters.extend(_query_parameters(operation.query))

    responses: dict[str, Any] = {}
    if operation.media_type != JSON:
        responses[str(operation.status)] = {
            "description": operation.summary,
            "content": {operation.media_type: {"schema": {"type": "string"}}},
        }
    elif operation.response is None:
        responses[str(operation.status if operation.status != 200 else 204)] = {"description": "Done."}
    else:
        content: dict[str, Any] = {
            "application/json": {"schema": refs[(operation.response, "serialization")]}
        }
        if operation.streams:
            # Before OpenAPI 3.2 the schema of an event stream describes one event.
            content["text/event-stream"] = {
                "schema": {
                    "type": "object",
                    "description": "server-sent events, one per turn event",
                    "properties": {
                        "event": {"type": "string", "description": "the turn event's type"},
                        "data": {"type": "string", "description": "the turn event, as JSON"},
                        "id": {"type": "string"},
                    },
                    "required": ["data"],
                }
            }
        responses[str(operation.status)] = {
            "description": operation.response.__doc__ or "OK",
            "content": content,
        }
    error_schema = {"application/json": {"schema": refs[(ErrorResponse, "serialization")]}}
    errors = set(operation.errors)
    if operation.authenticated:
        errors.add(401)
    for status in sorted(errors):
        responses[str(status)] = {
            "description": ERROR_DESCRIPTIONS.get(status, "Error."),
            "content": error_schema,
        }

    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": responses,
    }
    if operation.description:
        document["description"] = operation.description
    if parameters:
        document["parameters"] = parameters
    request_content: dict[str, Any] = {}
    if operation.body is not None:
        request_content[JSON] = {"schema": refs[(operation.body, "validation")]}
    if operation.file_body:
        request_content.update(FILE_CONTENT)
    if request_content:
        document["requestBody"] = {"required": True, "content": request_content}
    document["security"] = [{operation.security_scheme: []}] if operation.authenticated else []
    return document


def build_openapi(
    operations: Iterable[Operation[Any, Any]], info: OpenApiInfo | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `operations`, with schemas generated from their models."""
    operations = list(operations)
    refs, schemas = _model_schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.openapi_path, {})[operation.method.lower()] = _operation_object(
            operation, refs
        )
    return {
        "openapi": OPENAPI_VERSION,
        "info": (info or OpenApiInfo()).model_dump(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                BEARER_SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                CONSOLE_SCHEME: {"type": "apiKey", "in": "cookie", "name": "agentmesh_console"},
            },
        },
    }


def openapi_operation(operations: Iterable[Operation[Any, Any]]) -> Operation[Any, Any]:
    """`GET /openapi.json`: the document of `operations` (and of itself), rendered once."""
    operation: Operation[Any, Any] = Operation(
        "GET",
        "/openapi.json",
        "getOpenApi",
        "This API's OpenAPI 3.1 document",
        "meta",
        OpenApiDocument,
        errors=(),
        authenticated=False,
    )
    document = build_openapi([*operations, operation])

    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(document)

    return operation.bind(openapi_json)


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
