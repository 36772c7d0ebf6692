"""Memory of loading one index version, as served and without each memory saving.

Loads the version directory in this process and prints its RSS after the imports, after the
load, and at peak (VmHWM), in one of three modes:

- `served`: as the bot loads it (sentence vectors memory-mapped, repeated strings shared);
- `no-mmap`: the sentence vectors read into memory (as before they were memory-mapped);
- `no-share`: every passage with its own copy of its document id, title and heading path.

Run each mode in its own process (peak RSS is per process), e.g. for every mode:

    version=var/index/versions/$(cat var/index/CURRENT)
    for mode in served no-mmap no-share; do
        .venv/bin/python scripts/probe_index_memory.py $mode "$version"
    done
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

MODES = ("served", "no-mmap", "no-share")


def vm_mb(key: str) -> float:
    """A VmXXX figure of this process from /proc/self/status, in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


class _NumpyWithoutMmap:
    """numpy as index.store sees it, with `np.load` ignoring `mmap_mode`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def load(path: Any, mmap_mode: str | None = None, **kwargs: Any) -> Any:
        return np.load(path, **kwargs)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("version_dir", type=Path, help="var/index/versions/<version>")
    args = parser.parse_args()
    store.warm_up()
    after_imports = vm_mb("VmRSS")
    if args.mode == "no-mmap":
        store.np = _NumpyWithoutMmap()  # type: ignore[assignment]
    elif args.mode == "no-share":
        chunk = store.chunk_from_row
        store.chunk_from_row = lambda row, shared=None: chunk(row, None)  # type: ignore[assignment]
    started = time.perf_counter()
    loaded = store.load_version(args.version_dir)
    seconds = time.perf_counter() - started
    print(f"{args.mode}: {len(loaded.chunks):,} passages loaded in {seconds:.1f} s; RSS after "
          f"imports {after_imports:.0f} MB, after the load {vm_mb('VmRSS'):.0f} MB, "
          f"peak {vm_mb('VmHWM'):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
