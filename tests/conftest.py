"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentmesh.settings import Settings, load_settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_backend(name: str, reason: str) -> None:
    """Skip when a backend is missing, except under CI where a missing backend is a failure."""
    if IN_CI:
        pytest.fail(f"{name} is required under CI: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings on a fresh data directory with embedded defaults (no DATABASE_URL, REDIS_URL or NATS)."""
    for name in ("DATABASE_URL", "REDIS_URL", "QDRANT_URL", "AGENTMESH_NATS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTMESH_DATA_DIR", str(data_dir))
    yield load_settings()
