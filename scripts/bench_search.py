"""Speed and memory benchmark: search, indexing, start-up and peak RSS, in one run.

Measures, on this machine and prints as Markdown tables (with the machine, the versions and
the command):

- search: p50 / p95 per query (`Searcher.search`, hybrid, top 5, the serving embedder) over
  the real knowledge base and synthetic corpora of 10k and 100k passages, next to the bare
  query embedding (`embed_query` of the same embedder) timed in the same loop, and their ratio;
  where the dense index is approximate (HNSW), its recall@10 against exact search over the
  same stored vectors;
- indexing: passages per second of a full `build_index` (the real build path, reference
  embedder) next to the bare `model.encode` of the same passages, and their ratio; an
  incremental re-index after one document changed (seconds, passages re-embedded);
- start-up: wall seconds from launch to the first answer of `partnerbot ask`, and from launch
  of `partnerbot run` to its first getUpdates call against the fake Bot API server
  (tests/support/fakebotapi.py);
- memory: peak RSS (VmHWM) of that bot after answering questions, with the real knowledge
  base and with 100k passages.

The synthetic corpora are Markdown documents with front matter (docs/knowledge-format.md),
written to a temporary knowledge directory from recombined sentences of the real documents,
so the real build path is measured. Building 100k passages embeds them with the model: that
takes minutes (progress is printed); --quick skips the 100k corpus.

Usage (from the repository root, after `bash scripts/setup.sh`):
    .venv/bin/python scripts/bench_search.py [--quick] [--markdown FILE] [--json FILE]
    .venv/bin/python scripts/bench_search.py --report FILE.json   # the tables of a saved run
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_build import (  # noqa: E402
    heartbeat,
    measure_build,
    measure_incremental,
    say,
    synthetic_corpus,
)
from bench_search_report import (  # noqa: E402
    TARGETS,
    _Saved,
    pct,
    report,
)
from processes import interrupt  # noqa: E402  (beside this script)

from index import dense as dense_params  # noqa: E402
from index.corpus import read_corpus  # noqa: E402
from index.dense import DenseIndex  # noqa: E402
from index.embedders import DEFAULT_MODEL, SentenceTransformerEmbedder  # noqa: E402
from index.search import Searcher  # noqa: E402
from index.search import _top as top_scores  # noqa: E402

MODEL = DEFAULT_MODEL
PACKAGES = ("numpy", "torch", "sentence-transformers", "transformers", "onnxruntime",
            "tokenizers", "faiss-cpu", "bm25s", "python-telegram-bot")
FIRST_QUESTION = "What should staff be trained on when managing implementing partners?"


# ----------------------------------------------------------------------------- helpers


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = int(line.split()[1]) / 1024 / 1024
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "-"
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem_gib, 1),
            "os": f"{platform.system()} {platform.release()}", "versions": versions,
            "commit": _commit(), "load_before": os.getloadavg()}


def _commit() -> str:
    """The checked-out commit, and whether the tree has local changes (read-only git)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # never refresh the index file
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, env=env, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):  # e.g. a copy of the tree
        return os.environ.get("BENCH_COMMIT", "unknown")
    return head + (" + local changes" if dirty else "")


def questions() -> list[str]:
    """The dev set's questions, and the follow-ups' both halves."""
    data = yaml.safe_load((ROOT / "eval" / "devset.yaml").read_text(encoding="utf-8"))
    out = [q["question"] for q in data["questions"]]
    for pair in data.get("followups") or []:
        out += [pair["first"], pair["then"]]
    return out


def partnerbot_command() -> list[str]:
    script = Path(sys.executable).parent / "partnerbot"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from bot.cli import main; main()"]


