"""Which embedded engine holds the knowledge: Qdrant Edge by default; a data directory whose
knowledge is already in local mode (the earlier default) keeps it, so an upgrade hides nothing;
an explicit choice always wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentmesh.settings import load_settings
from mcp_servers.rag.edge_index import EdgeKnowledgeIndex
from mcp_servers.rag.index import KnowledgeIndex
from mcp_servers.rag.knowledge_base import KnowledgeBase


def opened(data_dir: Path, **env: str) -> type:
    knowledge = KnowledgeBase.open(load_settings(AGENTMESH_DATA_DIR=data_dir, **env))
    try:
        return type(knowledge.index)
    finally:
        knowledge.close()


def test_a_fresh_data_directory_gets_qdrant_edge(tmp_path: Path) -> None:
    assert opened(tmp_path) is EdgeKnowledgeIndex
    assert (tmp_path / "rag" / "edge").is_dir() and not (tmp_path / "rag" / "qdrant").exists()


def test_knowledge_already_in_local_mode_stays_there(tmp_path: Path) -> None:
    assert opened(tmp_path, AGENTMESH_RAG_ENGINE="local") is KnowledgeIndex
    assert opened(tmp_path) is KnowledgeIndex  # auto: the existing local-mode index is kept


@pytest.mark.parametrize(("engine", "kind"), [("edge", EdgeKnowledgeIndex), ("local", KnowledgeIndex)])
def test_an_explicit_engine_wins(tmp_path: Path, engine: str, kind: type) -> None:
    assert opened(tmp_path, AGENTMESH_RAG_ENGINE=engine) is kind
