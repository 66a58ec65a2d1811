"""The `MCPServer` every domain server is: the SDK's, with failures reported the platform's one way.

Tools raise `AgentmeshError`s and know nothing of MCP results. This class is the one boundary
that turns whatever a tool call raised into a result: a platform error becomes an `isError`
result with its code in `_meta` (`mcp_servers.common.errors`); the SDK's own refusals (an unknown
tool, arguments that fail the input schema) get their codes too; anything else is a bug, logged
here whole and answered with a bare `internal_error`, so nothing of it reaches the caller.

It also carries what every server offers beyond tools: `logging/setLevel` (`client_logging`),
tool schemas that every client reads alike (`schemas.portable_schema`), and, over stdio,
`notifications/tools/list_changed` for a handshake client when the server's tools change
(`announce_tools_changed`; 2026-07-28 clients get it on `subscriptions/listen`).

Why here and not in a `ServerMiddleware`: the SDK's `tools/call` handler turns every exception
into a result before any middleware sees it (`MCPServer._handle_call_tool`), so the exception is
only still in hand around `MCPServer.call_tool`, which the SDK documents for exactly this.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import structlog
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import NotificationOptions
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import (
    ResourceError,
    ResourceNotFoundError,
    ToolError,
    UnexpectedResourceError,
    UnexpectedToolError,
)
from mcp.server.session import ServerSession
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolResult,
    GetPromptResult,
    Icon,
    InputRequiredResult,
    Tool,
    ToolAnnotations,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import AnyUrl, ValidationError

from agentmesh.errors import AgentmeshError
from mcp_servers.common.client_logging import ClientLogLevels
from mcp_servers.common.errors import ArgumentProblem, InvalidArguments, error_result, is_missing
from mcp_servers.common.schemas import portable_schema
from mcp_servers.common.tenant import current_claims

log = structlog.get_logger(__name__)

_CallableT = TypeVar("_CallableT", bound=Callable[..., Any])

INTERNAL_ERROR_MESSAGE = "the tool failed unexpectedly; the server has logged the error"


class DomainServer(MCPServer):
    """A domain server. Subclasses that serve tools of their own override `run_tool`, not `call_tool`."""

    uses_platform_database: bool = False
    """Whether it keeps state in the platform database (then `run` prepares the schema first)."""

    tools_change: bool = False
    """Whether its tool list changes while it runs (then stdio declares `tools.listChanged`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client_log_levels = ClientLogLevels()
        self.client_log_levels.install(self._lowlevel_server)
        self._handshake_session: ServerSession | None = None
        self._lowlevel_server.middleware.append(self._remember_handshake_session)

    def tool(
        self,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
    ) -> Callable[[_CallableT], _CallableT]:
        """The SDK's decorator, with a description taken from the docstring as prose: the SDK
        passes the docstring on with its source indentation and line breaks."""

        def register(fn: _CallableT) -> _CallableT:
            return super(DomainServer, self).tool(
                name=name,
                title=title,
                description=description if description is not None else prose(fn.__doc__ or "") or None,
                annotations=annotations,
                icons=icons,
                meta=meta,
                structured_output=structured_output,
            )(fn)

        return register

    async def list_tools(self) -> list[Tool]:
        return [portable_tool(tool) for tool in await super().list_tools()]

    async def run_stdio_async(self) -> None:
        """Serve over stdio, declaring `tools.listChanged` when the tools can change."""
        server = self._lowlevel_server
        options = server.create_initialization_options(NotificationOptions(tools_changed=self.tools_change))
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, options)

    async def announce_tools_changed(self) -> None:
        """Tell a handshake client over stdio that `tools/list` changed (HTTP sessions are not kept)."""
        session = self._handshake_session
        if session is not None:
            await session.send_tool_list_changed()

    async def _remember_handshake_session(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        # Over stdio there is one connection; its session can notify after the request ended.
        if ctx.request is None and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            self._handshake_session = ctx.session
        return await call_next(ctx)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await self.run_tool(name, arguments, context)
        except AgentmeshError as error:
            return self._refused(name, error)
        except ToolError as exc:
            return self._refused(name, self._platform_error(name, exc))
        except Exception:
            log.exception("tool_crashed", tool=name)
            return error_result(AgentmeshError(INTERNAL_ERROR_MESSAGE, code="internal_error"))

    async def run_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Run tool `name`; raise on failure (the SDK's tools raise `ToolError`s wrapping the cause)."""
        tool = self._tool_manager.get_tool(name)
        if tool is None:
            raise AgentmeshError(f"no tool named '{name}' on this server", code="tool_not_found")
        # The SDK ignores arguments its function does not take; a misspelt one should not pass.
        schema = tool.parameters or {}
        extra = sorted(argument for argument in arguments if argument not in schema.get("properties", {}))
        if extra:
            missing = [field for field in schema.get("required", []) if field not in arguments]
            problems = [ArgumentProblem(field, "is not an accepted argument") for field in extra]
            problems += [ArgumentProblem(field, "is required") for field in missing]
            raise InvalidArguments(name, sorted(problems, key=lambda problem: problem.field))
        return await super().call_tool(name, arguments, context)

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        """A prompt by name; an unknown name is the client's mistake (invalid params), not a crash."""
        if self._prompt_manager.get_prompt(name) is None:
            raise MCPError(INVALID_PARAMS, f"no prompt named '{name}' on this server")
        return await super().get_prompt(name, arguments, context)

    async def read_resource(
        self, uri: AnyUrl | str, context: Context[Any, Any] | None = None
    ) -> Iterable[ReadResourceContents] | InputRequiredResult:
        """Read a resource; a platform error its handler raised is reported as the SDK expects."""
        try:
            return await super().read_resource(uri, context)
        except UnexpectedResourceError as exc:
            cause = exc.__cause__
            if not isinstance(cause, AgentmeshError):
                raise
            log.info("resource_refused", uri=str(uri), code=cause.code)
            if is_missing(cause.code):
                raise ResourceNotFoundError(cause.message) from cause
            raise ResourceError(cause.message) from cause

    @staticmethod
    def _refused(name: str, error: AgentmeshError) -> CallToolResult:
        if error.code != "internal_error":  # a crash is logged whole where it is caught
            claims = current_claims()
            log.info(
                "tool_refused",
                tool=name,
                tenant_id=claims.tenant_id if claims else None,
                code=error.code,
                retryable=error.retryable,
            )
        return error_result(error)

    @staticmethod
    def _platform_error(name: str, exc: ToolError) -> AgentmeshError:
        """What a `ToolError` from the SDK stands for: the tool's own error, a schema failure, or a crash."""
        cause = exc.__cause__
        if isinstance(cause, AgentmeshError):
            return cause
        if isinstance(cause, ValidationError):
            problems = [
                ArgumentProblem(".".join(str(part) for part in error["loc"]) or "arguments", _worded(error))
                for error in cause.errors()
            ]
            return InvalidArguments(name, problems)
        if isinstance(exc, UnexpectedToolError):
            log.error("tool_crashed", tool=name, exc_info=exc)
            return AgentmeshError(INTERNAL_ERROR_MESSAGE, code="internal_error")
        return AgentmeshError(str(exc), code="tool_error")


def _worded(error: Any) -> str:
    """A pydantic problem as the ERP's checker words it ("is required"), else pydantic's own words."""
    if error["type"] == "missing":
        return "is required"
    return str(error["msg"]).rstrip(".")


def prose(docstring: str) -> str:
    """A docstring as a client shows it: no source indentation, each paragraph on one line."""
    paragraphs = inspect.cleandoc(docstring).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs if paragraph.strip())


def portable_tool(tool: Tool) -> Tool:
    """`tool` with input and output schemas every client reads alike (`portable_schema`)."""
    output = portable_schema(dict(tool.output_schema)) if tool.output_schema else None
    return tool.model_copy(
        update={"input_schema": portable_schema(dict(tool.input_schema)), "output_schema": output}
    )
