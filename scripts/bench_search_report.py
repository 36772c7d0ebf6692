"""The Markdown report of scripts/bench_search.py: the tables, against the targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from index import dense as dense_params

TARGETS = {
    "search_real": 1.5, "search_100k": 2.0, "recall": 0.98, "build": 0.9,
    "startup": 1.5, "rss_real_mb": 400, "rss_100k_mb": 1024,
}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def rest_p50(r: dict[str, Any]) -> float:
    """Median search time left after the embedding, dense search, BM25 scoring and top-100."""
    return max(r["search_p50"] - r["embed_p50"] - r["dense_p50"] - r["bm25_p50"]
               - r["partition_p50"], 0.0)


def _hnsw_params() -> str:
    d = dense_params
    return (f"HNSW above {d.HNSW_ABOVE:,} passages, M {d.HNSW_M}, efConstruction "
            f"{d.HNSW_EF_CONSTRUCTION}, efSearch {d.HNSW_EF_SEARCH}")


def fmt_target(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "**not met**")


def _at_most(value: float, target: float | None, unit: str) -> str:
    """The target cell of a figure that must stay at most `target`."""
    return "-" if target is None else f"<= {target} {unit}: {fmt_target(value <= target)}"


def report(info: dict[str, Any], command: str, results: dict[str, Any]) -> str:
    v = info["versions"]
    out = [
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['mem_gib']} GiB RAM, "
        f"{info['os']}; load average at start {info['load_before'][0]:.2f}, at end "
        f"{info.get('load_after', (0.0,))[0]:.2f}",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"Commit: {info['commit']}; run {info['started']}; "
        + (f"{info['seconds']:.0f} s in all" if "seconds" in info else "unfinished run"),
        f"Command: `{command}`",
        f"Threads: torch {info['torch_threads']}, onnxruntime {info['ort_threads']}, "
        f"faiss {info['faiss_threads']}; query embedder for serving: {info['serving']}",
        *([f"Reused: {info['reused']}"] if info.get("reused") else []),
        "",
    ]
    search = results.get("search", {})
    if search:
        out += ["Search (hybrid, top 5; each query of eval/devset.yaml timed "
                "after its bare embedding):", "",
                "| corpus | passages | dense index | search p50 ms | search p95 ms | "
                "bare embed p50 ms | bare embed p95 ms | ratio p50 | ratio p95 | target p95 |",
                "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
        for name, r in search.items():
            target = r.get("target")
            ok = None if target is None else r["ratio_p95"] <= target
            tgt = "-" if target is None else f"<= {target}x: {fmt_target(ok)}"
            out.append(f"| {name} | {r['passages']:,} | {r['dense']} | {ms(r['search_p50'])} | "
                       f"{ms(r['search_p95'])} | {ms(r['embed_p50'])} | {ms(r['embed_p95'])} | "
                       f"{r['ratio_p50']:.2f} | {r['ratio_p95']:.2f} | {tgt} |")
        out += ["", "Where the search time goes (medians, ms; timed separately after each "
                "search):", "",
                "| corpus | embed | dense top-100 | BM25 scores (all passages) | "
                "BM25 top-100 by partition (`index.search._top`) | rest (query analysis, "
                "fusion, sentences, coverage) | for comparison: a full argsort of the BM25 "
                "scores |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for name, r in search.items():
            out.append(f"| {name} | {ms(r['embed_p50'])} | {ms(r['dense_p50'])} | "
                       f"{ms(r['bm25_p50'])} | {ms(r['partition_p50'])} | {ms(rest_p50(r))} | "
                       f"{ms(r['argsort_p50'])} (same top-100 ids: "
                       f"{r['partition_same']:.0%} of queries) |")
        out += ["", "Where the two top-100 differ, they differ only in which of the passages "
                "tied at the 100th score is kept: a partition keeps any of them, the stable "
                "sort the first."]
        out.append("")
    recall = results.get("recall", {})
    if recall:
        out += [f"Approximate dense index ({_hnsw_params()}) against exact search over the "
                "same stored vectors (queries: the dev set and 300 passage excerpts):", "",
                "| corpus | queries | recall@10 | worst query | exact ms p50 | HNSW ms p50 | "
                "HNSW build s | target |", "|---|---:|---:|---:|---:|---:|---:|---|"]
        for name, r in recall.items():
            ok = r["recall"] >= TARGETS["recall"]
            out.append(f"| {name} | {r['queries']} | {r['recall']:.4f} | {r['min']:.1f} | "
                       f"{ms(r['flat_p50'])} | {ms(r['hnsw_p50'])} | {r['hnsw_build_s']:.1f} | "
                       f">= {TARGETS['recall']}: {fmt_target(ok)} |")
        out.append("")
    build = results.get("build", {})
    if build:
        out += ["Indexing: a full build into an empty index with the reference embedder (model "
                "loaded), against the bare `model.encode` calls on the same passages: of the "
                "passages alone, and of everything the build embeds for them (the passages, "
                "then every sentence of every passage for the sentence vectors). Best of "
                "the rounds, or for one long build the bare encodes before and after it "
                "averaged; a sample of the passages for the bare encodes of big corpora.", "",
                "| corpus | passages | full build s | build passages/s | bare encode, passages "
                "alone: passages/s | ratio | target | bare encode of all it embeds: "
                "passages/s (texts) | ratio | ratio of CPU time | phases of the build (s) |",
                "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|"]
        for name, r in build.items():
            ok = r["ratio"] >= TARGETS["build"]
            sample = "" if r["bare_sample"] == r["passages"] else \
                f" (sample {r['bare_sample']:,})"
            out.append(
                f"| {name} | {r['passages']:,} | {r['build_s']:.1f} | {r['build_pps']:.1f} | "
                f"{r['bare_pps']:.1f}{sample} | {r['ratio']:.2f} | >= {TARGETS['build']}: "
                f"{fmt_target(ok)} | {r['bare_all_pps']:.1f} ({r['bare_all_texts']:,}) | "
                f"{r['ratio_all']:.2f} | {r['cpu_ratio_all']:.2f} | {_phases(r['phases'])} |")
        out.append("")
    inc = results.get("incremental", {})
    if inc:
        out += ["Incremental re-index after one document changed (every numbered paragraph "
                "of the first document edited):", "",
                "| corpus | document | passages changed | re-embedded | unchanged | seconds | "
                "phases |", "|---|---|---:|---:|---:|---:|---|"]
        for name, r in inc.items():
            out.append(f"| {name} | {r['document']} | {r['changed']} | {r['reembedded']} | "
                       f"{r['unchanged']:,} | {r['seconds']:.1f} | {_phases(r['phases'])} |")
        out.append("")
    start = results.get("startup", {})
    if start:
        out += ["Start-up (fresh processes; median of the runs after one warm-up run):", "",
                "| what | median s | min s | max s | runs | target |",
                "|---|---:|---:|---:|---:|---|"]
        for name, r in start.items():
            tgt = _at_most(r["median"], r.get("target"), "s")
            out.append(f"| {name} | {r['median']:.2f} | {r['min']:.2f} | {r['max']:.2f} | "
                       f"{r['runs']} | {tgt} |")
        out.append("")
    mem = results.get("memory", {})
    if mem:
        out += ["Memory (peak RSS = VmHWM of the `partnerbot run` process after answering "
                "21 questions):", "",
                "| what | peak RSS MB | RSS at end MB | first answer s | answer p50 s | "
                "target |", "|---|---:|---:|---:|---:|---|"]
        for name, r in mem.items():
            tgt = _at_most(r["hwm_mb"], r.get("target"), "MB")
            out.append(f"| {name} | {r['hwm_mb']:.0f} | {r.get('rss_mb', 0):.0f} | "
                       f"{r.get('first_answer', 0):.3f} | {r.get('answer_p50', 0):.3f} | {tgt} |")
        out.append("")
    return "\n".join(out)


class _Saved(dict):  # type: ignore[type-arg]
    """A dict that calls `save` whenever a figure is stored in it."""

    def __init__(self, save: Callable[[], None]) -> None:
        super().__init__()
        self._save = save

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self._save()


def _phases(timings: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in timings.items()) or "-"