def child_env(data_dir: Path, knowledge_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env.update(PARTNERBOT_DATA_DIR=str(data_dir), PARTNERBOT_KNOWLEDGE_DIR=str(knowledge_dir),
               PARTNERBOT_LOG_LEVEL="WARNING", **extra)
    return env


# ----------------------------------------------------------------------------- set-up


def ensure_onnx(onnx_dir: Path, work: Path) -> Path | None:
    """The ONNX export to serve with: the configured one, else a fresh export in `work`."""
    from index.onnx_embedder import export_problem

    problem = export_problem(MODEL, onnx_dir)
    if problem is None:
        return onnx_dir
    say(f"No usable ONNX export ({problem}); exporting one for the benchmark ...")
    try:
        from index.onnx_export import export_onnx

        return Path(export_onnx(MODEL, work / "models" / MODEL))
    except Exception as exc:  # the bench still runs, serving with sentence-transformers
        say(f"ONNX export failed ({exc}); serving with sentence-transformers")
        return None


def data_dir_with_model(data_dir: Path, onnx_dir: Path | None) -> Path:
    """A data directory whose models/<model> is the ONNX export (a symlink)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if onnx_dir is not None:
        link = data_dir / "models" / MODEL
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(onnx_dir.resolve(), target_is_directory=True)
    return data_dir


def serving_embedder(onnx_dir: Path | None) -> Any:
    if onnx_dir is None:
        embedder: Any = SentenceTransformerEmbedder(MODEL)
    else:
        from index.onnx_embedder import OnnxEmbedder

        embedder = OnnxEmbedder(onnx_dir, MODEL)
    embedder.load()
    return embedder


# ----------------------------------------------------------------------------- measurements


def measure_search(index_dir: Path, embedder: Any, queries: list[str],
                   rounds: int) -> dict[str, Any]:
    """Per query, alternately: bare embed_query, then the full hybrid search."""
    from index.keyword import tokenize

    searcher = Searcher(index_dir, embedder)
    index = searcher.load()
    for q in queries[:10]:  # warm-up
        searcher.search(q, 5)
        embedder.embed_query(q)
    embed_t: list[float] = []
    search_t: list[float] = []
    dense_t: list[float] = []
    bm25_t: list[float] = []
    sort_t: list[float] = []
    part_t: list[float] = []
    same = 0
    clock = time.perf_counter
    for _ in range(rounds):
        for q in queries:
            t0 = clock()
            vector = embedder.embed_query(q)
            t1 = clock()
            searcher.search(q, 5)
            t2 = clock()
            index.dense.search(vector, min(searcher.candidates, index.dense.size))
            t3 = clock()
            scores = index.keyword.weighted_scores(dict.fromkeys(tokenize(q), 1.0))
            t4 = clock()
            by_sort = np.argsort(-scores, kind="stable")[: searcher.candidates]
            t5 = clock()
            by_partition = [i for i, _ in top_scores(scores, searcher.candidates)]
            t6 = clock()
            same += by_partition == [int(i) for i in by_sort if scores[i] > 0]
            part_t.append(t6 - t5)
            embed_t.append(t1 - t0)
            search_t.append(t2 - t1)
            dense_t.append(t3 - t2)
            bm25_t.append(t4 - t3)
            sort_t.append(t5 - t4)
    return {
        "passages": index.dense.size, "dense": index.dense.kind, "queries": len(queries),
        "samples": len(search_t),
        "search_p50": pct(search_t, 50), "search_p95": pct(search_t, 95),
        "embed_p50": pct(embed_t, 50), "embed_p95": pct(embed_t, 95),
        "ratio_p50": pct(search_t, 50) / pct(embed_t, 50),
        "ratio_p95": pct(search_t, 95) / pct(embed_t, 95),
        "dense_p50": pct(dense_t, 50), "bm25_p50": pct(bm25_t, 50),
        "argsort_p50": pct(sort_t, 50), "partition_p50": pct(part_t, 50),
        "partition_same": same / len(part_t),
    }


def measure_recall(version_dir: Path, embedder: Any, queries: list[str],
                   extra_queries: list[str], k: int = 10) -> dict[str, Any]:
    """recall@k of the production HNSW index against exact search, over the stored vectors."""
    vectors = np.load(version_dir / "vectors.npy")
    started = time.perf_counter()
    hnsw = DenseIndex.build(vectors)  # production parameters
    hnsw_build = time.perf_counter() - started
    flat = DenseIndex.build(vectors, hnsw_above=len(vectors) + 1)
    texts = queries + extra_queries
    qv = embedder.embed_documents(texts)
    recall = []
    flat_t: list[float] = []
    hnsw_t: list[float] = []
    for row in qv:
        t0 = time.perf_counter()
        exact = {i for i, _ in flat.search(row, k)}
        t1 = time.perf_counter()
        approx = {i for i, _ in hnsw.search(row, k)}
        t2 = time.perf_counter()
        recall.append(len(exact & approx) / k)
        flat_t.append(t1 - t0)
        hnsw_t.append(t2 - t1)
    return {"kind": hnsw.kind, "recall": float(np.mean(recall)), "min": float(np.min(recall)),
            "queries": len(texts), "flat_p50": pct(flat_t, 50), "hnsw_p50": pct(hnsw_t, 50),
            "hnsw_build_s": hnsw_build, "passages": len(vectors)}


def measure_ask(data_dir: Path, knowledge: Path, runs: int, **env: str) -> dict[str, Any]:
    """Wall time of `partnerbot ask QUESTION` in fresh processes (one warm-up run first)."""
    command = [*partnerbot_command(), "ask", FIRST_QUESTION]
    walls: list[float] = []
    for run in range(runs + 1):
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            proc = subprocess.Popen(command, env=child_env(data_dir, knowledge, **env),
                                    stdout=out, stderr=err)
            code = proc.wait()
            wall = time.perf_counter() - started
            out.seek(0)
            err.seek(0)
            printed, errors = out.read(), err.read()
        if code != 0 or "“" not in printed.decode():  # an answer quotes; a decline does not
            raise RuntimeError(f"partnerbot ask failed ({code}): {errors.decode()[-2000:]}")
        if run:  # run 0 warms the page cache
            walls.append(wall)
    return {"median": statistics.median(walls), "min": min(walls), "max": max(walls),
            "runs": runs}


def _vm(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_bot(data_dir: Path, knowledge: Path, queries: list[str], *, answers: int = 20,
                timeout: float = 600.0, **env: str) -> dict[str, Any]:
    """`partnerbot run` against the fake Bot API: seconds to the first getUpdates, the first
    answer's latency, and peak RSS (VmHWM) after `answers` questions."""
    from tests.support.fakebotapi import FakeBotAPI

    # A new fake server numbers its updates from 1 again; the session log of an earlier run
    # remembers the offset after its last update (as Telegram never reuses an id), and the
    # bot would wait for updates past it. Each run starts with no session log.
    for old in data_dir.glob("partnerbot.db*"):
        old.unlink()
    with FakeBotAPI() as server, tempfile.TemporaryFile() as log:
        started = time.monotonic()
        proc = subprocess.Popen(
            [*partnerbot_command(), "run"], stdout=log, stderr=subprocess.STDOUT,
            env=child_env(data_dir, knowledge, PARTNERBOT_TELEGRAM_TOKEN=server.token,
                          PARTNERBOT_TELEGRAM_API_URL=server.base_url,
                          PARTNERBOT_ALLOWED_USERS="*", **env))
        try:
            polled = None
            while polled is None:
                polled = next((r.at for r in server.requests if r.method == "getUpdates"), None)
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError("the bot exited before polling:\n"
                                       + log.read().decode(errors="replace")[-3000:])
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"the bot did not poll within {timeout:.0f} s")
                time.sleep(0.005)
            ready = polled - started
            first = server.send_text(1001, FIRST_QUESTION)
            server.wait_reply(first, timeout=120)
            first_latency = server.reply_latency(first) or 0.0
            latencies = []
            for n, question in enumerate(queries[:answers]):
                update = server.send_text(2000 + n, question)
                server.wait_reply(update, timeout=120)
                latencies.append(server.reply_latency(update) or 0.0)
            hwm, rss = _vm(proc.pid, "VmHWM"), _vm(proc.pid, "VmRSS")
        finally:
            interrupt(proc)
    return {"ready": ready, "first_answer": first_latency,
            "answer_p50": pct(latencies, 50) if latencies else 0.0,
            "hwm_mb": hwm, "rss_mb": rss, "answers": len(latencies) + 1}


