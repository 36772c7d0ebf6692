"""ONNX Runtime embedder: the fast serving path, giving the same vectors as sentence-transformers.

Reads an export made by `python -m index.onnx_export DIR` and does the tokenising (tokenizers),
the transformer (onnxruntime, CPU), mean pooling and L2 normalisation itself. Importing this
module loads neither torch nor transformers; onnxruntime and tokenizers load in `load()`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from index.embedders import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder
from index.errors import IndexProblem
from index.onnx_export import (
    FORMAT_VERSION,
    INPUT_NAMES,
    META_FILE,
    OUTPUT_NAME,
    pad_batch,
    source_checksum,
    source_dir,
)

log = logging.getLogger(__name__)


class OnnxModelMissing(IndexProblem, FileNotFoundError):
    """No usable ONNX export: the directory or a file is missing, or it holds another model."""


def _fix(model_dir: Path, model_id: str) -> str:
    option = "" if model_id == DEFAULT_MODEL else f" --model {model_id}"
    return f"Try: python -m index.onnx_export{option} {model_dir}"


def read_export_meta(model_dir: Path, model_id: str) -> dict[str, Any]:
    """The meta of a complete export of `model_id` in `model_dir`; else raise OnnxModelMissing."""
    fix = _fix(model_dir, model_id)
    if not model_dir.is_dir():
        raise OnnxModelMissing(f"No ONNX export at {model_dir}: the directory is missing. {fix}")
    try:
        meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OnnxModelMissing(
            f"Incomplete ONNX export at {model_dir}: {META_FILE} is missing. {fix}") from None
    except (OSError, ValueError) as exc:
        raise OnnxModelMissing(f"Unreadable {model_dir / META_FILE}: {exc}. {fix}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        raise OnnxModelMissing(
            f"The ONNX export at {model_dir} has an unknown format; re-export it. {fix}")
    if meta.get("model_id") != model_id:
        raise OnnxModelMissing(f"The ONNX export at {model_dir} is of {meta.get('model_id')!r}, "
                               f"not {model_id!r}. {fix}")
    try:
        complete = (
            meta["pooling"] == "mean" and meta["normalize"] is True
            and int(meta["dim"]) > 0 and int(meta["max_seq_length"]) > 0
            and isinstance(meta["pad_id"], int)
            and (model_dir / meta["tokenizer_file"]).is_file()
            and (model_dir / meta["onnx_file"]).is_file()
            and (model_dir / meta["onnx_file"]).stat().st_size == meta["onnx_bytes"]
        )
    except (KeyError, TypeError, ValueError, OSError):
        complete = False
    if not complete:
        raise OnnxModelMissing(f"Incomplete ONNX export at {model_dir}: a file is missing or "
                               f"truncated, or {META_FILE} lacks a field. {fix}")
    return meta


class OnnxEmbedder:
    """The Embedder protocol on onnxruntime (CPU); the session is created in `load()`."""

    def __init__(self, model_dir: Path, model_id: str, *, batch_size: int = 64,
                 threads: int | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.model_id = model_id
        self.batch_size = batch_size
        self.threads = threads or min(2, os.cpu_count() or 1)
        self.dim = 0
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: list[str] = []
        self._pad_id = 0
        self._lock = threading.Lock()

    def load(self) -> None:
        """Check the export and open the session; raises OnnxModelMissing; cheap twice."""
        with self._lock:
            if self._session is not None:
                return
            meta = read_export_meta(self.model_dir, self.model_id)
            import onnxruntime as ort
            from tokenizers import Tokenizer

            fix = _fix(self.model_dir, self.model_id)
            onnx_path = self.model_dir / meta["onnx_file"]
            try:
                tokenizer = Tokenizer.from_file(str(self.model_dir / meta["tokenizer_file"]))
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                # Idle worker threads sleep instead of spinning: the bot shares a small box.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                session = ort.InferenceSession(
                    str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # corrupt file: onnxruntime/tokenizers raise their own types
                raise OnnxModelMissing(f"Cannot load the ONNX export at {self.model_dir}: "
                                       f"{exc}. {fix}") from exc
            inputs = [item.name for item in session.get_inputs()]
            outputs = [item.name for item in session.get_outputs()]
            if not {"input_ids", "attention_mask"} <= set(inputs) <= set(INPUT_NAMES) \
                    or OUTPUT_NAME not in outputs:
                raise OnnxModelMissing(f"The ONNX model at {onnx_path} has inputs {inputs} and "
                                       f"outputs {outputs}, not the exporter's. {fix}")
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length=int(meta["max_seq_length"]))
            self._tokenizer = tokenizer
            self._inputs = inputs
            self._pad_id = int(meta["pad_id"])
            self.dim = int(meta["dim"])
            self._session = session

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Embed passages in length-sorted batches; rows come back in input order."""
        self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            out[rows] = self._embed_batch([encodings[i] for i in rows])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query, shape (dim,)."""
        return np.asarray(self.embed_documents([text])[0])

    def _embed_batch(self, encodings: list[Any]) -> np.ndarray:
        """Pad one batch, run the transformer, mean-pool over the mask and L2-normalise."""
        feed = pad_batch(encodings, self._pad_id)
        mask = feed["attention_mask"]
        hidden = self._session.run([OUTPUT_NAME], {name: feed[name] for name in self._inputs})[0]
        weights = mask.astype(np.float32)
        summed = np.einsum("bsd,bs->bd", hidden, weights)
        mean = summed / np.clip(weights.sum(axis=1, keepdims=True), 1e-9, None)
        norms = np.clip(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12, None)
        return np.asarray(mean / norms, dtype=np.float32)


def export_problem(model: str, onnx_dir: Path) -> str | None:
    """Why the export in `onnx_dir` cannot serve `model`, or None when it can.

    Checks the files and meta, and that the source weights still match the recorded checksum.
    """
    for package in ("onnxruntime", "tokenizers"):
        if importlib.util.find_spec(package) is None:
            return f"{package} is not installed"
    try:
        meta = read_export_meta(Path(onnx_dir), model)
    except OnnxModelMissing as exc:
        return str(exc)
    recorded = meta.get("source_sha256")
    current = _source_checksum_cached(model, Path(onnx_dir), recorded) if recorded else None
    if recorded and current and current != recorded:
        return (f"the ONNX export at {onnx_dir} is stale: the weights of {model} changed since "
                f"it was made. {_fix(Path(onnx_dir), model)}")
    return None


SOURCE_STAT_FILE = "source-stat.json"  # in the export directory: see _source_checksum_cached


def _source_signature(model: str) -> list[list[Any]] | None:
    """(path, size, mtime) of every file of the model's source directory, or None."""
    root = source_dir(model)
    if root is None:
        return None
    rows: list[list[Any]] = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            rows.append([path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns])
    return rows


