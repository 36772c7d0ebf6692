"""Messages put together from bot/texts.py: answers, passages, checklist questions and results.

Every dynamic value is escaped with `esc` here and nowhere else; `to_plain` turns a message into
terminal text. The texts are in the language of the turn (bot/i18n.py); what comes from the
guidance (quotes, passages, citations, document titles) is shown as it is, in English. Pure
functions: no Telegram, no database.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot import i18n, texts

if TYPE_CHECKING:
    from bot.answers import Answer
    from bot.checklists.engine import Outcome
    from bot.checklists.model import Checklist, Cite, Question
    from bot.dialogue.flow import CommandSpec
    from bot.types import Role
    from index.chunks import Chunk
    from index.errors import Problem
    from ingest import Conversion


def esc(value: object) -> str:
    """Escape a dynamic value for Telegram HTML."""
    return html.escape(str(value), quote=False)


def to_plain(message: str) -> str:
    """Telegram HTML -> terminal text."""
    text = re.sub(r"<br\s*/?>", "\n", message)
    text = re.sub(r"</?(b|i|u|s|code|pre|blockquote|a)(\s[^>]*)?>", "", text)
    return html.unescape(text)


def citation(chunk: Chunk) -> str:
    """The short citation of a passage: its document's label, its locator, and what it is
    about when its place says so ("A/77/257, para 11, on Recommendation 2")."""
    where = f"{chunk.document_label}, {chunk.locator}"
    context = chunk.context
    return f"{where}, on {context}" if context else where


def _document(chunk: Chunk) -> str:
    if chunk.document_label != chunk.title:
        return f"{chunk.document_label}: {chunk.title}"
    return chunk.title


def answer_message(answer: Answer, *, previous: str | None = None) -> str:
    """The answer: the quotes, each with its short citation, then the Sources (full titles,
    each document once); or the decline with the closest passages."""
    if answer.reason == "empty":
        return texts.EMPTY_QUESTION
    if answer.reason == "no_words":
        return texts.NO_WORDS
    if answer.reason == "number_only":
        return texts.NUMBER_ONLY
    if answer.reason == "link_only":
        return texts.LINK_ONLY
    if answer.reason == "no_terms":
        return texts.NO_TERMS
    if answer.reason == "small_talk":
        kind = answer.small_talk or "ack"
        return texts.SMALL_TALK.get(kind, texts.SMALL_TALK["ack"])
    if answer.reason == "unsupported_language":
        return unsupported_language()
    parts: list[str] = []
    if answer.truncated:
        from bot.answers import MAX_QUERY_CHARS

        parts.append(texts.TRUNCATED.format(length=len(answer.question), limit=MAX_QUERY_CHARS))
    if answer.follow_up and previous:
        parts.append(texts.FOLLOW_UP_NOTE.format(previous=esc(previous)))
    if answer.grounded:
        for quote in answer.quotes:
            parts.append(f"“{esc(quote.text)}”\n<i>— {esc(citation(quote.hit.chunk))}</i>\n\n")
        parts.append(sources_list([q.hit.chunk for q in answer.quotes]))
        return "".join(parts).rstrip()
    parts.append(texts.NOT_COVERED)
    for n, quote in enumerate(answer.closest, start=1):
        parts.append(f"\n\n{n}. “{esc(quote.text)}”\n<i>— {esc(citation(quote.hit.chunk))}</i>")
    return "".join(parts).rstrip()


def unsupported_language() -> str:
    """A question in a language the bot does not speak: the same honest message in English,
    French and Spanish, naming the three."""
    return "\n\n".join(texts_in("UNSUPPORTED_LANGUAGE"))


def texts_in(name: str) -> list[str]:
    """One text in every language, English first."""
    return [i18n.text_in(name, language) for language in i18n.LANGUAGES]


def sources_list(chunks: list[Chunk]) -> str:
    """Each cited document once, by its short label and full title."""
    lines = [texts.SOURCES_HEADING]
    for title in dict.fromkeys(_document(c) for c in chunks):
        lines.append(f"• {esc(title)}")
    return "\n".join(lines)


def passage_message(chunk: object) -> str:
    """One cited passage in full."""
    title = getattr(chunk, "title", "")
    symbol = getattr(chunk, "symbol", None)
    locator = getattr(chunk, "locator", "")
    text = getattr(chunk, "text", "")
    head = f"{symbol} — {title}" if symbol else title
    return f"<b>{esc(head)}</b>\n<i>{esc(locator)}</i>\n\n{esc(text)}"


def sources_message(documents: list[dict[str, object]]) -> str:
    if not documents:
        return texts.SOURCES_EMPTY
    lines = [texts.SOURCES_TITLE]
    for doc in documents:
        symbol = f"{doc['symbol']} — " if doc.get("symbol") else ""
        lines.append(texts.SOURCES_LINE.format(
            symbol=esc(symbol), title=esc(doc["title"]), organization=esc(doc["organization"]),
            date=esc(doc["date"]), passages=doc["passages"]))
    return "\n".join(lines)


def question_message(title: str, section: str, number: int, total: int,
                     question: Question) -> str:
    """One checklist question with its help text and the form of answer expected (the
    question as given: translated by the checklist, or in English)."""
    lines = [texts.QUESTION_PROGRESS.format(title=esc(title), section=esc(section),
                                            number=number, total=total),
             "", f"<b>{esc(question.text)}</b>"]
    if question.help:
        lines.append(f"<i>{esc(question.help)}</i>")
    if question.type == "number":
        unit = f" ({esc(question.unit)})" if question.unit else ""
        low = f"{question.min:g}" if question.min is not None else None
        high = f"{question.max:g}" if question.max is not None else None
        template = (texts.NUMBER_BETWEEN if low and high else texts.NUMBER_MIN if low
                    else texts.NUMBER_MAX if high else texts.NUMBER_ANY)
        lines.append("\n" + template.format(unit=unit, min=low, max=high))
    elif question.type == "text":
        lines.append("\n" + texts.TYPE_TEXT)
    elif question.type == "multi":
        lines.append("\n" + texts.TICK_ALL)
    return "\n".join(lines)


def outcome_message(checklist: Checklist, outcome: Outcome,
                    cite: Callable[[Cite], str]) -> str:
    """The end of a run, short: the rating (and partner), why, and the required actions with
    their citations, each rule of this tool marked as such. The answers are in the report."""
    lines = [texts.RESULT_HEADING.format(label=esc(outcome.rating_label))]
    if outcome.partner:
        lines.append(texts.RESULT_PARTNER.format(partner=esc(outcome.partner)))
    if outcome.gate_id is None:
        lines.append(texts.RESULT_SCORE.format(percent=f"{outcome.percent:.0f}"))

    def item(text: str, cites: tuple[Cite, ...], applies: str | None) -> str:
        sources = "; ".join(cite(c) for c in cites)
        line = f"• {esc(text)}" + (f" <i>({esc(sources)})</i>" if sources else "")
        if applies:
            line += "\n  <i>" + esc(texts.TOOL_RULE.format(applies=applies)) + "</i>"
        return line

    lines += ["", texts.RESULT_WHY]
    lines += [item(r.message, r.cites, r.applies) for r in outcome.fired]
    lines += ["", texts.RESULT_ACTIONS]
    if not outcome.actions:
        lines.append(texts.RESULT_NO_ACTIONS)
    lines += [item(a.text, a.cites, a.applies) for a in outcome.actions]
    lines += ["", texts.RESULT_REPORT]
    return "\n".join(lines)


def cohort_message(tag: str, summary: dict[str, Any]) -> str:
    """Runs, ratings and answer counts across one training cohort."""
    runs_count = summary["runs"]
    if not runs_count:
        return texts.COHORT_EMPTY.format(tag=esc(tag))
    named = texts.RUN_STATUS
    status = ", ".join(f"{named.get(k, k)}: {v}" for k, v in summary["status"].items())
    ratings = (", ".join(f"{k}: {v}" for k, v in summary["ratings"].items())
               or texts.COHORT_NO_RATINGS)
    lines = [texts.COHORT_HEAD.format(tag=esc(tag), runs=runs_count, status=esc(status)),
             texts.COHORT_RATINGS.format(ratings=esc(ratings)), "", texts.COHORT_RUNS]
    for run in summary.get("partners", []):
        partner = esc(run["partner"]) if run["partner"] else texts.COHORT_NO_PARTNER
        rating = f", {esc(run['rating'])}" if run["rating"] else ""
        lines.append(texts.COHORT_RUN_LINE.format(
            run_id=run["run_id"], partner=partner,
            status=esc(named.get(run["status"], run["status"])), rating=rating))
    lines += ["", texts.COHORT_ANSWERS]
    for (checklist_id, question), counts in summary["answers"].items():
        spread = ", ".join(f"{esc(k)} ×{v}" for k, v in counts.items())
        lines.append(f"• <i>{esc(checklist_id)}</i>: {esc(question)} — {spread}")
    return "\n".join(lines)



def problem(exc: Problem) -> str:
    """A domain error as the user reads it: what happened, and the next step."""
    if exc.hint:
        return texts.PROBLEM_HINT.format(message=esc(exc.message), hint=esc(exc.hint))
    return texts.PROBLEM.format(message=esc(exc.message))


def help_message(by_role: dict[Role, list[CommandSpec]], role: Role | None) -> str:
    """/help: how to use the bot, then the commands of each role the user has."""
    from bot.types import ROLES, role_at_least

    parts = [texts.HELP]
    for section in ROLES:
        if not role_at_least(role, section) or not by_role.get(section):
            continue
        lines = [texts.HELP_SECTIONS[section]]
        lines += [texts.HELP_LINE.format(
            name=spec.name, summary=esc(i18n.translate(spec.summary)),
            usage=f" {esc(i18n.translate(spec.usage))}" if spec.usage else "")
            for spec in by_role[section]]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def upload_preview(name: str, summary: Conversion, first_paragraph: str,
                   warnings: list[str]) -> str:
    """What an uploaded file was converted into, before an admin adds it."""
    meta = summary.metadata
    parts = [texts.UPLOAD_PREVIEW_HEAD.format(name=esc(name)),
             texts.UPLOAD_PREVIEW_FIELDS.format(
                 title=esc(meta.title), symbol=esc(meta.symbol or texts.UPLOAD_NO_SYMBOL),
                 organization=esc(meta.organization), date=esc(meta.date), kind=esc(meta.kind),
                 sections=summary.sections, paragraphs=summary.paragraphs,
                 numbered=summary.numbered_paragraphs, source_id=esc(summary.source_id))]
    if first_paragraph:
        parts.append(texts.UPLOAD_FIRST_PARAGRAPH.format(text=esc(first_paragraph)))
    if warnings:
        parts.append("\n".join([texts.UPLOAD_CHECK, *(f"• {esc(w)}" for w in warnings)]))
    parts.append(texts.UPLOAD_PREVIEW_ASK)
    return "\n\n".join(parts)
