"""Chunks stay inside one section, fit the size limit, and overlap where a section is split."""

from __future__ import annotations

import itertools

import pytest

from mcp_servers.rag.chunking import chunk_document
from mcp_servers.rag.formats import ParsedDocument, Section, parse_markdown


def words(text: str) -> int:
    return len(text.split())


def test_chunks_never_cross_a_heading() -> None:
    document = parse_markdown("# Guide\n\nIntro line.\n\n## Setup\n\nInstall it.\n\n## Use\n\nRun it.", "x")
    chunks = chunk_document(document)
    assert [(chunk.heading, chunk.text) for chunk in chunks] == [
        ("", "Intro line."),
        ("Setup", "Install it."),
        ("Use", "Run it."),
    ]
    assert [chunk.position for chunk in chunks] == [0, 1, 2]


def test_a_long_section_is_split_with_overlapping_sentences() -> None:
    sentences = [f"Sentence {n} talks about topic {n} in some detail." for n in range(40)]
    document = ParsedDocument("t", "text", [Section(("Long",), " ".join(sentences))])
    chunks = chunk_document(document, max_words=50, overlap_words=12)

    assert len(chunks) > 3
    assert all(words(chunk.text) <= 50 for chunk in chunks)
    for before, after in itertools.pairwise(chunks):
        last_sentence = before.text.split(". ")[-1]
        assert after.text.startswith(last_sentence.rstrip(".")), (
            "each chunk opens with the end of the one before"
        )
    joined = " ".join(chunk.text for chunk in chunks)
    assert all(sentence in joined for sentence in sentences), "nothing is lost"


def test_a_sentence_longer_than_a_chunk_is_cut_into_windows() -> None:
    document = ParsedDocument("t", "text", [Section((), " ".join(f"w{n}" for n in range(250)))])
    chunks = chunk_document(document, max_words=100, overlap_words=10)
    assert [words(chunk.text) for chunk in chunks] == [100, 100, 50]


def test_pages_are_kept_on_their_chunks() -> None:
    document = ParsedDocument(
        "t", "pdf", [Section((), "Page one.", page=1), Section((), "Page two.", page=2)]
    )
    assert [chunk.page for chunk in chunk_document(document)] == [1, 2]


def test_equal_passages_hash_alike_whatever_their_spacing() -> None:
    document = ParsedDocument(
        "t", "text", [Section(("A",), "Same  words\nhere."), Section(("B",), "Same words here.")]
    )
    first, second = chunk_document(document)
    assert first.content_hash == second.content_hash


def test_impossible_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap_words"):
        chunk_document(ParsedDocument("t", "text", [Section((), "x")]), max_words=10, overlap_words=10)