def _source_checksum_cached(model: str, onnx_dir: Path, recorded: str) -> str | None:
    """`source_checksum(model)`, without reading the weights again while no source file changed.

    Hashing the weights (~90 MB) costs ~0.1 s at every start. When it matched the export's
    recorded checksum, the size and modification time of every source file are remembered in
    the export directory; while they are all the same, the recorded checksum is returned.
    Any change (or no writable export directory) means hashing as before.
    """
    cache = onnx_dir / SOURCE_STAT_FILE
    try:
        signature = _source_signature(model)
    except OSError:
        signature = None
    if signature is not None:
        try:
            known = json.loads(cache.read_text(encoding="utf-8"))
            if known == {"source_sha256": recorded, "files": signature}:
                return recorded
        except (OSError, ValueError):
            pass
    current = source_checksum(model)
    if current == recorded and signature is not None:
        tmp = cache.with_name(f".{SOURCE_STAT_FILE}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({"source_sha256": recorded, "files": signature}),
                           encoding="utf-8")
            os.replace(tmp, cache)
        except OSError:  # a read-only export directory: hash at every start instead
            tmp.unlink(missing_ok=True)
    return current


def fastest_embedder(model: str, onnx_dir: Path) -> Embedder:
    """OnnxEmbedder when `onnx_dir` holds a valid export of `model`, else sentence-transformers."""
    problem = export_problem(model, onnx_dir)
    if problem is None:
        log.info("Embedding with ONNX Runtime from %s", onnx_dir)
        return OnnxEmbedder(Path(onnx_dir), model)
    log.info("Embedding with sentence-transformers, not ONNX: %s", problem)
    return SentenceTransformerEmbedder(model)
