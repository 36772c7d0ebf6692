"""Retrieval and abstention quality on the dev set (eval/devset.yaml).

Prints recall@1, recall@5 and MRR@10 for BM25 alone, dense alone and hybrid; follow-up recall
with and without the previous question; the abstention precision and recall of `ask` at the
configured threshold, with a sweep of the confidence threshold for calibration; and the search
time against the bare query-embedding time.

The threshold (bot/settings.py DEFAULT_THRESHOLD) is calibrated on this same dev set, so the
abstention numbers are optimistic: they are measured on the questions used to choose it.

Usage: .venv/bin/python scripts/eval_retrieval.py [--devset eval/devset.yaml] [--sweep] [--misses]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.answers import answer_question, grounding_score, search_query
from bot.services import make_searcher, reference_embedder
from bot.settings import load_settings
from index.build import build_index
from index.queries import expand_acronyms, normalise
from index.search import (
    CONFIDENCE_COSINE_WEIGHT,
    COVERAGE_PASSAGES,
    SENTENCE_COSINE_WEIGHT,
    SENTENCE_PASSAGES,
    Searcher,
)
from index.store import current_version


def relevant(hit_source: str, hit_locator: str, expected: list[dict]) -> bool:
    return any(e["doc"] == hit_source and e["locator"] == hit_locator for e in expected)


def first_rank(searcher: Searcher, question: str, expected: list[dict], mode: str = "hybrid",
               depth: int = 10) -> int | None:
    hits = searcher.search(question, depth, mode=mode).hits
    ranks = [i for i, h in enumerate(hits, 1) if relevant(h.chunk.source, h.chunk.locator,
                                                           expected)]
    return ranks[0] if ranks else None


def rank_metrics(searcher: Searcher, items: list[tuple[str, list[dict]]],
                 mode: str) -> dict[str, float]:
    r1 = r5 = mrr = 0.0
    for question, expected in items:
        first = first_rank(searcher, question, expected, mode)
        r1 += first == 1
        r5 += first is not None and first <= 5
        mrr += 1.0 / first if first else 0.0
    n = max(len(items), 1)
    return {"recall@1": r1 / n, "recall@5": r5 / n, "MRR@10": mrr / n}


def timing(searcher: Searcher, questions: list[str], rounds: int = 3) -> tuple[float, float]:
    """Median seconds of a hybrid search and of the bare query embedding, interleaved."""
    searches: list[float] = []
    embeds: list[float] = []
    for question in questions[:5]:  # warm up
        searcher.search(question, 5)
    for _ in range(rounds):
        for question in questions:
            text = expand_acronyms(normalise(question))
            started = time.perf_counter()
            searcher.embedder.embed_query(text)
            embeds.append(time.perf_counter() - started)
            started = time.perf_counter()
            searcher.search(question, 5)
            searches.append(time.perf_counter() - started)
    return statistics.median(searches), statistics.median(embeds)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devset", type=Path, default=Path("eval/devset.yaml"))
    parser.add_argument("--sweep", action="store_true", help="print a threshold sweep")
    parser.add_argument("--misses", action="store_true",
                        help="list hybrid misses at 5, and answerable questions declined")
    args = parser.parse_args()
    settings = load_settings()
    data = yaml.safe_load(args.devset.read_text(encoding="utf-8"))
    questions = data["questions"]
    in_scope = [(q["question"], q["expected"]) for q in questions if q["expected"]]
    out_scope = [q["question"] for q in questions if not q["expected"]]
    if current_version(settings.index_dir) is None:
        build_index(settings.docs_dir, settings.index_dir, reference_embedder(settings))
    searcher = make_searcher(settings)
    searcher.load()
    print(f"Dev set: {len(in_scope)} questions with answers, {len(out_scope)} out of scope, "
          f"{len(data.get('followups', []))} follow-ups; index {searcher.index.version}, "
          f"embedder {type(searcher.embedder).__name__}\n")
    print("| method | recall@1 | recall@5 | MRR@10 |\n|---|---|---|---|")
    for mode, name in (("keyword", "BM25 alone"), ("dense", "dense alone"),
                       ("hybrid-rrf", "hybrid, reciprocal rank fusion (k=60)"),
                       ("hybrid", "hybrid, weighted score fusion (served)")):
        m = rank_metrics(searcher, in_scope, mode)
        print(f"| {name} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['MRR@10']:.3f} |")
    followups = data.get("followups", [])
    if followups:
        alone = [(f["then"], f["expected"]) for f in followups]
        joined = [(search_query(f["then"], f["first"])[0], f["expected"]) for f in followups]
        a, j = rank_metrics(searcher, alone, "hybrid"), rank_metrics(searcher, joined, "hybrid")
        print(f"| follow-ups, question alone | {a['recall@1']:.3f} | {a['recall@5']:.3f} | "
              f"{a['MRR@10']:.3f} |")
        print(f"| follow-ups, with previous question | {j['recall@1']:.3f} | "
              f"{j['recall@5']:.3f} | {j['MRR@10']:.3f} |")
    if args.misses:
        print()
        for question, expected in in_scope:
            first = first_rank(searcher, question, expected)
            if first is None or first > 5:
                hits = searcher.search(question, 5).hits
                got = "; ".join(h.chunk.citation for h in hits[:3])
                want = "; ".join(f"{e['doc']} {e['locator']}" for e in expected)
                print(f"MISS {question!r} (first expected at rank {first or '>10'})\n"
                      f"  want {want}\n  got  {got}")
    started = time.perf_counter()
    conf_in = [grounding_score(searcher.search(q, 5)) for q, _ in in_scope]
    conf_out = [grounding_score(searcher.search(q, 5)) for q in out_scope]
    threshold = settings.threshold
    answers = [answer_question(q, searcher, threshold=threshold)
               for q in [q for q, _ in in_scope] + out_scope]
    declined = [not a.grounded for a in answers]
    declined_in = sum(declined[: len(in_scope)])
    declined_out = sum(declined[len(in_scope):])
    total_declined = declined_in + declined_out
    precision = declined_out / total_declined if total_declined else 1.0
    recall = declined_out / len(out_scope) if out_scope else 1.0
    print(f"\nAbstention at threshold {threshold:.3f} (calibrated on this same dev set): "
          f"precision {precision:.3f}, recall {recall:.3f} ({declined_out}/{len(out_scope)} "
          f"out-of-scope declined, {declined_in}/{len(in_scope)} answerable questions declined)")
    if args.misses:
        for (question, _), answer in zip(in_scope, answers, strict=False):
            if not answer.grounded:
                print(f"  declined (confidence {answer.top_score:.3f}): {question}")
        for question, answer in zip(out_scope, answers[len(in_scope):], strict=True):
            if answer.grounded:
                print(f"  ANSWERED out of scope (confidence {answer.top_score:.3f}): {question}")
    if args.sweep and conf_in and conf_out:
        w, cosine = CONFIDENCE_COSINE_WEIGHT, "best cosine"
        if searcher.index.sentences is not None:
            w = SENTENCE_COSINE_WEIGHT
            cosine = f"best sentence cosine in the top {SENTENCE_PASSAGES} passages"
        print(f"\nConfidence = {w:g} x {cosine} + {1 - w:g} x best coverage of the question's "
              f"terms by one of the top {COVERAGE_PASSAGES} passages (index/search.py).")
        print("\n| threshold | answerable answered | out-of-scope declined |\n|---|---|---|")
        for t in [x / 100 for x in range(40, 76, 2)]:
            answered = sum(s >= t for s in conf_in) / len(conf_in)
            refused = sum(s < t for s in conf_out) / len(conf_out)
            print(f"| {t:.2f} | {answered:.3f} | {refused:.3f} |")
        print(f"\nmax out-of-scope confidence {max(conf_out):.3f}; "
              f"min answerable confidence {min(conf_in):.3f}; answerable above every "
              f"out-of-scope question: {sum(s > max(conf_out) for s in conf_in)}/{len(conf_in)}"
              f"; next answerable confidence above it "
              f"{min((s for s in conf_in if s > max(conf_out)), default=float('nan')):.3f}")
    print(f"\n({time.perf_counter() - started:.1f} s for the abstention pass)")
    search_s, embed_s = timing(searcher, [q for q, _ in in_scope] + out_scope)
    print(f"Median search {search_s * 1000:.1f} ms vs bare query embedding "
          f"{embed_s * 1000:.1f} ms ({search_s / embed_s:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
