"""Every user-facing text of the bot and the terminal chat, as Telegram HTML.

Dynamic strings are escaped with `esc` here and nowhere else; `to_plain` turns a message into
terminal text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.answers import Answer
from index.chunks import Chunk

if TYPE_CHECKING:
    from bot.checklists import Checklist, Cite, Question
    from bot.runs import Outcome

BOT_NAME = "Partner Guide"
MAX_MESSAGE = 4096
SPLIT_AT = 4000  # headroom below Telegram's 4096 characters


def esc(value: object) -> str:
    """Escape a dynamic value for Telegram HTML."""
    return html.escape(str(value), quote=False)


def to_plain(message: str) -> str:
    """Telegram HTML -> terminal text."""
    text = re.sub(r"<br\s*/?>", "\n", message)
    text = re.sub(r"</?(b|i|u|s|code|pre|blockquote|a)(\s[^>]*)?>", "", text)
    return html.unescape(text)


WELCOME = (
    f"<b>{BOT_NAME}</b> answers questions on choosing and managing partners from UN guidance, "
    "and always cites the paragraph it rests on.\n\n"
    "• Ask a question in plain words, e.g. <i>How should we screen a company before a "
    "partnership?</i>\n"
    "• Follow up with a short question such as <i>and for NGOs?</i>\n"
    "• /checklist runs a guided partner-selection checklist\n"
    "• /sources lists the documents I know\n"
    "• /help shows all commands"
)
HELP = (
    "<b>How to use me</b>\n"
    "Type a question and I answer with quotes from the guidance, each with its citation. "
    "Tap <b>Show passage</b> to read a cited paragraph in full, and 👍 / 👎 to rate the answer.\n"
    "If the guidance does not cover your question I say so and show the closest passages.\n\n"
    "<b>Commands</b>\n"
    "/start – welcome\n/help – this text\n/sources – documents in the knowledge base\n"
    "/checklist – run a partner-selection checklist\n/cancel – stop what is in progress"
)
ADMIN_HELP = (
    "\n\n<b>Admin</b>\n/stats – usage, unanswered questions, feedback\n"
    "/reindex – rebuild the index from the knowledge files\n"
    "/users – who may use the bot\n/allow &lt;user id&gt; [staff|trainer|admin]\n"
    "/revoke &lt;user id&gt;"
)
TRAINER_HELP = "\n\n<b>Trainers</b>\n/cohort &lt;tag&gt; – answers and ratings across a cohort"

EMPTY_QUESTION = (
    "Your message is empty. Please type a question, for example: <i>What is due diligence?</i>"
)
NO_WORDS = (
    "I could not find any words in your message. Please type your question in words, for "
    "example: <i>Which partners need a capacity assessment?</i>"
)
TRUNCATED = (
    "<i>Your message is {length:,} characters long; I searched with its first {limit:,} "
    "characters. A shorter question gives a better answer.</i>\n\n"
)
NOT_COVERED = (
    "The guidance in my knowledge base does not cover this question, so I cannot answer it "
    "reliably. Please ask your partnerships focal point.\n\n<b>Closest passages</b> (they may "
    "not answer your question; tap <b>Show passage</b> to read one in full):"
)
OTHER_LANGUAGE = (
    "The guidance I search is in English and I could not find a reliable answer to your "
    "question. Please ask in English.\n\n<b>Closest passages</b>:"
)
FOLLOW_UP_NOTE = "<i>(Read together with your previous question: {previous})</i>\n\n"
SOURCES_HEADING = "<b>Sources</b>"
SHOW_PASSAGE = "Show passage {n}"
HELPFUL = "👍"
NOT_HELPFUL = "👎"
FEEDBACK_THANKS = "Thank you for the feedback."
FEEDBACK_ASK_COMMENT = (
    "Thank you. What was wrong or missing? Reply with a short comment, or send /cancel to skip."
)
FEEDBACK_COMMENT_SAVED = (
    "Thank you, your comment was saved for the team that maintains the guidance."
)
STALE_BUTTON = (
    "That button belongs to an old or another message and no longer works. Please ask again."
)
UNSUPPORTED = (
    "I can only read text messages, so I cannot use this {kind}. Please type your question."
)
NOT_ALLOWED = (
    "Sorry, you are not on the list of users of this bot yet. Please send your user id "
    "<code>{user_id}</code> to an administrator and ask for access."
)
NOT_ALLOWED_WITH_CODE = NOT_ALLOWED + " If you have a join code, send <code>/join CODE</code>."
ADMIN_ONLY = "Sorry, /{command} is for administrators only."
TRAINER_ONLY = "Sorry, /{command} is for trainers and administrators only."
UNKNOWN_COMMAND = "I do not know the command /{command}. Send /help to see what I can do."
CANCELLED = "Cancelled. Ask a question or send /help."
NOTHING_TO_CANCEL = "There is nothing to cancel. Ask a question or send /help."
INDEX_MISSING = (
    "The knowledge index is not ready yet, so I cannot answer questions. An administrator "
    "needs to build it (<code>partnerbot index</code>)."
)
INDEX_BROKEN = "The knowledge index cannot be used right now: {reason}"
LOG_FAILED_ADMIN = "⚠️ The session log could not be written: {reason}. Answers are still sent."
SOURCES_EMPTY = "The knowledge base has no documents yet."


SMALL_TALK = {
    "greeting": "Hello! Ask me anything about choosing and managing partners, for example "
                "<i>What should staff be trained on when managing implementing partners?</i> "
                "I answer from UN guidance and cite the paragraph. /checklist runs a guided "
                "partner-selection checklist, /help shows more.",
    "thanks": "You are welcome. Ask another question whenever you like, or send /help.",
    "bye": "Goodbye. I am here whenever you have a question on partners.",
    "ack": "Fine. Ask a question about choosing or managing partners whenever you like, or "
           "send /help to see what I can do.",
}
NO_TERMS = (
    "Your message has no words I can search for (only words such as <i>what</i>, <i>is</i> "
    "or <i>it</i>). Please say what you want to know about, for example: <i>What does the "
    "guidance say about due diligence on companies?</i>"
)


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
        return EMPTY_QUESTION
    if answer.reason == "no_words":
        return NO_WORDS
    if answer.reason == "no_terms":
        return NO_TERMS
    if answer.reason == "small_talk":
        kind = answer.small_talk or "ack"
        return HELP if kind == "help" else SMALL_TALK.get(kind, SMALL_TALK["ack"])
    parts: list[str] = []
    if answer.truncated:
        from bot.answers import MAX_QUERY_CHARS

        parts.append(TRUNCATED.format(length=len(answer.question), limit=MAX_QUERY_CHARS))
    if answer.follow_up and previous:
        parts.append(FOLLOW_UP_NOTE.format(previous=esc(previous)))
    if answer.grounded:
        for quote in answer.quotes:
            parts.append(f"“{esc(quote.text)}”\n<i>— {esc(citation(quote.hit.chunk))}</i>\n\n")
        parts.append(sources_list([q.hit.chunk for q in answer.quotes]))
        return "".join(parts).rstrip()
    parts.append(OTHER_LANGUAGE if answer.reason == "other_language" else NOT_COVERED)
    for n, quote in enumerate(answer.closest, start=1):
        parts.append(f"\n\n{n}. “{esc(quote.text)}”\n<i>— {esc(citation(quote.hit.chunk))}</i>")
    return "".join(parts).rstrip()


def sources_list(chunks: list[Chunk]) -> str:
    """Each cited document once, by its short label and full title."""
    lines = [SOURCES_HEADING]
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
        return SOURCES_EMPTY
    lines = ["<b>Documents in the knowledge base</b>"]
    for doc in documents:
        symbol = f"{doc['symbol']} — " if doc.get("symbol") else ""
        lines.append(f"• {esc(symbol)}{esc(doc['title'])} ({esc(doc['organization'])}, "
                     f"{esc(doc['date'])}; {doc['passages']} passages)")
    return "\n".join(lines)


def split_message(message: str, limit: int = SPLIT_AT) -> list[str]:
    """Split at paragraph, then line, then sentence boundaries; never inside an HTML tag."""
    if len(message) <= limit:
        return [message]
    pieces: list[str] = []
    rest = message
    while len(rest) > limit:
        cut = -1
        for sep in ("\n\n", "\n", ". ", " "):
            cut = rest.rfind(sep, 0, limit)
            if cut > limit // 4:
                cut += len(sep)
                break
        if cut <= 0:
            cut = limit
        while rest.rfind("<", 0, cut) > rest.rfind(">", 0, cut):  # inside a tag
            cut = rest.rfind("<", 0, cut)
        amp = rest.rfind("&", max(0, cut - 10), cut)
        if amp != -1 and ";" not in rest[amp:cut]:  # inside an entity such as &amp;
            cut = amp
        open_tags = _open_tags(rest[:cut])
        head = rest[:cut].rstrip() + "".join(f"</{name}>" for name, _ in reversed(open_tags))
        pieces.append(head)
        rest = "".join(tag for _, tag in open_tags) + rest[cut:].lstrip()
    if rest.strip():
        pieces.append(rest)
    return pieces


def _open_tags(fragment: str) -> list[tuple[str, str]]:
    """Tags still open at the end of `fragment`: (name, the opening tag as written)."""
    stack: list[tuple[str, str]] = []
    for match in re.finditer(r"<(/?)([a-z][a-z0-9-]*)[^>]*>", fragment):
        closing, name = match.group(1), match.group(2)
        if closing and stack and stack[-1][0] == name:
            stack.pop()
        elif not closing:
            stack.append((name, match.group(0)))
    return stack
INTERNAL_ERROR = (
    "Sorry, something went wrong while handling your message. It has been kept, and the "
    "team has been told. Please try again in a moment."
)
EDITED = "I answer new messages only. Please send your corrected question as a new message."

# ---- checklists ------------------------------------------------------------------------
# The run engine's messages (bot/runs.py).
RUN_FINISHED = "This run is finished. Start a new run to answer again."
RUN_ABANDONED = "This run was abandoned. Start a new run instead."
CHOOSE_ONE = "Please choose one of: {options}."
CHOOSE_SOME = "Please choose one or more of: {options}. Separate them with commas."
NO_SUCH_OPTION = "There is no option '{token}'. Send one of: {options}."
NO_OPTION_NUMBER = "There is no option {number}. Send a number from 1 to {count}."
NOT_A_NUMBER = "That is not a number. Send a number such as 1500 or 1,500.5."
TOO_SMALL = "The number must be at least {min}. Send a larger number."
TOO_LARGE = "The number must be at most {max}. Send a smaller number."
EMPTY_TEXT = "The answer is empty. Send a short text answer."
NOT_SKIPPABLE = "This question cannot be skipped. Send an answer instead."
NOTHING_TO_UNDO = "There is no earlier answer to go back to."
EMPTY_NOTE = "The note is empty. Send the note text."
NOTHING_TO_NOTE = "There is no question to attach a note to yet."
RULE_BAND = "Score {percent}% is in the {low}-{high}% band: {label}."
RULE_KEY = ("Key question \"{question}\" was answered \"{answer}\" ({risk} risk), so the rating "
            "is raised from {before} to {after}.")
CHECKLIST_MENU = (
    "<b>Checklists</b>\nChoose one to start. Each question cites the rule it rests on."
)
CHECKLIST_NONE = "No checklist is available right now."
CHECKLIST_BROKEN = (
    "\n\n⚠️ {count} checklist file(s) could not be loaded, e.g. <code>{first}</code>"
)
CHECKLIST_ACTIVE = "\n\nYou have a run of <b>{title}</b> in progress."
CHECKLIST_UNKNOWN = "There is no checklist '{id}'. Send /checklist to see the available ones."
CHECKLIST_UNUSABLE = (
    "The checklist '{id}' cannot be used because its file is broken: <code>{reason}</code>"
)
CHECKLIST_CONFLICT = (
    "You already have a run of <b>{title}</b> in progress. Resume it, or abandon it and start "
    "the new one?"
)
CHECKLIST_START = "<b>{title}</b> (version {version})\n{description}"
TRAINING_MODE = (
    "\n\n<i>Training mode: after each answer you see why it matters, with its source.</i>"
)
RESUME = "▶️ Resume"
ABANDON_AND_START = "Abandon it and start the new one"
WHY = "Why?"
NOTE = "📝 Note"
SKIP = "Skip"
BACK = "⬅️ Back"
CANCEL = "✖️ Cancel"
DONE = "Done ✔"
NOTE_ASK = "Send your note for this question as a message."
NOTE_SAVED = "Note saved."
RUN_NOT_ACTIVE = (
    "This checklist run is finished or was cancelled. Send /checklist to start again."
)
RUN_ABANDONED_MSG = "Checklist run cancelled. Send /checklist to start again."
OLD_QUESTION = "That button is from an earlier question; here is the current one."
USE_BUTTONS = "\nPlease tap one of the buttons below (or type the option's number)."
WHY_HEADING = "<b>Why this question matters</b>\n{help}"
CITE_MISSING = "<i>{cite}: this passage is no longer in the knowledge base.</i>"
TRAINING_FEEDBACK = "🎓 {body}\n<i>Source: {cites}</i>"
REPORT_CAPTION = "Checklist report"
COHORT_USAGE = (
    "Send /cohort followed by the cohort tag from the training link, e.g. /cohort geneva-2026."
)


def question_message(title: str, section: str, number: int, total: int,
                     question: Question) -> str:
    """One checklist question with its help text and the form of answer expected."""
    lines = [f"<i>{esc(title)} — {esc(section)} — question {number} of about {total}</i>",
             "", f"<b>{esc(question.text)}</b>"]
    if question.help:
        lines.append(f"<i>{esc(question.help)}</i>")
    if question.type == "number":
        bounds = [f"at least {question.min:g}" if question.min is not None else "",
                  f"at most {question.max:g}" if question.max is not None else ""]
        unit = f" ({esc(question.unit)})" if question.unit else ""
        limits = " and ".join(b for b in bounds if b)
        lines.append(f"\nType a number{unit}" + (f", {limits}." if limits else "."))
    elif question.type == "text":
        lines.append("\nType your answer.")
    elif question.type == "multi":
        lines.append("\nTick all that apply, then tap Done.")
    return "\n".join(lines)


def outcome_message(checklist: Checklist, outcome: Outcome, cite: Callable[[Cite], str],
                    answers: list[str]) -> str:
    """The end of a run: rating, why, required actions with citations, and the answers."""
    lines = [f"<b>Result: {esc(outcome.rating_label)}</b>"]
    if outcome.gate_id is None:
        lines.append(f"Score {outcome.percent:.0f}% (not applicable and skipped questions are "
                     "left out)")
    lines += ["", "<b>Why</b>"]
    for rule in outcome.fired:
        cites = "; ".join(cite(c) for c in rule.cites)
        lines.append(f"• {esc(rule.message)}" + (f" <i>({esc(cites)})</i>" if cites else ""))
    lines += ["", "<b>Required actions</b>"]
    if not outcome.actions:
        lines.append("• None.")
    for action in outcome.actions:
        cites = "; ".join(cite(c) for c in action.cites)
        lines.append(f"• {esc(action.text)}" + (f" <i>({esc(cites)})</i>" if cites else ""))
    lines += ["", "<b>Your answers</b>"]
    for answer, text in zip(outcome.answers, answers, strict=True):
        question = checklist.question(answer.question_id)
        qtext = question.text if question else answer.question_id
        lines.append(f"• {esc(qtext)} — <b>{esc(text)}</b>")
    lines.append("\nThe full report is attached (Markdown and CSV).")
    return "\n".join(lines)


def cohort_message(tag: str, summary: dict[str, Any]) -> str:
    """Runs, ratings and answer counts across one training cohort."""
    runs_count = summary["runs"]
    if not runs_count:
        return f"No runs yet for the cohort <b>{esc(tag)}</b>."
    status = ", ".join(f"{k}: {v}" for k, v in summary["status"].items())
    ratings = ", ".join(f"{k}: {v}" for k, v in summary["ratings"].items()) or "none yet"
    lines = [f"<b>Cohort {esc(tag)}</b>: {runs_count} runs ({esc(status)})",
             f"Ratings: {esc(ratings)}", "", "<b>Answers</b>"]
    for (checklist_id, question), counts in summary["answers"].items():
        spread = ", ".join(f"{esc(k)} ×{v}" for k, v in counts.items())
        lines.append(f"• <i>{esc(checklist_id)}</i>: {esc(question)} — {spread}")
    return "\n".join(lines)

# ---- admins ------------------------------------------------------------------------------
CHART_CAPTION = "Questions per day: answered and declined"
REINDEX_STARTED = "Re-indexing: the bot keeps answering from the current index meanwhile."
REINDEX_FAILED = "Re-indexing failed; the current index keeps serving.\n<code>{reason}</code>"
REINDEX_DONE = (
    "Re-index finished ({state}): {added} added, {unchanged} unchanged, {removed} removed "
    "in {seconds:.1f} s. Version <code>{version}</code>."
)
REINDEX_CHECKLISTS = "\n\n⚠️ Checklist problems after re-indexing:\n<code>{problems}</code>"
ALLOW_USAGE = (
    "Send /allow followed by a user id and optionally a role: staff, trainer or admin."
)
REVOKE_USAGE = "Send /revoke followed by a user id, e.g. /revoke 123456789."
REVOKE_SELF = "You cannot revoke your own access."
ALLOWED = "User <code>{user_id}</code> may now use the bot as {role}."
YOU_ARE_ALLOWED = "You now have access to Partner Guide ({role}). Send /help to begin."
REVOKED = "User <code>{user_id}</code> no longer has access."
NOT_A_USER = "User <code>{user_id}</code> had no access."
JOIN_WRONG_CODE = "That join code is not right. Ask an administrator for the current code."
JOIN_SENT = (
    "Thank you. Your request was sent to the administrators; you will get a message here."
)
JOIN_REQUEST = "User <code>{user_id}</code> {name} asks for access with the join code."
APPROVE = "✅ Approve"
DENY = "✖️ Deny"
JOIN_ALREADY = "This request was already handled."
JOIN_DENIED_ADMIN = "Request of user <code>{user_id}</code> denied."
JOIN_DENIED = "Your request for access was not approved. Please contact an administrator."
