"""BM25 terms and weights: what the sparse side of retrieval counts."""

from __future__ import annotations

from mcp_servers.rag.bm25 import Bm25Encoder, term_index
from mcp_servers.rag.terms import terms


def test_terms_are_stemmed_lowercased_and_free_of_stopwords() -> None:
    assert terms("The Policies of RETURNS and refunding") == ["polici", "return", "refund"]
    assert terms("policy policies") == ["polici", "polici"]


def test_vietnamese_words_are_kept_whole_and_normalised() -> None:
    composed = "Chính sách đổi trả"
    decomposed = "Chi\u0301nh sa\u0301ch đô\u0309i tra\u0309"
    assert terms(composed) == terms(decomposed) == ["chính", "sách", "đổi", "trả"]


def test_document_weights_saturate_and_favour_short_chunks() -> None:
    encoder = Bm25Encoder(k1=1.2, b=0.75, avg_len=10)
    once = encoder.document("refund")
    many = encoder.document("refund " * 20)
    assert once.indices == many.indices == [term_index("refund")]
    assert many.values[0] > once.values[0]
    assert many.values[0] < encoder.k1 + 1, "term frequency saturates below k1 + 1"
    short = encoder.document("refund window")
    long = encoder.document("refund window " + "other words here " * 10)
    assert (
        dict(zip(short.indices, short.values, strict=True))[term_index("refund")]
        > dict(zip(long.indices, long.values, strict=True))[term_index("refund")]
    )


def test_query_weights_are_one_per_distinct_term_sorted_by_index() -> None:
    query = Bm25Encoder().query("refund refund window?")
    assert query.values == [1.0, 1.0]
    assert query.indices == sorted([term_index("refund"), term_index("window")])
    assert not Bm25Encoder().query("the of and ?")
