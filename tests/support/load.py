"""Simulated users under load, and what their answers say, for the kill tests
(tests/e2e/test_kill.py: one bot on SQLite; tests/e2e/test_workers.py: two webhook workers on
PostgreSQL behind nginx).

`Users` are threads, each asking its own questions one after the other through the fake Bot
API server (waiting `reply_wait` seconds for the reply before the next). `attribute` matches
the messages the fake server accepted to the questions through the outbox rows: a sent row
holds the Telegram message id the fake server gave the message, and its update id. A message
no row holds was accepted but never marked sent (the bot was killed in between); it is a copy
of the next message in its chat with the same text (the row sent again), which gives its
question.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT
from tests.support.fakebotapi import FakeBotAPI, Request

ANSWER_MARKS = ("<b>Sources</b>", "Closest passages")
Row = Any  # a row by column name: sqlite3.Row, or a psycopg dict row


@dataclass
class Asked:
    user: int
    question: str
    update_id: int


@dataclass
class Users:
    """Simulated users, each asking its own questions one after the other."""

    server: FakeBotAPI
    pool: list[str]
    count: int = 30
    first_user: int = 30_001
    reply_wait: float = 2.0
    asked: list[Asked] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def ids(self) -> set[int]:
        return {self.first_user + n for n in range(self.count)}

    def start(self) -> None:
        for n in range(self.count):
            user = self.first_user + n
            questions = random.Random(user).sample(self.pool, len(self.pool))  # each its order
            thread = threading.Thread(target=self._ask, args=(user, questions), daemon=True,
                                      name=f"user {user}")
            self.threads.append(thread)
            thread.start()

    def _ask(self, user: int, questions: list[str]) -> None:
        pause = random.Random(-user)
        time.sleep(pause.uniform(0, 0.5))  # users start at different moments
        for question in questions:  # a question at most once per user: bounded
            if self.stop.is_set():
                return
            with self.lock:  # queued and recorded together: the record is complete
                update_id = self.server.send_text(user, question)
                self.asked.append(Asked(user, question, update_id))
            try:
                self.server.wait_reply(update_id, timeout=self.reply_wait)
            except AssertionError:  # no reply in time (the bot is down): ask the next one
                pass
            time.sleep(pause.uniform(0, 0.2))

    def finish(self) -> list[Asked]:
        self.stop.set()
        for thread in self.threads:
            thread.join(self.reply_wait + 5)
        assert not any(t.is_alive() for t in self.threads), "a user thread did not stop"
        with self.lock:
            return list(self.asked)


def devset_questions() -> list[str]:
    data = yaml.safe_load((ROOT / "eval" / "devset.yaml").read_text(encoding="utf-8"))
    return list(dict.fromkeys(item["question"] for item in data["questions"]))


def answers(server: FakeBotAPI, chats: set[int], since: int = 0) -> list[Request]:
    """The messages the fake server accepted in the users' chats, in order."""
    return [r for r in server.requests[since:] if r.ok and r.method == "sendMessage"
            and r.chat_id in chats]


def attribute(messages: list[Request], rows: Sequence[Row]
              ) -> tuple[dict[int, list[Request]], list[Request], list[Request]]:
    """(update id -> its messages, copies no row recorded, messages no question explains)."""
    recorded = {(int(r["chat_id"]), int(r["message_id"])): int(r["update_id"]) for r in rows
                if r["status"] == "sent" and r["message_id"] is not None
                and r["update_id"] is not None}
    by_update: dict[int, list[Request]] = {}
    copies: list[Request] = []
    unexplained: list[Request] = []
    for n, message in enumerate(messages):
        key = (int(message.chat_id or 0), int(message.result["message_id"]))
        update_id = recorded.get(key)
        if update_id is None:  # accepted, never marked sent: the row sent again is later
            sent_again = next((m for m in messages[n + 1:] if m.chat_id == message.chat_id
                               and m.params.get("text") == message.params.get("text")
                               and (int(m.chat_id or 0), int(m.result["message_id"]))
                               in recorded), None)
            if sent_again is None:
                unexplained.append(message)
                continue
            copies.append(message)
            update_id = recorded[(int(sent_again.chat_id or 0),
                                  int(sent_again.result["message_id"]))]
        by_update.setdefault(update_id, []).append(message)
    return by_update, copies, unexplained


