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
import functools
import importlib.metadata
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index import dense as dense_params  # noqa: E402
from index.build import build_index  # noqa: E402
from index.corpus import read_corpus  # noqa: E402
from index.dense import DenseIndex  # noqa: E402
from index.embedders import DEFAULT_MODEL, SentenceTransformerEmbedder  # noqa: E402
from index.search import Searcher  # noqa: E402
from index.search import _top as top_scores  # noqa: E402

MODEL = DEFAULT_MODEL
TARGETS = {
    "search_real": 1.5, "search_100k": 2.0, "recall": 0.98, "build": 0.9,
    "startup": 1.5, "rss_real_mb": 400, "rss_100k_mb": 1024,
}
PACKAGES = ("numpy", "torch", "sentence-transformers", "transformers", "onnxruntime",
            "tokenizers", "faiss-cpu", "bm25s", "python-telegram-bot")
FIRST_QUESTION = "What should staff be trained on when managing implementing partners?"
_SENTENCE = re.compile(r"(?<=[.;!?])\s+(?=[A-Z(\"“])")
_LEADING_MARK = re.compile(r"^(?:\d{1,4}\.\s+|[-*+]\s+|\([a-z]{1,4}\)\s+|\[\d+\]\s*)+")


# ----------------------------------------------------------------------------- helpers


def say(message: str) -> None:
    """Progress goes to standard error; the tables go to standard output."""
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def heartbeat(label: str, expected: float | None = None, every: float = 30.0) -> Iterator[None]:
    """Print the elapsed time every `every` seconds while a long step runs."""
    done = threading.Event()
    started = time.perf_counter()

    def beat() -> None:
        while not done.wait(every):
            elapsed = time.perf_counter() - started
            eta = f" of ~{expected:.0f} s expected" if expected else ""
            say(f"    ... {label}: {elapsed:.0f} s{eta}")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


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


def synthetic_corpus(target: Path, passages: int, seed: int = 7,
                     per_doc: int = 100) -> Path:
    """Markdown documents of `passages` numbered paragraphs made of real sentences.

    Each paragraph takes the length of a random real passage and is filled with random
    sentences of the real documents, so lengths and vocabulary match the real corpus.
    """
    real = [c for d in read_corpus(ROOT / "knowledge" / "docs") for c in d.chunks]
    sentences: list[str] = []
    for chunk in real:
        for line in chunk.text.splitlines():
            for sentence in _SENTENCE.split(_LEADING_MARK.sub("", line.strip())):
                sentence = _LEADING_MARK.sub("", sentence).strip()
                if 25 <= len(sentence) <= 600 and not sentence.startswith(("#", "[", "|")):
                    sentences.append(sentence)
    lengths = [len(c.text) for c in real]
    rng = random.Random(seed)
    docs = target / "docs"
    docs.mkdir(parents=True)
    made = 0
    number = 0
    while made < passages:
        number += 1
        count = min(per_doc, passages - made)
        lines = ["---", f"title: Synthetic guidance note {number}", f"symbol: SYN/{number}",
                 "organization: Benchmark corpus (recombined sentences of the knowledge base)",
                 "date: 2024-01-01", "kind: synthetic", f"source: synthetic-{number}.txt", "---",
                 "", f"# Synthetic guidance note {number}", ""]
        for para in range(1, count + 1):
            if para % 20 == 1:
                lines += [f"## Section {para // 20 + 1}. {rng.choice(sentences)[:60]}", ""]
            want = rng.choice(lengths)
            words: list[str] = []
            size = 0
            while size < want:
                sentence = rng.choice(sentences)
                words.append(sentence)
                size += len(sentence) + 1
            lines += [f"{para}. " + " ".join(words), ""]
        (docs / f"synthetic-{number:05d}.md").write_text("\n".join(lines), encoding="utf-8")
        made += count
    return docs


def revise_one_document(docs: Path) -> tuple[str, int]:
    """Change every numbered paragraph of the first document; (its name, passages changed)."""
    path = sorted(docs.glob("*.md"))[0]
    before = {c.id for d in read_corpus(docs) for c in d.chunks}
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^(\d{1,4}\.[ \t].*\S)[ \t]*$", r"\1 (Revised.)", text, flags=re.MULTILINE)
    path.write_text(text, encoding="utf-8")
    after = {c.id for d in read_corpus(docs) for c in d.chunks}
    return path.stem, len(after - before)


# ----------------------------------------------------------------------------- measurements


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds of this process, all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def bare_encode(reference: SentenceTransformerEmbedder, calls: list[list[str]]) -> None:
    """The bare `model.encode` calls the build makes (one per list of texts)."""
    for texts in calls:
        if texts:
            reference._model.encode(texts, batch_size=reference.batch_size,
                                    normalize_embeddings=True, convert_to_numpy=True)


def embedded_texts(chunks: list[Any]) -> list[list[str]]:
    """What a build embeds for these passages, one list per `embed_documents` call: the
    passages, then (when the index stores sentence vectors, index/sentences.py) every
    sentence of every passage."""
    calls = [[c.embed_text for c in chunks]]
    try:
        from index.sentences import sentence_texts  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return calls
    return [*calls, [t for c in chunks for t in sentence_texts(c)]]


