"""kill -9 under load loses 0 answers and answers none twice (end-to-end, a real process killed).

The real `python -m bot run` (long polling, the real index and model) serves 30 simulated users
of the fake Bot API server, which runs in this process. While replies are flowing the bot is
killed with SIGKILL, the moment the fake server has answered a sendMessage (so that reply may be
accepted by "Telegram" but not yet marked sent: the case the outbox calls "in doubt"). The same
command is started again on the same data directory while the users keep asking; then they stop
and the test waits until every question has its answer.

What must hold (bot/store/delivery.py, bot/tg/runner.py):

- every question sent gets an answer: none is lost, whether it was still queued at the fake
  server, stored but not handled, or handled with its reply pending in the outbox;
- no question is answered twice, except one whose reply row was pending with attempts >= 1 at
  the kill (it may have reached Telegram in the moment before; the outbox sends it again);
- one user's answers arrive in the order of the questions;
- the session log has an answer for every question, and no update is left unhandled;
- the restarted bot stops on SIGTERM with exit status 0.

Answers are matched to questions through the outbox: a sent row holds the Telegram message id
the fake server gave the message, and its update id. A message of the fake server that no row
holds was accepted but never marked sent; it is a copy of the next message in its chat with
the same text (the row sent again), which gives its question. The output of both bot processes
is kept in files and shown when an assertion fails.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

from tests.conftest import ROOT
from tests.support.fakebotapi import FakeBotAPI, Request
from tests.support.load import (
    Asked,
    Outcome,
    Users,
    answers,
    devset_questions,
    outputs,
)

USERS = 30
FIRST_USER = 30_001
WARM_UP_USER = 30_000  # asks one question before the load: the model and index are loaded
REPLY_WAIT = 2.0  # seconds a user waits for the reply before asking the next question
LOAD_SECONDS = 4.0  # questions flowing before the kill ...
KILL_AFTER_REPLIES = 40  # ... and at least this many replies arrived
AFTER_RESTART = 3.0  # seconds the users go on asking once the restarted bot answers
START_TIMEOUT = 90.0  # seconds a bot process may take to start answering
SETTLE_TIMEOUT = 60.0  # seconds for every question to have its answer at the end
STOP_TIMEOUT = 40.0  # seconds the restarted bot may take to exit on SIGTERM


def bot_env(server: FakeBotAPI, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "PARTNERBOT_DATA_DIR": str(data_dir),
            "PARTNERBOT_KNOWLEDGE_DIR": str(ROOT / "knowledge"),
            "PARTNERBOT_TELEGRAM_TOKEN": server.token,
            "PARTNERBOT_TELEGRAM_API_URL": server.base_url, "PARTNERBOT_ALLOWED_USERS": "*"}


def start_bot(env: dict[str, str], log: IO[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, text=True)


def wait_until(check: Any, timeout: float, what: str, process: subprocess.Popen[str],
               logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if process.poll() is not None:
            raise AssertionError(f"the bot exited ({process.returncode}) while waiting for "
                                 f"{what}\n{outputs(logs)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n"
                                 f"{outputs(logs)}")
        time.sleep(0.05)


def query(db_path: Path, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Rows of the bot's database, read by a connection of our own (closed at once)."""
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def settled(server: FakeBotAPI, db_path: Path, asked: list[Asked]) -> bool:
    """Each user has at least as many messages as questions, and nothing is left to do."""
    per_chat = Counter(r.chat_id for r in answers(server, {a.user for a in asked}))
    if any(per_chat[user] < n for user, n in Counter(a.user for a in asked).items()):
        return False
    try:
        left = query(db_path, "SELECT (SELECT count(*) FROM updates WHERE status = 'received')"
                              " + (SELECT count(*) FROM outbox WHERE status = 'pending') AS n")
    except sqlite3.OperationalError:  # locked for a moment
        return False
    return int(left[0]["n"]) == 0


def describe(updates: list[int], by_update: dict[int, list[Request]], rows: list[sqlite3.Row],
             killed_at: float) -> str:
    """Each update's messages (when, relative to the kill) and outbox rows."""
    lines = []
    for update_id in updates:
        lines.append(f"update {update_id}:")
        for m in by_update.get(update_id, []):
            lines.append(f"  message {m.result['message_id']} in chat {m.chat_id} at "
                         f"{m.at - killed_at:+.3f} s: {m.params['text'][:60]!r}")
        for r in rows:
            if r["update_id"] == update_id:
                lines.append(f"  outbox row {dict(r)}")
    return "\n".join(lines)