def out_of_order(messages: list[Request], by_update: dict[int, list[Request]],
                 chats: set[int]) -> list[int]:
    """The chats whose answers did not arrive in the order of their questions."""
    question_of = {id(m): u for u, ms in by_update.items() for m in ms}
    wrong = []
    for user in sorted(chats):
        order = [question_of[id(m)] for m in messages if m.chat_id == user and id(m) in question_of]
        if order != sorted(order):
            wrong.append(user)
    return wrong


def outputs(logs: list[Path], name: str = "bot process") -> str:
    """The processes' output files (without progress bars), the end of each."""
    parts = []
    for n, path in enumerate(logs, start=1):
        text = path.read_text(errors="replace") if path.exists() else "(none)"
        lines = [line for line in text.splitlines()  # not the embedder's progress bars
                 if line.strip() and "Batches:" not in line]
        text = "\n".join(lines)
        parts.append(f"--- output of {name} {n} (last 6000 characters) ---\n{text[-6000:]}")
    return "\n".join(parts)


@dataclass
class Outcome:
    """What a load with a kill left: each question's answers, and what went wrong."""

    asked: list[Asked]
    messages: list[Request]
    by_update: dict[int, list[Request]]
    copies: list[Request]  # accepted, never marked sent (the row was sent again)
    unexplained: list[Request]  # messages no question explains
    lost: list[Asked]
    duplicated: set[int]  # update ids answered more than once
    not_answers: list[Request]
    disordered: list[int]  # chats whose answers came out of order
    not_logged: list[Asked]  # questions with no row in the answers table
    logged_twice: int

    @classmethod
    def judge(cls, asked: list[Asked], messages: list[Request], outbox: Sequence[Row],
              answered: Sequence[Row], chats: set[int]) -> Outcome:
        """`outbox`: its rows (id, update_id, chat_id, status, attempts, message_id);
        `answered`: the (user_id, question) of every row of the answers table."""
        by_update, copies, unexplained = attribute(messages, outbox)
        logged = Counter((int(r["user_id"]), r["question"]) for r in answered)
        return cls(
            asked=asked, messages=messages, by_update=by_update, copies=copies,
            unexplained=unexplained,
            lost=[a for a in asked if not by_update.get(a.update_id)],
            duplicated={a.update_id for a in asked if len(by_update.get(a.update_id, [])) > 1},
            not_answers=[m for m in messages if m.chat_id in chats
                         and not any(s in m.params["text"] for s in ANSWER_MARKS)],
            disordered=out_of_order(messages, by_update, chats),
            not_logged=[a for a in asked if not logged[(a.user, a.question)]],
            logged_twice=sum(1 for n in logged.values() if n > 1))

    def check(self, doubtful: set[int], unhandled: Sequence[Row], asked_at_kill: int,
              report: str) -> None:
        """Nothing lost, nothing twice but replies in doubt at the kill, every message an
        answer of its question in order, every question logged, no update left unhandled, and
        questions asked after the kill too."""
        assert not self.lost, f"lost: {self.lost[:10]}\n{report}"
        assert self.duplicated <= doubtful, ("answered twice though not in doubt: "
                                             f"{sorted(self.duplicated - doubtful)}\n{report}")
        strays = [(m.chat_id, m.result["message_id"]) for m in self.unexplained]
        assert not strays, f"messages no question explains: {strays}\n{report}"
        assert not self.not_answers, \
            f"not answers: {[m.params['text'][:80] for m in self.not_answers]}"
        assert not self.disordered, f"answers out of order in chats {self.disordered}\n{report}"
        assert not self.not_logged, \
            f"no answer in the session log: {self.not_logged[:10]}\n{report}"
        assert not unhandled, f"updates left unhandled: {[r['update_id'] for r in unhandled]}"
        assert len(self.asked) > asked_at_kill, f"no question was asked after the kill\n{report}"
