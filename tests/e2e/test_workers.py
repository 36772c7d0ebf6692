"""Two webhook workers on one PostgreSQL behind nginx; one killed with kill -9 mid-conversation.

Two real `python -m bot run --webhook` processes (the real index and model, each with its own
data directory, as on two machines) share one session log in the test PostgreSQL server. A
real nginx runs the shipped deploy/nginx.conf in front of them (tests/support/nginx.py). The
fake Bot API server posts every update to nginx as Telegram posts to a webhook
(tests/support/fakebotapi/webhook.py: a chat's updates one at a time, in order; retried until
answered 2xx). Twelve simulated users talk at once, so both workers take updates; while
replies are flowing, the first worker is killed with SIGKILL at the moment the fake server
has accepted a sendMessage (so one of its replies may be accepted but not yet marked sent: in
doubt). The users keep asking; nginx sends everything to the survivor, which takes over the
killed worker's claims once their lease lapses (bot/tg/runner.py).

What must hold:

- every post of an update was answered 200 through nginx (a dead worker is skipped, a post
  it dropped is passed on to the other), both workers took updates before the kill;
- every question gets an answer (none lost), none is answered twice except a reply the killed
  worker had claimed and begun to send (in doubt), and each user's answers arrive in the order
  of the questions;
- the session log has an answer for every question; no update is left unhandled, no reply
  pending; the survivor exits 0 on SIGTERM.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.conftest import POSTGRES_REQUIRED, ROOT
from tests.support.fakebotapi import FakeBotAPI
from tests.support.load import (
    Asked,
    Outcome,
    Users,
    answers,
    devset_questions,
    outputs,
)
from tests.support.nginx import NginxProxy, find_nginx, free_port

USERS = 12
FIRST_USER = 40_001
WARM_UP = (40_000, 39_999)  # one user per worker, posted to it directly: its model loaded
SECRET = "workers-test-secret"
LOAD_SECONDS = 3.0  # questions flowing before the kill ...
KILL_AFTER_REPLIES = 20  # ... and at least this many replies arrived
AFTER_KILL = 5.0  # seconds the users go on asking after the kill
START_TIMEOUT = 120.0  # both workers loading the model on two cores
SETTLE_TIMEOUT = 60.0  # the survivor takes over after the lease (15 s) and answers the rest
STOP_TIMEOUT = 40.0


def worker_env(server: FakeBotAPI, data_dir: Path, database_url: str) -> dict[str, str]:
    return {**os.environ, "PARTNERBOT_DATA_DIR": str(data_dir),
            "PARTNERBOT_KNOWLEDGE_DIR": str(ROOT / "knowledge"),
            "PARTNERBOT_TELEGRAM_TOKEN": server.token,
            "PARTNERBOT_TELEGRAM_API_URL": server.base_url, "PARTNERBOT_ALLOWED_USERS": "*",
            "PARTNERBOT_DATABASE_URL": database_url}


def start_worker(env: dict[str, str], port: int, log: IO[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--webhook", "--listen", "127.0.0.1", "--port",
         str(port), "--url", "https://bot.example.org", "--secret-token", SECRET],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)


def query(url: str, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(sql, args).fetchall()


def wait_until(check: Callable[[], bool], timeout: float, what: str,
               workers: list[subprocess.Popen[str]], context: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        dead = [w for w in workers if w.poll() is not None]
        if dead:
            raise AssertionError(f"a worker exited ({dead[0].returncode}) while waiting for "
                                 f"{what}\n{context()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n"
                                 f"{context()}")
        time.sleep(0.05)


def post_direct(port: int, update_id: int, user: int, text: str) -> int:
    """POST an update to one worker, bypassing nginx (the warm-up of each worker)."""
    update = {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": text,
        "chat": {"id": user, "type": "private"},
        "from": {"id": user, "is_bot": False, "first_name": "Warm"}}}
    response = httpx.post(f"http://127.0.0.1:{port}/telegram", content=json.dumps(update),
                          headers={"Content-Type": "application/json",
                                   "X-Telegram-Bot-Api-Secret-Token": SECRET},
                          timeout=10, trust_env=False)
    return response.status_code


def warm_up(port: int, update_id: int, user: int, question: str) -> None:
    """Post a question to one worker directly, retried while its listener starts (it
    listens just after it called setWebhook)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            status = post_direct(port, update_id, user, question)
            assert status == 200, f"the warm-up post to {port} was answered {status}"
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def replied(server: FakeBotAPI, user: int) -> Callable[[], bool]:
    return lambda: bool(answers(server, {user}))


def settled(server: FakeBotAPI, url: str, asked: list[Asked]) -> bool:
    per_chat = Counter(r.chat_id for r in answers(server, {a.user for a in asked}))
    if any(per_chat[user] < n for user, n in Counter(a.user for a in asked).items()):
        return False
    left = query(url, "SELECT (SELECT count(*) FROM updates WHERE status = 'received')"
                      " + (SELECT count(*) FROM outbox WHERE status = 'pending') AS n")
    return int(left[0]["n"]) == 0 and server.pending_update_count == 0


