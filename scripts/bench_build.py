"""Build measurements of scripts/bench_search.py: synthetic corpora, full builds against the
bare encode of what they embed, and an incremental re-index after one changed document."""

from __future__ import annotations

import contextlib
import functools
import random
import re
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench_search_report import _phases

from index.build import Step, build_index
from index.corpus import read_corpus
from index.embedders import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parent.parent
_SENTENCE = re.compile(r"(?<=[.;!?])\s+(?=[A-Z(\"“])")
_LEADING_MARK = re.compile(r"^(?:\d{1,4}\.\s+|[-*+]\s+|\([a-z]{1,4}\)\s+|\[\d+\]\s*)+")


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
        phases = PhaseTimer(lambda m: say(f"    {m}"))
        with heartbeat(f"{label} full build", expected=expected):
            _, wall, used = timed(functools.partial(build_index, docs, index_dir, reference,
                                                    progress=phases))
        times["build"].append(wall)
        cpu["build"].append(used)
        timings = phases.finish()
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


class PhaseTimer:
    """A build's progress callback that times each phase (from one step to the next)."""

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self.echo = echo
        self.seconds: dict[str, float] = {}
        self._phase: str | None = None
        self._since = time.perf_counter()

    def __call__(self, step: Step) -> None:
        self._close()
        self._phase = step.phase
        if self.echo is not None:
            self.echo(step.message)

    def _close(self) -> None:
        now = time.perf_counter()
        if self._phase is not None:
            self.seconds[self._phase] = self.seconds.get(self._phase, 0.0) + now - self._since
        self._since = now

    def finish(self) -> dict[str, float]:
        """Seconds per phase, the last one closed now."""
        self._close()
        self._phase = None
        return dict(self.seconds)


def measure_incremental(docs: Path, index_dir: Path,
                        reference: SentenceTransformerEmbedder) -> dict[str, Any]:
    name, changed = revise_one_document(docs)
    started = time.perf_counter()
    phases = PhaseTimer()
    report = build_index(docs, index_dir, reference, progress=phases)
    seconds = time.perf_counter() - started
    timings = phases.finish()
    return {"document": name, "changed": changed, "reembedded": report.embedded,
            "unchanged": report.unchanged, "seconds": seconds, "phases": timings}
