"""Questions and answers in the conversation: the answer with its passage and feedback
buttons, follow-ups, the full passage, 👍 / 👎 and the comment after a 👎.

Callback data:
    p:<chunk id>                 show a passage in full
    f:<answer id>:<1|-1>         rate an answer (the buttons then show the vote given)
Message keys: "answer:<id>" (a reply to it is a follow-up of that answer), "comment:<id>"
(the prompt for a comment; only a reply to it is taken as the comment).
Pending state (in the store): "comment" - the answer a 👎 comment is for.

Language: unless the user chose one with /language, an answer is given in the question's own
language when it is clearly English, French or Spanish (`Answer.language`), and what follows
from that answer (the vote's thanks, the comment prompt and its reply) in the same language;
else in the turn's language (bot/i18n.py). Quotes and citations stay as the guidance has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot import i18n, render, texts
from bot.answers import answer_question
from bot.dialogue.flow import CommandSpec, Turn
from bot.store import LogWriteError, Row
from bot.types import Button, Reply, Text
from index.language import detect

FOLLOW_UP_WINDOW = 30 * 60  # seconds within which a short question may follow up the last one
COMMENT_TTL = 24 * 3600  # seconds a 👎 waits for its comment (a reply to the prompt)
_UNKNOWN = object()


def answer_buttons(answer_id: int | None, chunk_ids: Sequence[str],
                   vote: int | None = None) -> tuple[tuple[Button, ...], ...]:
    """Show passage 1..n, then 👍 / 👎 with the vote given marked."""
    rows: list[tuple[Button, ...]] = []
    if chunk_ids:
        rows.append(tuple(Button(texts.SHOW_PASSAGE.format(n=n), f"p:{chunk}")
                          for n, chunk in enumerate(chunk_ids, start=1)))
    if answer_id is not None:
        up = texts.VOTED.format(label=texts.HELPFUL) if vote == 1 else texts.HELPFUL
        down = texts.VOTED.format(label=texts.NOT_HELPFUL) if vote == -1 else texts.NOT_HELPFUL
        rows.append((Button(up, f"f:{answer_id}:1"), Button(down, f"f:{answer_id}:-1")))
    return tuple(rows)


def question_language(text: str) -> str | None:
    """The language a question is clearly written in ("en", "fr", "es"), or None."""
    found = detect(text)
    return found if found in i18n.LANGUAGES else None


def speak_as_question(turn: Turn, language: str | None) -> None:
    """Answer in the question's language for the rest of the turn, unless the user chose
    one with /language."""
    if turn.chosen_language is None and language in i18n.LANGUAGES:
        i18n.use(language)  # type: ignore[arg-type]


def _id_of(key: str | None, prefix: str) -> int | None:
    if key is None or not key.startswith(prefix + ":"):
        return None
    rest = key[len(prefix) + 1:]
    return int(rest) if rest.isascii() and rest.isdigit() and len(rest) < 19 else None


@dataclass
class QuestionFlow:
    """Answers free text as a question; always takes it, so it goes last among the flows."""

    prefixes: tuple[str, ...] = ("p", "f")
    groups: bool = True  # answers questions in group chats too
    pending_kinds: tuple[str, ...] = ("comment",)

    def commands(self) -> Sequence[CommandSpec]:
        return [CommandSpec("sources", texts.SUMMARY_SOURCES, self.sources, group=True)]

    def sources(self, turn: Turn, args: str) -> list[Reply]:
        """`/sources`: the documents in the knowledge base."""
        documents = turn.ctx.searcher.current().manifest["documents"]
        return [Reply(render.sources_message(documents))]

    # ---- free text -----------------------------------------------------------------------

    def on_text(self, turn: Turn, message: Text) -> list[Reply] | None:
        comment_for = _id_of(message.reply_key, "comment")
        if comment_for is not None:
            return self._comment(turn, comment_for, message.text)
        return self.answer(turn, message.text, replied=_id_of(message.reply_key, "answer"))

    def _comment(self, turn: Turn, answer_id: int, comment: str) -> list[Reply]:
        """A reply to the comment prompt: saved while the prompt is open."""
        user, store = turn.user, turn.ctx.store
        waiting = [row for row in store.pending(user.id, user.chat_id, "comment")
                   if row["data"] == answer_id]
        self._speak_as_answer(turn, answer_id)
        if not waiting:
            return [Reply(texts.COMMENT_CLOSED)]
        if not comment.strip():
            return [Reply(texts.COMMENT_EMPTY, force_reply=True, key=f"comment:{answer_id}")]
        store.add_feedback_comment(answer_id=answer_id, user_id=user.id, comment=comment)
        store.drop_pending(user.id, user.chat_id, "comment")
        return [Reply(texts.FEEDBACK_COMMENT_SAVED)]

    def _previous(self, turn: Turn, replied: int | None) -> Row | None:
        """What a follow-up is read with: the answer replied to, else the last recent one."""
        ctx, user = turn.ctx, turn.user
        try:
            if replied is not None:
                answer = ctx.store.answer(replied)
                if answer is not None and answer.get("chat_id") == user.chat_id:
                    return answer
            return ctx.store.last_answer(chat_id=user.chat_id, user_id=user.id,
                                         within_seconds=FOLLOW_UP_WINDOW)
        except LogWriteError:
            return None

    def answer(self, turn: Turn, text: str, *, replied: int | None = None) -> list[Reply]:
        """The answer to a question, logged with its passages, with its buttons; `replied` is
        the answer the user replied to (the context of a follow-up)."""
        ctx, user = turn.ctx, turn.user
        last = self._previous(turn, replied) if text.strip() else None
        answer = answer_question(text, ctx.searcher, threshold=ctx.settings.threshold,
                                 top_k=ctx.settings.top_k,
                                 previous=last["query"] if last else None,
                                 replied=replied is not None and last is not None)
        speak_as_question(turn, self._language_of(answer, text))
        html = render.answer_message(answer, previous=last["question"] if last else None)
        if answer.reason in ("empty", "no_words", "number_only", "link_only", "no_terms",
                             "small_talk"):
            return [Reply(html)]
        answer_id = turn.log(
            "log_answer", message_id=turn.message_id, user_id=user.id,
            chat_id=user.chat_id, question=text, query=answer.query, answer=html,
            grounded=answer.grounded, index_version=answer.version,
            passages=[(h.chunk.id, float(h.score)) for h in answer.hits],
            top_score=float(answer.top_score))
        rows = answer_buttons(answer_id, [h.chunk.id for h in answer.hits])
        key = f"answer:{answer_id}" if answer_id is not None else None
        return [Reply(html, rows, key=key)]

    # ---- buttons -------------------------------------------------------------------------

    def on_press(self, turn: Turn, prefix: str, rest: str) -> list[Reply]:
        if prefix == "p":
            chunk = turn.ctx.searcher.current().by_id(rest) if rest else None
            if chunk is None:
                return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
            return [Reply(render.passage_message(chunk))]
        return self._feedback(turn, rest)

    def _feedback(self, turn: Turn, rest: str) -> list[Reply]:
        """A vote: kept (a comment given before stays), shown on the buttons; a 👎 asks for a
        comment as a reply to the prompt."""
        user, store = turn.user, turn.ctx.store
        answer_id_text, _, value_text = rest.partition(":")
        if not (answer_id_text.isascii() and answer_id_text.isdigit()
                and len(answer_id_text) < 19) or value_text not in ("1", "-1"):
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        answer_id, value = int(answer_id_text), int(value_text)
        answer = store.answer(answer_id)
        if answer is None or answer.get("user_id") != user.id:
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        self._speak_as_answer(turn, answer_id, answer)
        store.log_feedback(answer_id=answer_id, user_id=user.id, value=value)
        marked = Reply(buttons=answer_buttons(answer_id, [c for c, _ in answer["passages"]],
                                              vote=value), edit=True, notice=texts.FEEDBACK_THANKS)
        if value == 1:
            return [marked]
        store.set_pending(user.id, user.chat_id, "comment", answer_id, ttl_seconds=COMMENT_TTL)
        return [marked, Reply(texts.FEEDBACK_ASK_COMMENT, force_reply=True,
                              key=f"comment:{answer_id}")]

    @staticmethod
    def _language_of(answer: object, text: str) -> str | None:
        """The question's language as the answer found it (`Answer.language`), or detected
        here when the answer does not say."""
        found = getattr(answer, "language", _UNKNOWN)
        if found is _UNKNOWN:
            return question_language(text) if text.strip() else None
        return found if found in i18n.LANGUAGES else None  # type: ignore[return-value]

    def _speak_as_answer(self, turn: Turn, answer_id: int, row: Row | None = None) -> None:
        """What follows an answer (its votes, the comment) is in the answer's language."""
        if turn.chosen_language is not None:
            return
        if row is None:
            try:
                row = turn.ctx.store.answer(answer_id)
            except LogWriteError:
                return
        if row is not None and row.get("question"):
            speak_as_question(turn, question_language(str(row["question"])))

    # ---- /cancel and /start --------------------------------------------------------------

    def on_cancel(self, turn: Turn, kind: str) -> str | None:
        turn.ctx.store.drop_pending(turn.user.id, turn.user.chat_id, kind)
        return texts.CANCELLED_COMMENT

    def on_start(self, turn: Turn, payload: str) -> list[Reply] | None:
        return None
