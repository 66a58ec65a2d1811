"""The default encoder is the int8 ONNX export of all-MiniLM-L6-v2: it answers like the torch
reference (cosine ~0.99, English and Vietnamese), keeps the input order whatever the lengths,
batches texts of like length within a token budget, is made once per cache directory, never needs
torch in the process that encodes, and a read-only cache falls back to a temporary one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agentmesh import embeddings
from agentmesh.embeddings import EMBEDDING_DIM, EncoderUnavailable, OnnxEncoder, TorchEncoder

SENTENCES = [
    "Công nợ của khách hàng có MST 3428557611 là bao nhiêu?",
    "Tồn kho của mã hàng ACM-0001 còn bao nhiêu?",
    "Where is shipment SH-1042?",
    "What is our return policy? " * 40,  # longer than the model's 256 tokens: truncated
    "ok",
]


@pytest.fixture(scope="module")
def int8() -> OnnxEncoder:
    return OnnxEncoder(embeddings.int8_model_file())


def test_the_int8_encoder_answers_like_the_torch_reference(int8: OnnxEncoder) -> None:
    ours = int8.encode(SENTENCES)
    reference = TorchEncoder().encode(SENTENCES)
    assert ours.shape == (len(SENTENCES), EMBEDDING_DIM) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    agreement = (ours * reference).sum(axis=1)
    assert agreement.min() > 0.95 and agreement.mean() > 0.98, agreement


def test_texts_keep_their_order_across_batches_of_sorted_lengths(int8: OnnxEncoder) -> None:
    one_by_one = np.stack([int8.encode([text])[0] for text in SENTENCES])
    batched = int8.encode(SENTENCES, batch_size=2)
    # Activations are quantized per batch, so a batch's neighbours move a vector a little.
    similarity = one_by_one @ batched.T
    assert list(similarity.argmax(axis=1)) == list(range(len(SENTENCES)))
    assert similarity.diagonal().min() > 0.93
    assert int8.encode([]).shape == (0, EMBEDDING_DIM)


def test_batches_hold_texts_of_like_length_within_a_token_budget() -> None:
    lengths = [256, 7, 12, 256, 9, 250, 30, 8, 256, 256, 11]
    batches = embeddings._token_batches(lengths, max_rows=3)
    assert sorted(index for batch in batches for index in batch) == list(range(len(lengths)))
    for batch in batches:
        padded = len(batch) * max(lengths[index] for index in batch)
        assert len(batch) <= 3 and (len(batch) == 1 or padded <= embeddings.BATCH_TOKENS)
    # Shortest first, and the long passages four to a batch at most (1,024 padded tokens).
    assert [lengths[index] for index in batches[0]] == [7, 8, 9]
    assert max(len(batch) for batch in embeddings._token_batches([256] * 9, max_rows=64)) == 4
    assert embeddings._token_batches([5] * 100, max_rows=64)[0] == list(range(64))


def test_a_process_that_encodes_never_imports_torch(tmp_path: Path) -> None:
    script = "import sys; from agentmesh.embeddings import embed; embed(['x']); print('torch' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=os.environ.copy()
    )
    assert done.stdout.strip() == "False"


def test_a_read_only_cache_falls_back_to_a_temporary_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file-not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("AGENTMESH_MODEL_CACHE", str(blocked / "models"))
    monkeypatch.setattr(embeddings.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    made = embeddings.int8_model_file()
    assert made.parent == tmp_path / "tmp" / "agentmesh-models" and made.stat().st_size > 10_000_000
    assert embeddings.int8_model_file() == made  # made once, then found


def test_an_unknown_encoder_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTMESH_ENCODER", "gpu")
    with pytest.raises(EncoderUnavailable, match="onnx-int8, torch"):
        embeddings.backend()
