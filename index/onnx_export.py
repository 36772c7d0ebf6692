"""Export a sentence-transformers model's transformer to ONNX for the fast serving path.

The export directory holds `model.onnx` (inputs input_ids, attention_mask, token_type_ids;
output last_hidden_state), `tokenizer.json` and `export.json` (the meta). Pooling (mean) and
L2 normalisation happen in `index.onnx_embedder.OnnxEmbedder`. torch, transformers and
sentence-transformers are imported inside `export_onnx` only, so this module stays light.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from index.embedders import DEFAULT_MODEL, resolve_model_path

FORMAT_VERSION = 1
META_FILE = "export.json"
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "last_hidden_state"
OPSET = 17  # the legacy (TorchScript) exporter; onnxruntime 1.18+ runs it
_SOURCE_SUFFIXES = (".safetensors", ".bin", ".json", ".txt")
_VERIFY_TOLERANCE = 1e-4


def source_dir(model: str) -> Path | None:
    """The local directory holding `model`'s files, or None when it cannot be found offline."""
    candidate = Path(resolve_model_path(model))
    if candidate.is_dir():
        return candidate
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception:  # not a hub id, not cached, or huggingface_hub missing
        return None


def source_checksum(model: str) -> str | None:
    """sha256 over the weight and config files of `model` (root and module folders).

    None when the model's files cannot be found locally.
    """
    root = source_dir(model)
    if root is None:
        return None
    folders = [root]
    modules = root / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            path = str(module.get("path") or "")
            if path and (root / path).is_dir():
                folders.append(root / path)
    files = sorted(
        f for folder in folders for f in folder.iterdir()
        if f.is_file() and f.suffix in _SOURCE_SUFFIXES and not f.name.startswith(".")
    )
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def export_onnx(model: str, out_dir: Path) -> Path:
    """Export `model` to `out_dir` (replaced atomically) and return `out_dir`.

    The export is checked with onnxruntime against the torch model before it is put in place.
    Refuses to replace a non-empty directory that is not an export.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / META_FILE).is_file():
        raise FileExistsError(f"{out_dir} is not empty and holds no {META_FILE}; "
                              "refusing to replace it. Choose an empty or new directory.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        meta = _export_into(model, tmp)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o755)
        _swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _export_into(model: str, directory: Path) -> dict[str, Any]:
    """Write model.onnx and tokenizer.json into `directory`; return the meta."""
    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    checksum = source_checksum(model)
    st: Any = SentenceTransformer(resolve_model_path(model), device="cpu", local_files_only=True)
    _check_supported(st)
    max_seq_length = int(st.max_seq_length)
    dim = int(st.get_embedding_dimension())
    bert: Any = st[0].auto_model
    # Eager attention traces into plain ops; the SDPA path has tracer-time branches.
    bert.set_attn_implementation("eager")
    bert.eval()

    tokenizer = Tokenizer.from_str(st.tokenizer.backend_tokenizer.to_str())
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_seq_length)
    tokenizer.save(str(directory / TOKENIZER_FILE))
    pad_id = int(st.tokenizer.pad_token_id)
    pad_token = str(st.tokenizer.pad_token)

    class LastHiddenState(torch.nn.Module):
        """Calls the transformer by keyword and returns last_hidden_state."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids, return_dict=True)
            return out.last_hidden_state  # type: ignore[no-any-return]

    wrapper = LastHiddenState(bert).eval()

    # The example batch must contain padding, so a mask-dependent branch is traced with a mask.
    example = _features(
        tokenizer, pad_id, ["Partner selection", "How is a partner's capacity assessed first?"])
    dynamic = {name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, OUTPUT_NAME)}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter and tracer warnings; verified below
        torch.onnx.export(
            wrapper,
            tuple(torch.from_numpy(example[name]) for name in INPUT_NAMES),
            str(directory / ONNX_FILE),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )

    worst = _verify(wrapper, directory / ONNX_FILE, tokenizer, pad_id)
    return {
        "format": FORMAT_VERSION,
        "model_id": model,
        "dim": dim,
        "max_seq_length": max_seq_length,
        "pooling": "mean",
        "normalize": True,
        "source_sha256": checksum,
        "onnx_file": ONNX_FILE,
        "onnx_bytes": (directory / ONNX_FILE).stat().st_size,
        "tokenizer_file": TOKENIZER_FILE,
        "pad_id": pad_id,
        "pad_token": pad_token,
        "inputs": list(INPUT_NAMES),
        "output": OUTPUT_NAME,
        "opset": OPSET,
        "verified_max_abs_diff": worst,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__,
        },
    }


