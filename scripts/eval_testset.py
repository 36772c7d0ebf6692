"""The figures of eval/testset.yaml: questions written blind from the five documents.

The dev set (eval/devset.yaml, scripts/eval_retrieval.py) calibrates the thresholds and
weights on its calibration part, and its held-out part has been read to find what goes wrong.
The test set was written from the documents alone by someone who never saw the bot's answers,
after the rules were made; it is never used to choose a threshold, a weight or a rule, so its
figures are what a new question can expect. This script prints them and nothing else: no
question-by-question misses (reading them would make the set one more dev set).

Prints, at the configured thresholds: recall@1/@5 and MRR@10 of the served search; the share
of answerable questions answered with a key phrase quoted, the share whose first citation is
an expected passage, answer length; answerable answered, in-domain unanswerable and off-topic
declined; the same per language for its French and Spanish versions (key `translations`).

Usage: .venv/bin/python scripts/eval_testset.py [--testset eval/testset.yaml]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

import yaml
from eval_retrieval import (  # beside this script
    Item,
    _share,
    abstention,
    answer_measures,
    percentile,
    rank_metrics,
)

from bot import render
from bot.answers import LANGUAGE_THRESHOLDS, answer_question
from bot.app import make_searcher, reference_embedder
from bot.settings import load_settings
from index.build import build_index
from index.store import current_version


def load_testset(path: Path) -> tuple[list[Item], dict[str, list[Item]]]:
    """The test questions (each in no calibration part) and their French and Spanish
    versions, each with the expected passages, key phrases and scope of its English one."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = []
    for q in data["questions"]:
        scope = "answerable" if q["expected"] else q.get("scope", "in_domain")
        items.append(Item(q["id"], q["question"], q["expected"], list(q.get("key", [])),
                          scope, True))
    by_id = {i.id: i for i in items}
    translated: dict[str, list[Item]] = {}
    for entry in data.get("translations") or []:
        english = by_id[entry["id"]]
        for language in (key for key in entry if key != "id"):
            if entry.get(language):
                translated.setdefault(language, []).append(Item(
                    english.id, entry[language], english.expected, english.keys,
                    english.scope, True))
    return items, translated


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--testset", type=Path, default=Path("eval/testset.yaml"))
    args = parser.parse_args()
    settings = load_settings()
    items, translated = load_testset(args.testset)
    if current_version(settings.index_dir) is None:
        build_index(settings.docs_dir, settings.index_dir, reference_embedder(settings))
    searcher = make_searcher(settings)
    searcher.load()
    answerable = [i for i in items if i.scope == "answerable"]
    counts = {s: sum(i.scope == s for i in items) for s in ("answerable", "in_domain",
                                                             "off_topic")}
    print(f"Test set {args.testset}: {counts['answerable']} answerable, {counts['in_domain']} "
          f"in-domain unanswerable, {counts['off_topic']} off-topic questions; never used "
          f"for calibration. Threshold {settings.threshold:.3f}.\n")
    m = rank_metrics(searcher, [(i.question, i.expected) for i in answerable], "hybrid")
    answers = {i.id: answer_question(i.question, searcher, threshold=settings.threshold)
               for i in items}
    measured = answer_measures(answerable, answers)
    lengths = [len(render.answer_message(answers[i.id])) for i in answerable]
    print("| measure (English) | figure |\n|---|---|")
    print(f"| recall@1 / @5 / MRR@10 (served search) | {m['recall@1']:.3f} / "
          f"{m['recall@5']:.3f} / {m['MRR@10']:.3f} |")
    print(f"| grounded and quoting a key phrase | {_share(measured['key phrase'])} |")
    print(f"| first citation an expected passage | {_share(measured['first citation'])} |")
    print(f"| answer length, mean / 95th percentile | {statistics.mean(lengths):.0f} / "
          f"{percentile(lengths, 0.95):.0f} characters |")
    for name, pair in abstention(items, answers).items():
        print(f"| {name} | {_share(pair)} |")
    if translated:
        shown = ", ".join(f"{k} {v:.3f}" for k, v in LANGUAGE_THRESHOLDS.items())
        print(f"\nFrench and Spanish versions (thresholds {shown}):")
        print("| language | questions | recall@1 | recall@5 | MRR@10 | answerable answered | "
              "out of scope declined |\n|---|---|---|---|---|---|---|")
        for language, group in translated.items():
            asked = [i for i in group if i.scope == "answerable"]
            lm = rank_metrics(searcher, [(i.question, i.expected) for i in asked], "hybrid",
                              languages=True)
            got = {i.id: answer_question(i.question, searcher, threshold=settings.threshold)
                   for i in group}
            figures = abstention(group, got)
            outside = [i for i in group if i.scope != "answerable"]
            declined = sum(not got[i.id].grounded for i in outside)
            print(f"| {language} | {len(asked)} / {len(outside)} | {lm['recall@1']:.3f} | "
                  f"{lm['recall@5']:.3f} | {lm['MRR@10']:.3f} | "
                  f"{_share(figures['answerable answered'])} | "
                  f"{_share((declined, len(outside)))} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
