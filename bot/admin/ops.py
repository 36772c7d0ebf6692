"""Admin operations shared by Telegram and the CLI: re-index with checks, stats, users."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from bot.checklists import load_checklists
from bot.settings import Settings
from bot.store import SessionLog, Stats
from index.build import BuildReport, Step, build_index
from index.embedders import Embedder
from index.store import load_live


@dataclass(frozen=True)
class ReindexResult:
    report: BuildReport
    checklist_problems: list[str]  # citations that no longer resolve, and other problems


def reindex(settings: Settings, embedder: Embedder, *, actor: int | str, store: SessionLog,
            progress: Callable[[str], None] | None = None) -> ReindexResult:
    """Build a new index version, then re-check every checklist's citations against it."""
    def step(s: Step) -> None:
        if progress is not None:
            progress(s.message)

    from bot.app import language_embedder

    report = build_index(settings.docs_dir, settings.index_dir, embedder,
                         keep=settings.keep_versions, progress=step,
                         language_embedder=language_embedder(settings, embedder))
    index = load_live(settings.index_dir, embedder.model_id)
    loaded = load_checklists(settings.checklists_dir,
                             has_passage=lambda doc, loc: index.find(doc, loc) is not None)
    store.audit(actor=actor, action="index", detail={
        "version": report.version, "added": report.added, "unchanged": report.unchanged,
        "removed": report.removed, "switched": report.switched,
        "checklist_problems": len(loaded.errors)})
    return ReindexResult(report, loaded.errors)


def chart_png(stats: Stats) -> bytes:
    """The questions-per-day chart (answered vs declined) as PNG bytes."""
    from bot.admin.charts import questions_chart

    buffer = io.BytesIO()
    questions_chart(stats.questions_per_day, buffer)
    return buffer.getvalue()


def stats_text(stats: Stats, *, citation: Callable[[str], str] | None = None) -> str:
    """Plain-text usage report (the CLI prints it; Telegram escapes it into a message)."""
    share = f"{100 * stats.answered / stats.questions:.0f}%" if stats.questions else "-"
    since = f" since {stats.since}" if stats.since else ""
    lines = [f"Usage{since}",
             f"Users: {stats.users}   Questions: {stats.questions}   Answered: {stats.answered} "
             f"({share})   Declined: {stats.declined}",
             f"Messages in/out: {stats.messages_in}/{stats.messages_out}   Reply latency p50/p95: "
             f"{_ms(stats.latency_p50_ms)}/{_ms(stats.latency_p95_ms)}", "",
             "Questions per day (answered/declined):"]
    lines += [f"  {day}: {a}/{d}" for day, a, d in stats.questions_per_day[-14:]] or ["  none"]
    lines += ["", "Questions the guidance did not cover (write content for these):"]
    lines += [f"  {n}x  {q}  (last {when[:10]})" for q, n, when in stats.unanswered] or ["  none"]
    lines += ["", "Negative feedback:"]
    lines += [f"  {when[:10]}  Q: {q}\n      comment: {c or '-'}\n      answer: {(a or '')[:160]}"
              for q, a, c, when in stats.negative_feedback] or ["  none"]
    lines += ["", "Most cited passages:"]
    name = citation or (lambda chunk_id: chunk_id)
    lines += [f"  {n}x  {name(chunk_id)}" for chunk_id, n in stats.top_passages] or ["  none"]
    lines += ["", f"Checklist runs by checklist and rating ({stats.training_runs} training runs "
              "not counted):"]
    lines += [f"  {c}: {r or 'unfinished'} x{n}" for c, r, n in stats.runs] or ["  none"]
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"
