"""A Vietnamese question over English documents: the glossary's English finds the passage that answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentmesh.embeddings import EMBEDDING_DIM
from mcp_servers.rag.demo import seed_demo_knowledge
from mcp_servers.rag.glossary import with_english
from mcp_servers.rag.index import KnowledgeIndex
from mcp_servers.rag.knowledge_base import KnowledgeBase


def test_known_words_get_their_english_with_or_without_diacritics() -> None:
    assert with_english("Chính sách đổi trả là gì?") == "Chính sách đổi trả là gì? (policy return returns)"
    assert with_english("Chinh sach doi tra la gi?") == "Chinh sach doi tra la gi? (policy return returns)"
    assert with_english("What is our return policy?") == "What is our return policy?"
    # Whole words only: "phi" (fee) is not found inside "phieu" (a slip).
    assert with_english("phieu giao") == "phieu giao"


@pytest.fixture(scope="module")
def acme_knowledge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    path: Path = tmp_path_factory.mktemp("kb-glossary")
    kb = KnowledgeBase(KnowledgeIndex.open(path=path, url=None, dimension=EMBEDDING_DIM))
    seed_demo_knowledge(kb)
    yield kb
    kb.close()


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Chinh sach doi tra la gi?", "30 ngày"),  # the document's own Vietnamese summary
        ("Chính sách đổi trả là gì?", "30 ngày"),
        ("Chiết khấu thanh toán sớm là bao nhiêu?", "2%"),
        ("Chiet khau thanh toan som la bao nhieu?", "2%"),
    ],
)
def test_the_first_passage_answers_in_either_language(
    acme_knowledge: KnowledgeBase, question: str, answer: str
) -> None:
    best = acme_knowledge.search("acme", question, top_k=3)[0]
    assert answer in best.text, (question, best.text)
