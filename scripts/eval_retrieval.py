"""Retrieval, answer and abstention quality on the dev set (eval/devset.yaml).

Prints:
- recall@1, recall@5 and MRR@10 for BM25 alone, dense alone, reciprocal rank fusion and the
  served weighted score fusion; follow-up recall with and without the previous question;
- answers: the share of answerable questions whose answer is grounded and quotes one of the
  question's key phrases, the share whose first citation is an expected passage, and the mean
  and 95th-percentile answer length (characters of the Telegram message);
- abstention, on the calibration part and on the held-out part separately: answerable
  questions answered, in-domain unanswerable questions declined, off-topic ones declined;
  with --sweep, the threshold that the calibration part alone would choose;
- the same per language for the French and Spanish versions of the dev questions
  (eval/devset-translations.yaml): recall@1/@5 and MRR@10 of the served search, the answer
  measures (key phrase quoted, first citation), abstention
  on both parts (each translated question is in the part of its English question), the
  language each was read in; with --sweep, the threshold of each language
  (bot/answers.py LANGUAGE_THRESHOLDS) its calibration part alone would choose.

The split is fixed: in each group (answerable, in-domain unanswerable, off-topic), in file
order, every third question (the 3rd, 6th, ...) is held out; the threshold
(bot/answers.py DEFAULT_THRESHOLD) is calibrated on the other two thirds only.

Usage: .venv/bin/python scripts/eval_retrieval.py [--devset eval/devset.yaml]
       [--translations eval/devset-translations.yaml] [--sweep] [--misses]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import render
from bot.answers import (
    LANGUAGE_THRESHOLDS,
    Answer,
    answer_question,
    question_language,
    search_query,
)
from bot.app import make_searcher, reference_embedder
from bot.settings import load_settings
from bot.tg.html import MAX_MESSAGE
from index.build import build_index
from index.fusion import reciprocal_rank_fusion
from index.queries import expand_acronyms, normalise
from index.search import Searcher
from index.store import current_version

HELD_OUT_EVERY = 3


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    expected: list[dict[str, str]]
    keys: list[str]
    scope: str  # "answerable", "in_domain", "off_topic"
    held_out: bool


def load_items(path: Path) -> tuple[list[Item], list[dict[str, Any]]]:
    """The dev-set questions with their part of the split, and the follow-up pairs."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    counters: dict[str, int] = {}
    items = []
    for q in data["questions"]:
        scope = "answerable" if q["expected"] else q.get("scope", "in_domain")
        counters[scope] = counters.get(scope, 0) + 1
        items.append(Item(q["id"], q["question"], q["expected"], list(q.get("key", [])), scope,
                          counters[scope] % HELD_OUT_EVERY == 0))
    return items, data.get("followups", [])


