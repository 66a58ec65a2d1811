"""Logging set up once per process: one JSON line per record, whoever wrote it.

Our own events (structlog) and every library's records (uvicorn, mcp, httpx, alembic,
OpenTelemetry, sentence-transformers, asyncio, warnings) reach the standard library's root
logger, whose one handler renders them with structlog's `ProcessorFormatter`: the same
processors (timestamp, level, logger name, context and trace ids, secret and personal-data
masking) and the same renderer for all. Chatty libraries are held at WARNING unless the level is
DEBUG, and progress bars are switched off: a server's log is lines, never a redrawn terminal.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog
from opentelemetry import trace
from structlog.typing import Processor

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
# Libraries that log every request or step at INFO; at INFO they keep to warnings and errors.
CHATTY_LOGGERS = (
    "alembic",  # two lines of context per connection; `agentmesh.db` logs the migration itself
    "httpx",
    "httpx2",
    "httpcore",
    "mcp",
    "uvicorn.access",
    "sentence_transformers",
    "transformers",
    "huggingface_hub",
    "filelock",
)
# Progress bars and advisory chatter of the model libraries, off before any of them is imported.
_QUIET_LIBRARIES = {
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


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


def _context_processors() -> list[Processor]:
    """What every record gets before rendering, wherever it comes from."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
    ]


def platform_formatter(settings: Settings) -> structlog.stdlib.ProcessorFormatter:
    """The one formatter of the process: context, then masking, then one rendered line."""
    renderer: Processor = (
        structlog.processors.JSONRenderer() if settings.log_json else structlog.dev.ConsoleRenderer()
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_context_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            # After the traceback is rendered, so tokens and personal data in exception messages
            # are masked too.
            drop_secrets,
            platform_redactor(settings).process_log_event,
            renderer,
        ],
    )


def configure_logging(settings: Settings, *, stream: Literal["stdout", "stderr"] = "stderr") -> None:
    """Route structlog and every library to one handler on one stream (JSON unless told otherwise).

    Servers on stdio must log to stderr: stdout carries the protocol.
    """
    for name, value in _QUIET_LIBRARIES.items():
        os.environ.setdefault(name, value)
    level = logging.getLevelName(settings.log_level.upper())
    handler = logging.StreamHandler(sys.stderr if stream == "stderr" else sys.stdout)
    handler.setFormatter(platform_formatter(settings))
    root = logging.getLogger()
    for existing in root.handlers[:]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's default logging config (applied by any uvicorn started without `log_config=None`
    # earlier in the process) gives its loggers handlers of their own and stops them propagating.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        adopt_library_logger(name)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if level <= logging.DEBUG else logging.WARNING)
    # `warnings.warn` from libraries becomes a record too, rather than text on stderr.
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*_context_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        # Below the level a call returns at once, before any processor runs.
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


def adopt_library_logger(name: str) -> None:
    """Take back a library logger that installed a handler of its own (RapidOCR does, at import):
    its records then reach the process's one handler, at the process's level."""
    logger = logging.getLogger(name)
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
