"""Questions and answers in the conversation: the answer with its passage and feedback
buttons, follow-ups, the full passage, 👍 / 👎 and the comment after a 👎.

Callback data:
    p:<chunk id>                 show a passage in full
    f:<answer id>:<1|-1>         rate an answer
Pending state (in the store): "comment" - the answer a 👎 comment is for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot import render, texts
from bot.answers import answer_question
from bot.dialogue.flow import CommandSpec, Turn
from bot.store import LogWriteError
from bot.types import Button, Reply, Text

FOLLOW_UP_WINDOW = 30 * 60  # seconds within which a short question may follow up the last one
COMMENT_TTL = 30 * 60  # seconds a 👎 waits for its comment


@dataclass
class QuestionFlow:
    """Answers free text as a question; always takes it, so it goes last among the flows."""

    prefixes: tuple[str, ...] = ("p", "f")
    pending_kinds: tuple[str, ...] = ("comment",)

    def commands(self) -> Sequence[CommandSpec]:
        return [CommandSpec("sources", texts.SUMMARY_SOURCES, self.sources)]

    def sources(self, turn: Turn, args: str) -> list[Reply]:
        """`/sources`: the documents in the knowledge base."""
        documents = turn.ctx.searcher.current().manifest["documents"]
        return [Reply(render.sources_message(documents))]

    # ---- free text -----------------------------------------------------------------------

    def on_text(self, turn: Turn, message: Text) -> list[Reply] | None:
        user, store = turn.user, turn.ctx.store
        waiting = store.pending(user.id, user.chat_id, "comment")
        if waiting:
            store.drop_pending(user.id, user.chat_id, "comment")
            store.add_feedback_comment(answer_id=int(waiting[0]["data"]), user_id=user.id,
                                       comment=message.text)
            return [Reply(texts.FEEDBACK_COMMENT_SAVED)]
        return self.answer(turn, message.text)

    def answer(self, turn: Turn, text: str) -> list[Reply]:
        """The answer to a question, logged with its passages, with its buttons."""
        ctx, user = turn.ctx, turn.user
        last = None
        if text.strip():
            try:
                last = ctx.store.last_answer(chat_id=user.chat_id, user_id=user.id,
                                             within_seconds=FOLLOW_UP_WINDOW)
            except LogWriteError:
                last = None
        answer = answer_question(text, ctx.searcher, threshold=ctx.settings.threshold,
                                 top_k=ctx.settings.top_k,
                                 previous=last["query"] if last else None)
        html = render.answer_message(answer, previous=last["question"] if last else None)
        if answer.reason in ("empty", "no_words", "no_terms", "small_talk"):
            return [Reply(html)]
        answer_id = turn.log(
            "log_answer", message_id=turn.message_id, user_id=user.id,
            chat_id=user.chat_id, question=text, query=answer.query, answer=html,
            grounded=answer.grounded, index_version=answer.version,
            passages=[(h.chunk.id, float(h.score)) for h in answer.hits],
            top_score=float(answer.top_score))
        rows: list[tuple[Button, ...]] = []
        passages = tuple(Button(texts.SHOW_PASSAGE.format(n=n), f"p:{h.chunk.id}")
                         for n, h in enumerate(answer.hits, start=1))
        if passages:
            rows.append(passages)
        if answer_id is not None:
            rows.append((Button(texts.HELPFUL, f"f:{answer_id}:1"),
                         Button(texts.NOT_HELPFUL, f"f:{answer_id}:-1")))
        return [Reply(html, tuple(rows))]

    # ---- buttons -------------------------------------------------------------------------

    def on_press(self, turn: Turn, prefix: str, rest: str) -> list[Reply]:
        if prefix == "p":
            chunk = turn.ctx.searcher.current().by_id(rest) if rest else None
            if chunk is None:
                return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
            return [Reply(render.passage_message(chunk))]
        return self._feedback(turn, rest)

    def _feedback(self, turn: Turn, rest: str) -> list[Reply]:
        user, store = turn.user, turn.ctx.store
        answer_id_text, _, value_text = rest.partition(":")
        if not answer_id_text.isdigit() or value_text not in ("1", "-1"):
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        answer = store.answer(int(answer_id_text))
        if answer is None or answer.get("user_id") != user.id:
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        store.log_feedback(answer_id=int(answer_id_text), user_id=user.id, value=int(value_text))
        if value_text == "1":
            return [Reply(notice=texts.FEEDBACK_THANKS)]
        store.set_pending(user.id, user.chat_id, "comment", int(answer_id_text),
                          ttl_seconds=COMMENT_TTL)
        return [Reply(texts.FEEDBACK_ASK_COMMENT, notice=texts.FEEDBACK_THANKS)]

    # ---- /cancel and /start --------------------------------------------------------------

    def on_cancel(self, turn: Turn, kind: str) -> str | None:
        turn.ctx.store.drop_pending(turn.user.id, turn.user.chat_id, kind)
        return texts.CANCELLED_COMMENT

    def on_start(self, turn: Turn, payload: str) -> list[Reply] | None:
        return None