def test_kill_9_under_load_loses_no_answer_and_answers_none_twice(
        real_data_dir: Path, tmp_path: Path) -> None:
    """kill -9 under load loses 0 answers and answers none twice (end-to-end, a real
    process killed, then started again on the same data directory)."""
    logs = [tmp_path / "bot-1.log", tmp_path / "bot-2.log"]
    db_path = real_data_dir / "partnerbot.db"
    began = time.monotonic()
    with FakeBotAPI() as server:
        env = bot_env(server, real_data_dir)
        users = Users(server, devset_questions(), count=USERS, first_user=FIRST_USER,
                      reply_wait=REPLY_WAIT)
        chats = {WARM_UP_USER, *(FIRST_USER + n for n in range(USERS))}
        chat_ids = {str(c) for c in chats}
        second: subprocess.Popen[str] | None = None
        with open(logs[0], "w") as log1, open(logs[1], "w") as log2:
            first = start_bot(env, log1)
            try:
                # -- under load, then killed ----------------------------------------------------
                wait_until(lambda: server.long_polls > 0, START_TIMEOUT, "the first long poll",
                           first, logs)
                warm_up = users.pool[0]
                update_id = server.send_text(WARM_UP_USER, warm_up)
                users.asked.append(Asked(WARM_UP_USER, warm_up, update_id))
                server.wait_reply(update_id, timeout=START_TIMEOUT)
                users.start()
                load_began = time.monotonic()
                wait_until(lambda: time.monotonic() - load_began >= LOAD_SECONDS
                           and len(answers(server, chats)) >= KILL_AFTER_REPLIES,
                           START_TIMEOUT, f"{KILL_AFTER_REPLIES} replies", first, logs)
                # the moment the server accepts a reply: the bot has not marked it sent yet
                server.wait_for("sendMessage", lambda p: str(p.get("chat_id")) in chat_ids,
                                timeout=30, since=len(server.requests))
                os.kill(first.pid, signal.SIGKILL)
                killed_at = time.monotonic()
                assert first.wait(10) == -signal.SIGKILL
                replies_at_kill = len(answers(server, chats))
                with users.lock:
                    asked_at_kill = len(users.asked)
                in_doubt = query(db_path, "SELECT id, update_id, chat_id, attempts FROM outbox"
                                          " WHERE status = 'pending' AND attempts >= 1")
                queued = query(db_path, "SELECT count(*) AS n FROM outbox"
                                        " WHERE status = 'pending' AND attempts = 0")[0]["n"]
                unhandled = query(db_path, "SELECT count(*) AS n FROM updates"
                                           " WHERE status = 'received'")[0]["n"]
                doubtful = {int(r["update_id"]) for r in in_doubt if r["update_id"] is not None}

                # -- the same command again, on the same data directory -------------------------
                restart_index = len(server.requests)
                second = start_bot(env, log2)
                wait_until(lambda: any(r.method == "getMe" for r in
                                       server.requests[restart_index:]),
                           START_TIMEOUT, "getMe of the restarted bot", second, logs)
                started_index = len(server.requests)  # a request the killed bot sent is before
                wait_until(lambda: answers(server, chats, started_index), START_TIMEOUT,
                           "a reply of the restarted bot", second, logs)
                restarted_in = time.monotonic() - killed_at
                time.sleep(AFTER_RESTART)
                asked = users.finish()
                wait_until(lambda: settled(server, db_path, asked), SETTLE_TIMEOUT,
                           "an answer to every question", second, logs)
                time.sleep(1.0)  # a second copy of an answer would have come by now
            finally:
                users.stop.set()
                if first.poll() is None:
                    first.kill()
                    first.wait(10)
                stopped_in = None
                if second is not None and second.poll() is None:
                    stopping = time.monotonic()
                    second.send_signal(signal.SIGTERM)
                    try:
                        second.wait(STOP_TIMEOUT)
                        stopped_in = time.monotonic() - stopping
                    except subprocess.TimeoutExpired:
                        second.kill()
                        second.wait(10)
        messages = answers(server, chats)

    rows = query(db_path, "SELECT id, update_id, chat_id, status, attempts, message_id"
                          " FROM outbox ORDER BY id")
    outcome = Outcome.judge(asked, messages, rows,
                            query(db_path, "SELECT user_id, question FROM answers"), chats)
    received = query(db_path, "SELECT update_id FROM updates WHERE status = 'received'")
    summary = (f"questions {len(asked)} ({asked_at_kill} asked before the kill); killed after "
               f"{replies_at_kill} replies, {killed_at - began:.1f} s into the test; at the "
               f"kill: {len(in_doubt)} replies in doubt (updates {sorted(doubtful)}), {queued} "
               f"queued unsent, {unhandled} updates stored unhandled; restarted and answering in "
               f"{restarted_in:.1f} s; messages {len(messages)}; duplicates "
               f"{len(outcome.duplicated)} (updates {sorted(outcome.duplicated)}; copies never "
               f"marked sent: {len(outcome.copies)}); lost {len(outcome.lost)}; questions logged "
               f"twice {outcome.logged_twice}; SIGTERM exit in "
               f"{stopped_in if stopped_in is None else round(stopped_in, 1)} s;"
               f" {time.monotonic() - began:.1f} s in all")
    print(summary)
    context = f"{summary}\n{outputs(logs)}"
    assert second is not None and second.returncode == 0, context
    beyond = sorted(outcome.duplicated - doubtful)
    if beyond:  # what each of them went through, for the failure below
        context += "\n" + describe(beyond, outcome.by_update, rows, killed_at)
    outcome.check(doubtful, received, asked_at_kill, context)
