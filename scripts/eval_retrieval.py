"""Retrieval and abstention quality on the dev set (eval/devset.yaml).

Prints recall@1, recall@5 and MRR@10 for BM25 alone, dense alone and hybrid; follow-up recall
with and without the previous question; and the abstention precision and recall of `ask`
at the configured threshold, with a threshold sweep for calibration.

Usage: .venv/bin/python scripts/eval_retrieval.py [--devset eval/devset.yaml] [--sweep]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.answers import answer_question, search_query  # noqa: E402
from bot.services import make_searcher, reference_embedder  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from index.build import build_index  # noqa: E402
from index.store import current_version  # noqa: E402


def relevant(hit_source: str, hit_locator: str, expected: list[dict]) -> bool:
    return any(e["doc"] == hit_source and e["locator"] == hit_locator for e in expected)


def rank_metrics(searcher, items: list[tuple[str, list[dict]]], mode: str) -> dict[str, float]:
    r1 = r5 = mrr = 0.0
    for question, expected in items:
        hits = searcher.search(question, 10, mode=mode).hits
        ranks = [i for i, h in enumerate(hits, 1) if relevant(h.chunk.source, h.chunk.locator,
                                                               expected)]
        first = ranks[0] if ranks else None
        r1 += first == 1
        r5 += first is not None and first <= 5
        mrr += 1.0 / first if first else 0.0
    n = max(len(items), 1)
    return {"recall@1": r1 / n, "recall@5": r5 / n, "MRR@10": mrr / n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=Path("eval/devset.yaml"))
    parser.add_argument("--sweep", action="store_true", help="print a threshold sweep")
    parser.add_argument("--misses", action="store_true", help="list hybrid misses at 5")
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
    for mode, name in (("keyword", "BM25 alone"), ("dense", "dense alone"), ("hybrid", "hybrid")):
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
        for question, expected in in_scope:
            hits = searcher.search(question, 5).hits
            if not any(relevant(h.chunk.source, h.chunk.locator, expected) for h in hits):
                got = "; ".join(h.chunk.citation for h in hits[:3])
                want = "; ".join(f"{e['doc']} {e['locator']}" for e in expected)
                print(f"MISS {question!r}\n  want {want}\n  got  {got}")
    started = time.perf_counter()
    top_in = [searcher.search(q, 5).top_dense for q, _ in in_scope]
    top_out = [searcher.search(q, 5).top_dense for q in out_scope]
    threshold = settings.threshold
    declined = [answer_question(q, searcher, threshold=threshold).grounded is False
                for q in [q for q, _ in in_scope] + out_scope]
    declined_in = sum(declined[: len(in_scope)])
    declined_out = sum(declined[len(in_scope):])
    total_declined = declined_in + declined_out
    precision = declined_out / total_declined if total_declined else 1.0
    recall = declined_out / len(out_scope) if out_scope else 1.0
    print(f"\nAbstention at threshold {threshold:.2f}: precision {precision:.3f}, recall "
          f"{recall:.3f} ({declined_out}/{len(out_scope)} out-of-scope declined, "
          f"{declined_in}/{len(in_scope)} answerable questions declined)")
    if args.sweep:
        print("\n| threshold | answerable answered | out-of-scope declined |\n|---|---|---|")
        for t in [x / 100 for x in range(20, 62, 2)]:
            answered = sum(s >= t for s in top_in) / len(top_in)
            refused = sum(s < t for s in top_out) / max(len(top_out), 1)
            print(f"| {t:.2f} | {answered:.3f} | {refused:.3f} |")
        print(f"\nmax out-of-scope similarity {max(top_out):.3f}; "
              f"min answerable similarity {min(top_in):.3f}")
    print(f"\n({time.perf_counter() - started:.1f} s for the abstention pass)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