def load_translations(path: Path, items: list[Item]) -> dict[str, list[Item]]:
    """{language: the translated questions}, each with the expected passages, key phrases,
    scope and part of the split of the English question it names."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    by_id = {i.id: i for i in items}
    out: dict[str, list[Item]] = {}
    for entry in data["questions"]:
        english = by_id[entry["id"]]
        for language in (key for key in entry if key != "id"):  # "fr", "es", ...
            if entry.get(language):
                out.setdefault(language, []).append(Item(
                    english.id, entry[language], english.expected, english.keys,
                    english.scope, english.held_out))
    return out


def relevant(source: str, locator: str, expected: list[dict[str, str]]) -> bool:
    return any(e["doc"] == source and e["locator"] == locator for e in expected)


def rrf_ranking(searcher: Searcher, question: str, depth: int) -> list[str]:
    """Passage ids by reciprocal rank fusion (k=60) of the dense and BM25 rankings."""
    dense = searcher.search(question, searcher.candidates, mode="dense").hits
    keyword = searcher.search(question, searcher.candidates, mode="keyword").hits
    ids = {h.chunk.id: h.chunk for h in dense + keyword}
    order = {cid: n for n, cid in enumerate(ids)}
    fused = reciprocal_rank_fusion([[order[h.chunk.id] for h in dense],
                                    [order[h.chunk.id] for h in keyword]], k=60)
    by_position = list(ids)
    return [f"{ids[by_position[i]].source}\x1f{ids[by_position[i]].locator}"
            for i, _ in fused[:depth]]


def first_rank(searcher: Searcher, question: str, expected: list[dict[str, str]],
               mode: str = "hybrid", depth: int = 10, language: str | None = None) -> int | None:
    keys: list[tuple[str, ...]]
    if language is not None:
        keys = [(h.chunk.source, h.chunk.locator) for h in
                searcher.search(question, depth, mode=mode, language=language).hits]
    elif mode == "rrf":
        found = rrf_ranking(searcher, question, depth)
        keys = [tuple(f.split("\x1f")) for f in found]
    else:
        keys = [(h.chunk.source, h.chunk.locator)
                for h in searcher.search(question, depth, mode=mode).hits]
    ranks = [i for i, (s, loc) in enumerate(keys, 1) if relevant(s, loc, expected)]
    return ranks[0] if ranks else None


def rank_metrics(searcher: Searcher, items: list[tuple[str, list[dict[str, str]]]],
                 mode: str, *, languages: bool = False) -> dict[str, float]:
    """recall@1, recall@5 and MRR@10; with `languages`, each question searched in the
    language it is read in (bot/answers.py `question_language`), as the bot does."""
    r1 = r5 = mrr = 0.0
    for question, expected in items:
        first = first_rank(searcher, question, expected, mode,
                           language=(question_language(question) or "en") if languages
                           else None)
        r1 += first == 1
        r5 += first is not None and first <= 5
        mrr += 1.0 / first if first else 0.0
    n = max(len(items), 1)
    return {"recall@1": r1 / n, "recall@5": r5 / n, "MRR@10": mrr / n}


def _fold(text: str) -> str:
    return " ".join(text.replace("“", '"').replace("”", '"').split()).casefold()


def quotes_key(answer: Answer, keys: list[str]) -> bool:
    """True when the answer is grounded and one quote holds one of the key phrases."""
    if not answer.grounded:
        return False
    quoted = _fold(" ".join(q.text for q in answer.quotes))
    return any(_fold(k) in quoted for k in keys)


def first_citation_expected(answer: Answer, expected: list[dict[str, str]]) -> bool:
    if not answer.grounded or not answer.quotes:
        return False
    chunk = answer.quotes[0].hit.chunk
    return relevant(chunk.source, chunk.locator, expected)


def answer_measures(items: list[Item], answers: dict[str, Answer]
                    ) -> dict[str, tuple[int, int]]:
    """(count, of) over the answerable items: grounded and quoting a key phrase (of those with
    a key phrase), first citation an expected passage."""
    answerable = [i for i in items if i.scope == "answerable"]
    keyed = [i for i in answerable if i.keys]
    return {"key phrase": (sum(quotes_key(answers[i.id], i.keys) for i in keyed), len(keyed)),
            "first citation": (sum(first_citation_expected(answers[i.id], i.expected)
                                   for i in answerable), len(answerable))}


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] if ordered else float("nan")


def abstention(items: list[Item], answers: dict[str, Answer]) -> dict[str, tuple[int, int]]:
    """(count, of) per figure: answerable answered, in-domain declined, off-topic declined."""
    out = {}
    for scope, want_grounded, name in (("answerable", True, "answerable answered"),
                                       ("in_domain", False, "in-domain unanswerable declined"),
                                       ("off_topic", False, "off-topic declined")):
        group = [i for i in items if i.scope == scope]
        out[name] = (sum(answers[i.id].grounded == want_grounded for i in group), len(group))
    return out


def _share(pair: tuple[int, int]) -> str:
    count, total = pair
    return f"{count / total:.3f} ({count}/{total})" if total else "-"


def calibrate(items: list[Item], scores: dict[str, float]) -> tuple[float, float]:
    """The threshold that maximises answered + declined shares (Youden's J) on `items`."""
    answerable = [scores[i.id] for i in items if i.scope == "answerable"]
    declinable = [scores[i.id] for i in items if i.scope != "answerable"]
    best = (-1.0, 0.0)
    for t in sorted(set(answerable + declinable)):
        for candidate in (t, t + 1e-4):
            j = (sum(s >= candidate for s in answerable) / len(answerable)
                 + sum(s < candidate for s in declinable) / len(declinable))
            if j > best[0]:
                best = (j, candidate)
    return best[1], best[0]


def timing(searcher: Searcher, questions: list[str], rounds: int = 3,
           language: str = "en") -> tuple[float, float]:
    """Median seconds of a hybrid search and of the bare query embedding (by the embedder
    that serves questions of this language), interleaved."""
    searches: list[float] = []
    embeds: list[float] = []
    embedder = searcher.embedder_for(language)
    for question in questions[:5]:  # warm up
        searcher.search(question, 5, language=language)
    for _ in range(rounds):
        for question in questions:
            text = expand_acronyms(normalise(question)) if language == "en" else question
            started = time.perf_counter()
            embedder.embed_query(text)
            embeds.append(time.perf_counter() - started)
            started = time.perf_counter()
            searcher.search(question, 5, language=language)
            searches.append(time.perf_counter() - started)
    return statistics.median(searches), statistics.median(embeds)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devset", type=Path, default=Path("eval/devset.yaml"))
    parser.add_argument("--translations", type=Path,
                        default=Path("eval/devset-translations.yaml"),
                        help="French and Spanish versions of dev questions ('' for none)")
    parser.add_argument("--sweep", action="store_true",
                        help="calibrate the threshold on the calibration part and print it")
    parser.add_argument("--misses", action="store_true",
                        help="list retrieval misses, wrong answers and wrong decisions")
    args = parser.parse_args()
    settings = load_settings()
    items, followups = load_items(args.devset)
    answerable = [i for i in items if i.scope == "answerable"]
    if current_version(settings.index_dir) is None:
        build_index(settings.docs_dir, settings.index_dir, reference_embedder(settings))
    searcher = make_searcher(settings)
    index = searcher.load()
    counts = {s: sum(i.scope == s for i in items) for s in ("answerable", "in_domain",
                                                             "off_topic")}
    held = {s: sum(i.scope == s and i.held_out for i in items) for s in counts}
    print(f"Dev set: {counts['answerable']} answerable questions, {counts['in_domain']} "
          f"in-domain unanswerable, {counts['off_topic']} off-topic, {len(followups)} "
          f"follow-ups; held out (every {HELD_OUT_EVERY}rd of each group): "
          f"{held['answerable']} / {held['in_domain']} / {held['off_topic']}. "
          f"Index {index.version}, embedder {type(searcher.embedder).__name__}.\n")

    print("| method | recall@1 | recall@5 | MRR@10 |\n|---|---|---|---|")
    pairs = [(i.question, i.expected) for i in answerable]
    for mode, name in (("keyword", "BM25 alone"), ("dense", "dense alone"),
                       ("rrf", "hybrid, reciprocal rank fusion (k=60)"),
                       ("hybrid", "hybrid, weighted score fusion (served)")):
        m = rank_metrics(searcher, pairs, mode)
        print(f"| {name} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['MRR@10']:.3f} |")
    if followups:
        alone = [(f["then"], f["expected"]) for f in followups]
        joined = [(search_query(f["then"], f["first"])[0], f["expected"]) for f in followups]
        a, j = rank_metrics(searcher, alone, "hybrid"), rank_metrics(searcher, joined, "hybrid")
        print(f"| follow-ups, question alone | {a['recall@1']:.3f} | {a['recall@5']:.3f} | "
              f"{a['MRR@10']:.3f} |")
        print(f"| follow-ups, with previous question | {j['recall@1']:.3f} | "
              f"{j['recall@5']:.3f} | {j['MRR@10']:.3f} |")

    started = time.perf_counter()
    threshold = settings.threshold
    answers = {i.id: answer_question(i.question, searcher, threshold=threshold) for i in items}
    scores = {k: a.top_score for k, a in answers.items()}
    lengths = [len(render.answer_message(answers[i.id])) for i in answerable]
    measured = answer_measures(answerable, answers)
    print(f"\nAnswers at threshold {threshold:.3f}, answerable questions:")
    print("| measure | figure |\n|---|---|")
    print(f"| grounded and quoting a key phrase | {_share(measured['key phrase'])} |")
    print(f"| first citation an expected passage | {_share(measured['first citation'])} |")
    print(f"| answer length, mean / 95th percentile | {statistics.mean(lengths):.0f} / "
          f"{percentile(lengths, 0.95):.0f} characters |")
    print(f"| answers over one Telegram message (4,096) | "
          f"{sum(n > MAX_MESSAGE for n in lengths)} |")
    print("\n| abstention | calibration part | held-out part |\n|---|---|---|")
    calibration_part = abstention([i for i in items if not i.held_out], answers)
    held_out_part = abstention([i for i in items if i.held_out], answers)
    for name in calibration_part:
        print(f"| {name} | {_share(calibration_part[name])} | {_share(held_out_part[name])} |")
    if args.sweep:
        chosen, youden = calibrate([i for i in items if not i.held_out], scores)
        print(f"\nThe calibration part alone chooses the threshold {chosen:.4f} "
              f"(answered + declined = {youden:.3f}); configured {threshold:.4f}.")
    if args.misses:
        print()
        for item in answerable:
            answer = answers[item.id]
            first = first_rank(searcher, item.question, item.expected)
            tag = "held-out" if item.held_out else "calibration"
            if first is None or first > 5:
                print(f"RETRIEVAL MISS {item.id} ({tag}) {item.question!r}: first expected at "
                      f"rank {first or '>10'}")
            if not answer.grounded:
                print(f"DECLINED {item.id} ({tag}, {answer.top_score:.3f}) {item.question!r}")
            elif item.keys and not quotes_key(answer, item.keys):
                got = " | ".join(f"{q.hit.chunk.citation}: {q.text[:90]}" for q in answer.quotes)
                print(f"NO KEY {item.id} ({tag}) {item.question!r}\n    want {item.keys}\n"
                      f"    got  {got}")
        for item in items:
            if item.scope != "answerable" and answers[item.id].grounded:
                tag = "held-out" if item.held_out else "calibration"
                print(f"ANSWERED {item.scope} {item.id} ({tag}, "
                      f"{answers[item.id].top_score:.3f}) {item.question!r}")
    print(f"\n({time.perf_counter() - started:.1f} s for the answer pass)")
    translated = (load_translations(args.translations, items)
                  if str(args.translations) not in ("", ".") else {})
    if translated:
        languages(searcher, translated, answers, threshold=threshold, sweep=args.sweep,
                  misses=args.misses)
    search_s, embed_s = timing(searcher, [i.question for i in items])
    print(f"\nMedian search {search_s * 1000:.1f} ms vs bare query embedding "
          f"{embed_s * 1000:.1f} ms ({search_s / embed_s:.2f}x), English questions")
    for language, group in translated.items():
        search_s, embed_s = timing(searcher, [i.question for i in group], language=language)
        print(f"Median search {search_s * 1000:.1f} ms vs bare query embedding "
              f"{embed_s * 1000:.1f} ms ({search_s / embed_s:.2f}x), {language} questions")
    return 0


def languages(searcher: Searcher, translated: dict[str, list[Item]],
              english: dict[str, Answer], *, threshold: float, sweep: bool,
              misses: bool) -> None:
    """The figures per language for the French and Spanish dev questions; `english` holds the
    answers to the English questions, for the answer measures on the same questions."""
    shown = ", ".join(f"{k} {v:.3f}" for k, v in LANGUAGE_THRESHOLDS.items())
    print(f"\nFrench and Spanish questions (answered at the thresholds {shown}):")
    print("| language | questions (answerable / out of scope) | read as the language | "
          "recall@1 | recall@5 | MRR@10 | held-out recall@5 |\n|---|---|---|---|---|---|---|")
    answers: dict[str, dict[str, Answer]] = {}
    for language, group in translated.items():
        answerable = [i for i in group if i.scope == "answerable"]
        m = rank_metrics(searcher, [(i.question, i.expected) for i in answerable], "hybrid",
                         languages=True)
        held = rank_metrics(searcher, [(i.question, i.expected) for i in answerable
                                       if i.held_out], "hybrid", languages=True)
        read = sum(question_language(i.question) == language for i in group)
        print(f"| {language} | {len(answerable)} / {len(group) - len(answerable)} | "
              f"{_share((read, len(group)))} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | "
              f"{m['MRR@10']:.3f} | {held['recall@5']:.3f} |")
        answers[language] = {i.id: answer_question(i.question, searcher, threshold=threshold)
                             for i in group}
    print("\n| answers (English quotes) | language | grounded and quoting a key phrase | "
          "first citation an expected passage |\n|---|---|---|---|")
    for language, group in translated.items():
        for shown_as, given in ((language, answers[language]),
                                (f"en, the {language} questions' originals", english)):
            measured = answer_measures(group, given)
            print(f"| answerable questions | {shown_as} | {_share(measured['key phrase'])} | "
                  f"{_share(measured['first citation'])} |")
    print("\n| abstention | language | calibration part | held-out part |\n|---|---|---|---|")
    for language, group in translated.items():
        calibration_part = abstention([i for i in group if not i.held_out], answers[language])
        held_out_part = abstention([i for i in group if i.held_out], answers[language])
        for name in calibration_part:
            print(f"| {name} | {language} | {_share(calibration_part[name])} | "
                  f"{_share(held_out_part[name])} |")
    if sweep:
        for language, group in translated.items():
            scores = {k: a.top_score for k, a in answers[language].items()}
            chosen, youden = calibrate([i for i in group if not i.held_out], scores)
            print(f"\nThe calibration part of the {language} questions alone chooses the "
                  f"threshold {chosen:.4f} (answered + declined = {youden:.3f}); configured "
                  f"{LANGUAGE_THRESHOLDS.get(language, float('nan')):.4f}.")
    if misses:
        for language, group in translated.items():
            for item in group:
                answer = answers[language][item.id]
                tag = "held-out" if item.held_out else "calibration"
                if item.scope == "answerable":
                    first = first_rank(searcher, item.question, item.expected,
                                       language=question_language(item.question) or "en")
                    if first is None or first > 5:
                        print(f"RETRIEVAL MISS {language} {item.id} ({tag}) {item.question!r}: "
                              f"rank {first or '>10'}")
                    if not answer.grounded:
                        print(f"DECLINED {language} {item.id} ({tag}, {answer.top_score:.3f}) "
                              f"{item.question!r}")
                elif answer.grounded:
                    print(f"ANSWERED {item.scope} {language} {item.id} ({tag}, "
                          f"{answer.top_score:.3f}) {item.question!r}")


if __name__ == "__main__":
    raise SystemExit(main())