def test_two_workers_behind_nginx_lose_nothing_when_one_is_killed(
        real_data_dir: Path, tmp_path: Path, database_url: str) -> None:
    if find_nginx() is None:
        problem = "nginx is not installed: run bash scripts/setup.sh as root, or apt-get " \
                  "install -y nginx"
        if POSTGRES_REQUIRED:  # CI: the set-up installs both
            pytest.fail(problem)
        pytest.skip(problem)
    data_dirs = [real_data_dir, tmp_path / "var-2"]
    shutil.copytree(real_data_dir, data_dirs[1])
    ports = [free_port(), free_port()]
    names = [f"{socket.gethostname()}:{p}" for p in ports]  # the workers' names in claims
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    began = time.monotonic()
    with FakeBotAPI() as server, NginxProxy(ports, tmp_path / "nginx") as nginx:
        webhook = server.deliver_webhooks(nginx.url, connections=8)
        users = Users(server, devset_questions(), count=USERS, first_user=FIRST_USER)
        chats = {*WARM_UP, *users.ids}
        chat_ids = {str(c) for c in users.ids}

        def context() -> str:
            return (f"{outputs(logs, 'worker')}\n--- nginx access log (last 30 lines) ---\n"
                    + "\n".join(nginx.log_lines()[-30:]) + f"\n{nginx.error_log()[-2000:]}")

        with open(logs[0], "w") as log1, open(logs[1], "w") as log2:
            workers = [start_worker(worker_env(server, d, database_url), p, out)
                       for d, p, out in zip(data_dirs, ports, (log1, log2), strict=True)]
            try:
                wait_until(lambda: len(server.calls("setWebhook")) >= 2, START_TIMEOUT,
                           "both workers' setWebhook", workers, context)
                for n, (port, user) in enumerate(zip(ports, WARM_UP, strict=True)):
                    warm_up(port, 9_000_000 + n, user, users.pool[0])
                for user in WARM_UP:
                    wait_until(replied(server, user), START_TIMEOUT,
                               f"the warm-up reply to {user}", workers, context)

                # -- a conversation across both workers, then one killed --------------------
                users.start()
                load_began = time.monotonic()
                wait_until(lambda: time.monotonic() - load_began >= LOAD_SECONDS
                           and len(answers(server, users.ids)) >= KILL_AFTER_REPLIES,
                           START_TIMEOUT, f"{KILL_AFTER_REPLIES} replies", workers, context)
                log_at_kill = len(nginx.log_lines())
                server.wait_for("sendMessage", lambda p: str(p.get("chat_id")) in chat_ids,
                                timeout=30, since=len(server.requests))
                os.kill(workers[0].pid, signal.SIGKILL)
                killed_at = time.monotonic()
                assert workers[0].wait(10) == -signal.SIGKILL
                replies_at_kill = len(answers(server, users.ids))
                with users.lock:
                    asked_at_kill = len(users.asked)
                in_doubt = query(database_url, "SELECT id, update_id FROM outbox WHERE status ="
                                 " 'pending' AND attempts >= 1 AND claimed_by = %s", (names[0],))
                doubtful = {int(r["update_id"]) for r in in_doubt if r["update_id"] is not None}
                claimed = query(database_url, "SELECT count(*) AS n FROM update_claims"
                                " WHERE worker = %s", (names[0],))[0]["n"]
                time.sleep(AFTER_KILL)
                asked = users.finish()
                wait_until(lambda: settled(server, database_url, asked), SETTLE_TIMEOUT,
                           "an answer to every question", workers[1:], context)
                time.sleep(1.0)  # a second copy of an answer would have come by now
            finally:
                users.stop.set()
                for worker in workers[:1]:
                    if worker.poll() is None:
                        worker.kill()
                        worker.wait(10)
                survivor = workers[1]
                if survivor.poll() is None:
                    survivor.send_signal(signal.SIGTERM)
                    try:
                        survivor.wait(STOP_TIMEOUT)
                    except subprocess.TimeoutExpired:
                        survivor.kill()
                        survivor.wait(10)
        messages = answers(server, chats)
        posts = webhook.snapshot()
        given_up = list(webhook.given_up)
    access = nginx.log_lines()

    rows = query(database_url, "SELECT id, update_id, chat_id, status, attempts, message_id"
                               " FROM outbox ORDER BY id")
    outcome = Outcome.judge(asked, messages, rows, query(
        database_url, "SELECT user_id, question FROM answers"), users.ids)
    received = query(database_url, "SELECT update_id FROM updates WHERE status = 'received'")
    refused = [p for p in posts if p.status != 200]
    before_kill = access[:log_at_kill]
    served = [sum(1 for line in before_kill if f"upstream=127.0.0.1:{p} " in line
                  and '" 200 ' in line) for p in ports]
    passed_on = [line for line in access[log_at_kill:] if f"127.0.0.1:{ports[0]}, " in line]
    summary = (f"questions {len(asked)}; updates posted through nginx before the kill: "
               f"{served[0]} to worker 1, {served[1]} to worker 2; killed after "
               f"{replies_at_kill} replies, {killed_at - began:.1f} s into the test, holding "
               f"{claimed} queue claims and {len(in_doubt)} replies in doubt (updates "
               f"{sorted(doubtful)}); posts passed on by nginx from the dead worker: "
               f"{len(passed_on)}; posts not answered 200: {len(refused)}; messages "
               f"{len(messages)}; duplicates {len(outcome.duplicated)} (updates "
               f"{sorted(outcome.duplicated)}; copies never marked sent: {len(outcome.copies)}); "
               f"lost {len(outcome.lost)}; questions logged twice {outcome.logged_twice}; "
               f"{time.monotonic() - began:.1f} s in all")
    print(summary)
    report = f"{summary}\n{context()}"
    assert workers[1].returncode == 0, report
    assert not given_up, f"updates Telegram would have given up: {given_up}\n{report}"
    assert not refused, f"posts not answered 200 by nginx: {refused[:5]}\n{report}"
    assert served[0] > 0 and served[1] > 0, f"one worker took no update\n{report}"
    outcome.check(doubtful, received, asked_at_kill, report)
