"""Checklist run reports: Markdown and CSV, from a run's outcome (pure functions).

The report is the full record of a run (the chat's result message is short): the partner, the
rating and why, the required actions with their sources (and, where an action is this tool's
own rule, what the tool applies), every answer with its note and time, and the questions that
were not asked.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from bot.checklists.engine import Answer, Outcome
from bot.checklists.model import Checklist, Cite, Question
from bot.exports import csv_writer

CiteLabel = Callable[[Cite], str]
NO_PARTNER = "not named"


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


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|")


def _sourced(text: str, cites: tuple[Cite, ...], applies: str | None, cite: CiteLabel) -> str:
    sources = "; ".join(cite(c) for c in cites)
    line = f"- {text}" + (f" ({sources})" if sources else "")
    return line + (f"\n  - _Rule of this tool: {applies}_" if applies else "")


def markdown_report(checklist: Checklist, outcome: Outcome, *, cite: CiteLabel,
                    run_id: int, user: str, cohort: str | None, started: str,
                    finished: str | None) -> str:
    """A complete, self-contained Markdown report of one run."""
    lines = [
        f"# {checklist.title}" + (f": {outcome.partner}" if outcome.partner else ""),
        "",
        f"- Partner: {outcome.partner or NO_PARTNER}",
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
    lines += [_sourced(r.message, r.cites, r.applies, cite) for r in outcome.fired]
    lines += ["", "## Required actions", ""]
    if not outcome.actions:
        lines.append("- None.")
    lines += [_sourced(a.text, a.cites, a.applies, cite) for a in outcome.actions]
    lines += ["", "## Answers", "", "| # | Question | Answer | Note | Time |",
              "|---|---|---|---|---|"]
    for n, answer in enumerate(outcome.answers, start=1):
        question = checklist.question(answer.question_id)
        text = question.text if question else answer.question_id
        row = [str(n), text, answer_label(question, answer), answer.note or "", answer.at]
        lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    if outcome.hidden:
        lines += ["", "## Not asked", "",
                  "These questions did not apply, given the answers above:", ""]
        for qid in outcome.hidden:
            question = checklist.question(qid)
            lines.append(f"- {question.text if question else qid}")
    lines += ["", "_This rating is a triage aid computed by Partner Guide from the answers "
              "above; the decision rests with the responsible staff. The weights, key "
              "questions, score bands and floors are this tool's own, not UN rules._", ""]
    return "\n".join(lines)


CSV_COLUMNS = ["checklist", "version", "partner", "question_id", "question", "answer", "value",
               "skipped", "note", "at", "rating", "percent"]


def csv_report(checklist: Checklist, outcome: Outcome) -> str:
    """One row per answer, plus the partner and the rating, for spreadsheets (formula-safe)."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(CSV_COLUMNS)
    for answer in outcome.answers:
        question = checklist.question(answer.question_id)
        value = answer.value
        raw = ";".join(value) if isinstance(value, tuple) else "" if value is None else value
        writer.writerow([checklist.id, checklist.version, outcome.partner or "",
                         answer.question_id, question.text if question else "",
                         answer_label(question, answer), raw, int(answer.skipped),
                         answer.note or "", answer.at, outcome.rating_id,
                         f"{outcome.percent:.1f}"])
    return out.getvalue()