def _check_supported(st: Any) -> None:
    """Raise ValueError unless the model is Transformer -> mean Pooling [-> Normalize]."""
    names = [type(module).__name__ for module in st]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ValueError(f"unsupported module stack {names}; the ONNX path needs "
                         "Transformer -> Pooling (mean) [-> Normalize]")
    mode = st[1].get_config_dict().get("pooling_mode")
    if mode != "mean":
        raise ValueError(f"unsupported pooling {mode!r}; the ONNX path does mean pooling only")
    if getattr(st[0], "do_lower_case", False):
        raise ValueError("models with do_lower_case are not supported by the ONNX path")
    prompt_name = st.default_prompt_name
    if prompt_name and st.prompts.get(prompt_name):
        raise ValueError("models with a default prompt are not supported by the ONNX path")
    accepted = inspect.signature(st[0].auto_model.forward).parameters
    if "token_type_ids" not in accepted:
        raise ValueError("the transformer takes no token_type_ids; only BERT-style models export")


def pad_batch(encodings: list[Any], pad_id: int) -> dict[str, np.ndarray]:
    """Tokenizer encodings padded into the int64 inputs of a BERT-style model."""
    width = max(len(e.ids) for e in encodings)
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    types = np.zeros((len(encodings), width), dtype=np.int64)
    for row, e in enumerate(encodings):
        ids[row, : len(e.ids)] = e.ids
        mask[row, : len(e.ids)] = 1
        types[row, : len(e.ids)] = e.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _features(tokenizer: Any, pad_id: int, texts: list[str]) -> dict[str, np.ndarray]:
    """Tokenise `texts` and pad them into int64 model inputs."""
    return pad_batch(tokenizer.encode_batch(texts), pad_id)


def _verify(wrapper: Any, onnx_path: Path, tokenizer: Any, pad_id: int) -> float:
    """Compare pooled onnxruntime and torch embeddings on a new batch shape; return the max diff."""
    import onnxruntime as ort
    import torch

    texts = ["", "Short one.", "Ein längerer Satz über Partner, Risiken und Prüfungen 🚀. " * 3]
    batch = _features(tokenizer, pad_id, texts)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], batch)[0]
    with torch.no_grad():
        want = wrapper(*(torch.from_numpy(batch[name]) for name in INPUT_NAMES)).numpy()

    def pooled(hidden: np.ndarray) -> np.ndarray:
        mask = batch["attention_mask"][..., None].astype(np.float32)
        summed = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.clip(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12, None)
        return np.asarray(summed / norms, dtype=np.float32)

    worst = float(np.abs(pooled(got) - pooled(want)).max())
    if not worst < _VERIFY_TOLERANCE:
        raise RuntimeError(f"ONNX export disagrees with torch (max abs diff {worst:.2e})")
    return worst


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Put `tmp` at `out_dir`; an existing export is moved aside first, then removed."""
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    os.replace(out_dir, old / "export")
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        os.replace(old / "export", out_dir)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """CLI: export a model to OUT_DIR and print what was written and how long it took."""
    parser = argparse.ArgumentParser(prog="python -m index.onnx_export",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"default: {DEFAULT_MODEL}")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        out = export_onnx(args.model, args.out_dir)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    for file in sorted(out.iterdir()):
        print(f"wrote {file} ({file.stat().st_size:,} bytes)")
    print(f"exported {args.model} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
