"""structlog set up once per process: JSON lines carrying tenant, session and trace ids."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog
from opentelemetry import trace

from agentmesh.redaction import platform_redactor
from agentmesh.settings import Settings

_SECRET_KEYS = frozenset(
    {"authorization", "api_key", "token", "password", "secret", "access_token", "cookie", "set-cookie"}
)
_SECRET_SUFFIXES = ("_token", "_secret", "_password", "_api_key")
# A JWT, or a bearer credential, wherever it appears in a value (a URL, an exception message).
_CREDENTIAL = re.compile(
    r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*|(?i:\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"
)


def _add_trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event.setdefault("trace_id", format(span.trace_id, "032x"))
        event.setdefault("span_id", format(span.span_id, "016x"))
    return event


def drop_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: secret-named fields are masked, and so are tokens inside any text value."""
    for key, value in list(event.items()):
        name = key.lower()
        if name in _SECRET_KEYS or name.endswith(_SECRET_SUFFIXES):
            event[key] = "[redacted]"
        elif isinstance(value, str):
            event[key] = _CREDENTIAL.sub("[redacted credential]", value)
    return event


def configure_logging(settings: Settings, *, stream: Literal["stdout", "stderr"] = "stderr") -> None:
    """Route structlog and the standard library to one stream, as JSON unless told otherwise.

    Servers on stdio must log to stderr: stdout carries the protocol.
    """
    output = sys.stderr if stream == "stderr" else sys.stdout
    level = logging.getLevelName(settings.log_level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer() if settings.log_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace_ids,
            structlog.processors.format_exc_info,
            # After the traceback is rendered, so tokens and personal data in exception messages
            # are masked too.
            drop_secrets,
            platform_redactor(settings).process_log_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=output),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(stream=output, level=level, format="%(levelname)s %(name)s %(message)s", force=True)
    # alembic: two lines of context per connection; `agentmesh.db` logs a migration itself.
    for noisy in ("alembic", "httpx", "httpx2", "httpcore", "mcp", "uvicorn.access", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
