"""Memory of loading one index version, as served and without each memory saving.

Loads the version directory in this process and prints its RSS after the imports, after the
load, and at peak (VmHWM), in one of three modes:

- `served`: as the bot loads it (sentence vectors left in sentences.npy and read with
  `os.pread` per query, index/sentences.py; repeated strings shared between passages);
- `in-memory`: the sentence vectors read whole into memory at the load
  (`SentenceVectors.from_arrays`, what holding them in the process costs);
- `no-share`: every passage with its own copy of its document id, title and heading path.

Run each mode in its own process (peak RSS is per process), e.g. for every mode:

    version=var/index/versions/$(cat var/index/CURRENT)
    for mode in served in-memory no-share; do
        .venv/bin/python scripts/probe_index_memory.py $mode "$version"
    done

(Figures in docs/benchmarks.md taken before the vectors were read with pread compare `served`,
then memory-mapped, with the former `no-mmap` mode: `np.load` without `mmap_mode`, which is
what `in-memory` measures now.)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index import store
from index.sentences import SentenceVectors

MODES = ("served", "in-memory", "no-share")


def vm_mb(key: str) -> float:
    """A VmXXX figure of this process from /proc/self/status, in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


class _InMemory(SentenceVectors):
    """SentenceVectors as index.store opens them, with every row read into memory."""

    @classmethod
    def open(cls, path: Path, owner: np.ndarray, passages: int) -> SentenceVectors:
        return SentenceVectors.from_arrays(np.load(path), owner, passages)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("version_dir", type=Path, help="var/index/versions/<version>")
    args = parser.parse_args()
    store.warm_up()
    after_imports = vm_mb("VmRSS")
    if args.mode == "in-memory":
        store.SentenceVectors = _InMemory  # type: ignore[misc]
    elif args.mode == "no-share":
        chunk = store.chunk_from_row
        store.chunk_from_row = lambda row, shared=None: chunk(row, None)  # type: ignore[assignment]
    started = time.perf_counter()
    loaded = store.load_version(args.version_dir)
    seconds = time.perf_counter() - started
    sentences: Any = loaded.sentences
    where = ("none" if sentences is None else
             f"read per query from {sentences.path.name}" if sentences.path is not None
             else "held in memory")
    print(f"{args.mode}: {len(loaded.chunks):,} passages loaded in {seconds:.1f} s (sentence "
          f"vectors: {where}); RSS after imports {after_imports:.0f} MB, after the load "
          f"{vm_mb('VmRSS'):.0f} MB, peak {vm_mb('VmHWM'):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