def measure_build(docs: Path, index_dir: Path, reference: SentenceTransformerEmbedder,
                  *, sample: list[Any], passages: int, rounds: int,
                  label: str) -> dict[str, Any]:
    """Full builds (each into an empty index) alternating with bare encodes of `sample`.

    Two bare figures: the passages alone (`model.encode` of the same passages), and
    everything the build embeds for them (the passages and, when built, their sentences).
    With several rounds the best (shortest) time of each is used, the usual estimate on a
    machine other processes share; with one round (a long build) the bare encodes are timed
    before and after the build and averaged, so both see the same conditions.
    """
    calls = embedded_texts(sample)
    times: dict[str, list[float]] = {"passages": [], "all": [], "build": []}
    cpu: dict[str, list[float]] = {"passages": [], "all": [], "build": []}
    timings: dict[str, float] = {}
    n = len(sample)

    def bare(when: str) -> None:
        for key, work in (("passages", calls[:1]), ("all", calls)):
            if key == "all" and len(calls) == 1:
                times["all"].append(times["passages"][-1])
                cpu["all"].append(cpu["passages"][-1])
                continue
            texts = sum(len(t) for t in work)
            with heartbeat(f"{label} bare encode of {texts:,} texts"):
                _, wall, used = timed(functools.partial(bare_encode, reference, work))
            times[key].append(wall)
            cpu[key].append(used)
            say(f"  {label}: bare encode ({key}: {texts:,} texts) {n / wall:.1f} passages/s "
                f"({when})")

    for round_no in range(rounds):
        bare(f"round {round_no + 1}")
        shutil.rmtree(index_dir, ignore_errors=True)
        expected = passages * times["all"][-1] / n
        with heartbeat(f"{label} full build", expected=expected):
            report, wall, used = timed(lambda: build_index(
                docs, index_dir, reference, progress=lambda m: say(f"    {m}")))
        times["build"].append(wall)
        cpu["build"].append(used)
        timings = dict(getattr(report, "timings", None) or {})
        say(f"  {label}: full build {passages / wall:.1f} passages/s "
            f"({wall:.1f} s; {_phases(timings)})")
    if rounds == 1:
        bare("after the build")
    pick: Callable[[list[float]], float] = statistics.mean if rounds == 1 else min
    best = {k: pick(v) if k != "build" or rounds > 1 else v[0] for k, v in times.items()}
    best_cpu = {k: pick(v) if k != "build" or rounds > 1 else v[0] for k, v in cpu.items()}
    build_pps = passages / best["build"]
    bare_pps = n / best["passages"]
    all_pps = n / best["all"]
    return {"passages": passages, "bare_sample": n, "bare_pps": bare_pps,
            "bare_all_pps": all_pps, "bare_all_texts": sum(len(t) for t in calls),
            "build_s": best["build"], "build_pps": build_pps, "ratio": build_pps / bare_pps,
            "ratio_all": build_pps / all_pps,
            "cpu_ratio_all": (passages / best_cpu["build"]) / (n / best_cpu["all"]),
            "phases": timings, "rounds": rounds, "runs": times}


def _phases(timings: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in timings.items()) or "-"


def measure_incremental(docs: Path, index_dir: Path,
                        reference: SentenceTransformerEmbedder) -> dict[str, Any]:
    name, changed = revise_one_document(docs)
    started = time.perf_counter()
    report = build_index(docs, index_dir, reference)
    seconds = time.perf_counter() - started
    timings = dict(getattr(report, "timings", None) or {})
    return {"document": name, "changed": changed, "reembedded": report.added,
            "unchanged": report.unchanged, "seconds": seconds, "phases": timings}


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


def rest_p50(r: dict[str, Any]) -> float:
    """Median search time left after the embedding, dense search, BM25 scoring and top-100."""
    return max(r["search_p50"] - r["embed_p50"] - r["dense_p50"] - r["bm25_p50"]
               - r["partition_p50"], 0.0)


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
        if code != 0 or b"[1]" not in printed:
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
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {"ready": ready, "first_answer": first_latency,
            "answer_p50": pct(latencies, 50) if latencies else 0.0,
            "hwm_mb": hwm, "rss_mb": rss, "answers": len(latencies) + 1}


# ----------------------------------------------------------------------------- report


def _hnsw_params() -> str:
    d = dense_params
    return (f"HNSW above {d.HNSW_ABOVE:,} passages, M {d.HNSW_M}, efConstruction "
            f"{d.HNSW_EF_CONSTRUCTION}, efSearch {d.HNSW_EF_SEARCH}")


def fmt_target(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "**not met**")


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
            target = r.get("target")
            ok = None if target is None else r["median"] <= target
            tgt = "-" if target is None else f"<= {target} s: {fmt_target(ok)}"
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
            target = r.get("target")
            ok = None if target is None else r["hwm_mb"] <= target
            tgt = "-" if target is None else f"<= {target} MB: {fmt_target(ok)}"
            out.append(f"| {name} | {r['hwm_mb']:.0f} | {r.get('rss_mb', 0):.0f} | "
                       f"{r.get('first_answer', 0):.3f} | {r.get('answer_p50', 0):.3f} | {tgt} |")
        out.append("")
    return "\n".join(out)


# ----------------------------------------------------------------------------- main


class _Saved(dict):  # type: ignore[type-arg]
    """A dict that calls `save` whenever a figure is stored in it."""

    def __init__(self, save: Callable[[], None]) -> None:
        super().__init__()
        self._save = save

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self._save()


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
