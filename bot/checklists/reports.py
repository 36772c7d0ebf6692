"""Checklist run reports: Markdown and CSV, from a run's outcome (pure functions)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from bot.checklists.engine import Answer, Outcome
from bot.checklists.model import Checklist, Cite, Question

CiteLabel = Callable[[Cite], str]


def answer_label(question: Question | None, answer: Answer) -> str:
    """The answer as a reader sees it: option labels, the number with its unit, or the text."""
    if answer.skipped:
        return "(skipped)"
    value = answer.value
    if question is None:
        return str(value)
    if question.options:
        values = value if isinstance(value, tuple) else (value,)
        labels = [o.label for v in values for o in question.options if o.value == v]
        return ", ".join(labels) or str(value)
    if question.type == "number" and question.unit:
        return f"{value} {question.unit}"
    return str(value)


def markdown_report(checklist: Checklist, outcome: Outcome, *, cite: CiteLabel,
                    run_id: int, user: str, cohort: str | None, started: str,
                    finished: str | None) -> str:
    """A complete, self-contained Markdown report of one run."""
    lines = [
        f"# {checklist.title}",
        "",
        f"- Checklist: `{checklist.id}` version {checklist.version}",
        f"- Run: {run_id} by {user}" + (f", cohort {cohort}" if cohort else ""),
        f"- Started: {started}" + (f"; finished: {finished}" if finished else ""),
        f"- Status: {outcome.status}",
        "",
        f"## Rating: {outcome.rating_label}",
        "",
        (f"Score: {outcome.percent:.0f}% ({outcome.points:g} of {outcome.max_points:g} points;"
         " not applicable and skipped questions are left out)." if outcome.gate_id is None
         else f"Stopped by the exclusion gate `{outcome.gate_id}`."),
        "",
        "## Why",
        "",
    ]
    for rule in outcome.fired:
        cites = "; ".join(cite(c) for c in rule.cites)
        lines.append(f"- {rule.message}" + (f" ({cites})" if cites else ""))
    lines += ["", "## Required actions", ""]
    if not outcome.actions:
        lines.append("- None.")
    for action in outcome.actions:
        cites = "; ".join(cite(c) for c in action.cites)
        lines.append(f"- {action.text}" + (f" ({cites})" if cites else ""))
    lines += ["", "## Answers", "", "| # | Question | Answer | Note | Time |",
              "|---|---|---|---|---|"]
    for n, answer in enumerate(outcome.answers, start=1):
        question = checklist.question(answer.question_id)
        text = question.text if question else answer.question_id
        note = (answer.note or "").replace("\n", " ")
        row = [str(n), text, answer_label(question, answer), note, answer.at]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    lines += ["", "_This rating is a triage aid computed by Partner Guide from the answers "
              "above; the decision rests with the responsible staff._", ""]
    return "\n".join(lines)


def csv_report(checklist: Checklist, outcome: Outcome) -> str:
    """One row per answer, plus the rating, for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["checklist", "version", "question_id", "question", "answer", "value",
                     "skipped", "note", "at", "rating", "percent"])
    for answer in outcome.answers:
        question = checklist.question(answer.question_id)
        value = answer.value
        raw = ";".join(value) if isinstance(value, tuple) else "" if value is None else value
        writer.writerow([checklist.id, checklist.version, answer.question_id,
                         question.text if question else "", answer_label(question, answer), raw,
                         int(answer.skipped), answer.note or "", answer.at, outcome.rating_id,
                         f"{outcome.percent:.1f}"])
    return out.getvalue()