# ----------------------------------------------------------------------------- report


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 100k-passage corpus")
    parser.add_argument("--sizes", default=None,
                        help="synthetic corpus sizes, comma-separated (default 10000,100000; "
                             "--quick: 10000; 0 or empty: none)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the queries")
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument("--bare-sample", type=int, default=2000,
                        help="synthetic corpora: time the bare encodes on this many passages")
    parser.add_argument("--fallback", action="store_true",
                        help="also time start-up with sentence-transformers (PARTNERBOT_ONNX=0)")
    parser.add_argument("--onnx-dir", type=Path, default=ROOT / "var" / "models" / MODEL)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the corpora and indexes here (default: a temp dir, removed)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --workdir and --json of an earlier run: reuse the synthetic "
                             "indexes built there and keep their build and incremental figures "
                             "from the JSON; everything else is measured again")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    parser.add_argument("--report", type=Path, metavar="JSON",
                        help="measure nothing: print the tables of the figures saved in JSON")
    args = parser.parse_args(argv)
    if args.report:
        saved = json.loads(args.report.read_text(encoding="utf-8"))
        print(report(saved["machine"], saved["command"], saved["results"]))
        return 0
    sizes_arg = args.sizes if args.sizes is not None else ("10000" if args.quick
                                                           else "10000,100000")
    sizes = [int(s) for s in sizes_arg.split(",") if s.strip() and int(s) > 0]
    if args.reuse and not (args.workdir and args.json and args.json.is_file()):
        parser.error("--reuse needs --workdir and --json of an earlier run")
    earlier_run = json.loads(args.json.read_text(encoding="utf-8")) if args.reuse else {}
    earlier = earlier_run.get("results", {})
    command = " ".join([".venv/bin/python", "scripts/bench_search.py", *(argv or sys.argv[1:])])

    import faiss
    import torch

    info = machine()
    info["started"] = dt.datetime.now().isoformat(timespec="seconds")
    if args.reuse:
        info["reused"] = (f"the synthetic corpora's indexes, build and incremental figures from "
                          f"the run of {earlier_run['machine']['started']} "
                          f"(commit {earlier_run['machine']['commit']})")
    info["torch_threads"] = torch.get_num_threads()
    info["faiss_threads"] = faiss.omp_get_max_threads()
    began = time.perf_counter()
    work_ctx: Any = (contextlib.nullcontext(str(args.workdir)) if args.workdir
                     else tempfile.TemporaryDirectory(prefix="bench-search-"))
    results: dict[str, dict[str, Any]] = {}
    with work_ctx as work_name:
        work = Path(work_name)
        work.mkdir(parents=True, exist_ok=True)
        partial = args.json or work / "results.json"

        def save() -> None:  # after every figure: a long run that stops keeps what it got
            partial.write_text(json.dumps({"machine": info, "command": command,
                                           "results": results}, indent=1, default=str))

        results.update({k: _Saved(save) for k in (
            "search", "recall", "build", "incremental", "startup", "memory")})
        onnx_dir = ensure_onnx(args.onnx_dir, work)
        info["serving"] = f"ONNX Runtime ({onnx_dir})" if onnx_dir else "sentence-transformers"
        queries = questions()
        say(f"{len(queries)} queries from eval/devset.yaml; corpora: real"
            + "".join(f", {n:,}" for n in sizes))

        say("Loading the reference embedder (sentence-transformers) ...")
        reference = SentenceTransformerEmbedder(MODEL)
        reference.load()
        embedder = serving_embedder(onnx_dir)
        info["ort_threads"] = getattr(embedder, "threads", "-")

        # --- the real knowledge base
        real = work / "real"
        shutil.rmtree(real, ignore_errors=True)  # a fresh copy: an earlier run edited it
        shutil.copytree(ROOT / "knowledge", real / "knowledge")
        real_data = data_dir_with_model(real / "var", onnx_dir)
        real_docs = real / "knowledge" / "docs"
        real_chunks = [c for d in read_corpus(real_docs) for c in d.chunks]
        reference.embed_documents([c.embed_text for c in real_chunks[:64]])  # warm-up
        say(f"Real knowledge base: {len(real_chunks)} passages; full builds ...")
        results["build"]["real"] = measure_build(
            real_docs, real_data / "index", reference, sample=real_chunks,
            passages=len(real_chunks), rounds=3, label="real")
        say("Real knowledge base: search ...")
        results["search"]["real (ONNX)"] = {
            **measure_search(real_data / "index", embedder, queries, args.rounds),
            "target": TARGETS["search_real"]}
        if onnx_dir is not None:
            results["search"]["real (sentence-transformers)"] = measure_search(
                real_data / "index", reference, queries, 1)

        say("Start-up: partnerbot ask ...")
        results["startup"]["partnerbot ask (first answer)"] = {
            **measure_ask(real_data, real / "knowledge", args.startup_runs),
            "target": TARGETS["startup"]}
        if args.fallback:
            results["startup"]["partnerbot ask, sentence-transformers (PARTNERBOT_ONNX=0)"] = \
                measure_ask(real_data, real / "knowledge", 2, PARTNERBOT_ONNX="false")
        say("Start-up: partnerbot run (fake Bot API) ...")
        bots = [measure_bot(real_data, real / "knowledge", queries)
                for _ in range(max(1, min(args.startup_runs, 3)))]
        ready = [b["ready"] for b in bots]
        results["startup"]["partnerbot run (ready: first getUpdates)"] = {
            "median": statistics.median(ready), "min": min(ready), "max": max(ready),
            "runs": len(ready), "target": TARGETS["startup"]}
        results["memory"]["bot, real knowledge base"] = {
            **max(bots, key=lambda b: b["hwm_mb"]), "target": TARGETS["rss_real_mb"]}
        if args.fallback:
            fb = measure_bot(real_data, real / "knowledge", queries, PARTNERBOT_ONNX="false")
            results["startup"]["partnerbot run, sentence-transformers (PARTNERBOT_ONNX=0)"] = {
                "median": fb["ready"], "min": fb["ready"], "max": fb["ready"], "runs": 1}
            results["memory"]["bot, sentence-transformers (PARTNERBOT_ONNX=0)"] = fb
        say("Real knowledge base: incremental re-index ...")
        results["incremental"]["real"] = measure_incremental(real_docs, real_data / "index",
                                                             reference)

        # --- synthetic corpora
        for size in sizes:
            name = f"synthetic {size // 1000}k"
            base = work / f"syn{size}"
            reuse = (args.reuse and (base / "var" / "index" / "CURRENT").is_file()
                     and name in earlier.get("build", {}))
            if reuse:
                say(f"{name}: reusing the index in {base}; build figures from {args.json}")
                docs = base / "knowledge" / "docs"
            else:
                say(f"{name}: writing {size:,} passages as Markdown ...")
                docs = synthetic_corpus(base / "knowledge", size)
                shutil.copytree(ROOT / "knowledge" / "checklists",
                                base / "knowledge" / "checklists")
            data = data_dir_with_model(base / "var", onnx_dir)
            syn_chunks = [c for d in read_corpus(docs) for c in d.chunks]
            syn_texts = [c.embed_text for c in syn_chunks]
            if reuse:
                results["build"][name] = earlier["build"][name]
            else:
                sample = random.Random(3).sample(syn_chunks,
                                                 min(args.bare_sample, len(syn_chunks)))
                results["build"][name] = measure_build(
                    docs, data / "index", reference, sample=sample, passages=len(syn_chunks),
                    rounds=1, label=name)
            say(f"{name}: search ...")
            target = TARGETS["search_100k"] if size >= 100_000 else None
            results["search"][name] = {
                **measure_search(data / "index", embedder, queries, 2 if size < 50_000 else 1),
                "target": target}
            version = (data / "index" / "CURRENT").read_text().strip()
            vdir = data / "index" / "versions" / version
            if size > dense_params.HNSW_ABOVE:
                say(f"{name}: HNSW recall@10 against exact search ...")
                extra = random.Random(5).sample(syn_texts, 300)
                extra = [t.split("\n", 1)[-1][:300] for t in extra]
                results["recall"][name] = measure_recall(vdir, embedder, queries, extra)
            say(f"{name}: bot memory and start-up ...")
            bot = measure_bot(data, base / "knowledge", queries)
            results["memory"][f"bot, {name}"] = {
                **bot, "target": TARGETS["rss_100k_mb"] if size >= 100_000 else None}
            results["startup"][f"partnerbot run, {name} (ready)"] = {
                "median": bot["ready"], "min": bot["ready"], "max": bot["ready"], "runs": 1}
            if reuse and name in earlier.get("incremental", {}):
                results["incremental"][name] = earlier["incremental"][name]
                continue
            say(f"{name}: incremental re-index ...")
            with heartbeat(f"{name} incremental re-index"):
                results["incremental"][name] = measure_incremental(docs, data / "index",
                                                                   reference)
    info["load_after"] = os.getloadavg()
    info["seconds"] = time.perf_counter() - began
    text = report(info, command, results)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "command": command,
                                         "results": results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
