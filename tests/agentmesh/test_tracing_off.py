"""With no OTLP endpoint, spans are not recorded (nothing would read them), yet each still has a
valid trace id, so log lines keep theirs; with an endpoint, spans are recorded.

`configure_tracing` installs the process's provider once, so each case runs in a process of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = """
from opentelemetry import trace
from agentmesh.settings import load_settings
from agentmesh.telemetry import configure_tracing
configure_tracing(load_settings(), "probe")
span = trace.get_tracer("probe").start_span("work")
print(span.is_recording(), span.get_span_context().is_valid)
"""


@pytest.mark.parametrize(
    ("endpoint", "recorded"), [(None, "False"), ("http://127.0.0.1:9/v1/traces", "True")]
)
def test_spans_are_recorded_only_when_exported(endpoint: str | None, recorded: str) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    if endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.split() == [recorded, "True"]
