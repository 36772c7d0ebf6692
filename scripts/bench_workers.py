"""Load benchmark of several webhook workers on PostgreSQL behind nginx
(`scripts/bench_bot.py --workers N [--database postgresql://...] [--kill-after S]`).

N real `python -m bot run --webhook` processes (the real model, ONNX when exported, and index;
each worker with its own data directory, as on separate machines) share one PostgreSQL
database: the URL given with `--database` (an empty database; the run's rows stay in it), or a
throwaway cluster on a free loopback port (tests/support/postgres.py). A real nginx runs the
shipped deploy/nginx.conf in front of them (tests/support/nginx.py). The fake Bot API server
(tests/support/fakebotapi), in this process, enforces Telegram's flood limits (FloodLimits():
30 calls/s overall, 1/s per chat after a burst of 3, 429 with retry_after beyond) and posts
each update to nginx as Telegram posts to a webhook (a chat's updates one at a time).

Each simulated user asks its questions from eval/devset.yaml one after the other, waiting for
the reply. Figures on the server's monotonic clock: throughput, latency from the update
becoming available to its reply arriving, and the latency beyond the limits: the reply's
arrival minus when an ideal sender would have delivered it, given when the worker committed
it to the outbox (outbox.created_at, wall clock, mapped onto the monotonic clock) and
Telegram's limits (bench_bot_report.ideal_sends). Each worker has its own rate limiter (about 30
calls/s), so N workers together may send faster than Telegram allows: the 429 answers count
what that costs. Answers are matched to questions through the outbox (tests/support/load.py
`attribute`): lost, answered twice, and whether each duplicate was in doubt at a kill.

`--kill-after S`: S seconds into the load, worker 1 is killed with SIGKILL (the moment the
fake server has accepted a reply, so one may be in doubt), and started again
`--restart-after` seconds later with the same port and data directory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH-TOKEN"
SECRET = "bench-workers-secret"
FIRST_USER = 20_001
WARM_UP_USER = 19_000  # + worker number: one warm-up user per worker, posted to it directly


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Workers:
    """The worker processes: started, killed, started again; their logs in `directory`."""

    def __init__(self, n: int, directory: Path, env: dict[str, str]) -> None:
        self.ports = [free_port() for _ in range(n)]
        self.data_dirs = [directory / f"worker-{k + 1}" for k in range(n)]
        self.logs = [directory / f"worker-{k + 1}.log" for k in range(n)]
        self.env = env
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * n
        self.names = [f"{socket.gethostname()}:{p}" for p in self.ports]

    def start(self, k: int) -> None:
        env = {**self.env, "PARTNERBOT_DATA_DIR": str(self.data_dirs[k])}
        with open(self.logs[k], "a") as log:
            self.processes[k] = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--webhook", "--listen", "127.0.0.1",
                 "--port", str(self.ports[k]), "--url", "https://bot.example.org",
                 "--secret-token", SECRET], cwd=ROOT, env=env, stdout=log,
                stderr=subprocess.STDOUT)

    def kill(self, k: int) -> None:
        process = self.processes[k]
        assert process is not None
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self) -> list[int | None]:
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for process in self.processes:
            if process is None:
                codes.append(None)
                continue
            try:
                codes.append(process.wait(60))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait(10))
        return codes

    def dead(self) -> list[int]:
        return [k for k, p in enumerate(self.processes) if p is not None and p.poll() is not None]

    def tail(self) -> str:
        parts = []
        for path in self.logs:
            text = path.read_text(errors="replace") if path.exists() else ""
            lines = [line for line in text.splitlines() if "Batches:" not in line]
            parts.append(f"--- {path.name} ---\n" + "\n".join(lines[-30:]))
        return "\n".join(parts)


def post_direct(port: int, update_id: int, user: int, text: str) -> int:
    import httpx

    update = {"update_id": update_id, "message": {
        "message_id": 1, "date": int(time.time()), "text": text,
        "chat": {"id": user, "type": "private"},
        "from": {"id": user, "is_bot": False, "first_name": "Warm"}}}
    return httpx.post(f"http://127.0.0.1:{port}/telegram", content=json.dumps(update),
                      headers={"Content-Type": "application/json",
                               "X-Telegram-Bot-Api-Secret-Token": SECRET},
                      timeout=10, trust_env=False).status_code


def warm_up(server: Any, workers: Workers, timeout: float = 300) -> None:
    """Wait until every worker registered its webhook and answered a question posted to it
    directly (its model and index loaded)."""
    deadline = time.monotonic() + timeout
    while len(server.calls("setWebhook")) < len(workers.ports):
        if workers.dead() or time.monotonic() > deadline:
            raise SystemExit(f"the workers did not start\n{workers.tail()}")
        time.sleep(0.1)
    for k, port in enumerate(workers.ports):
        while True:
            try:
                if post_direct(port, 9_000_000 + k, WARM_UP_USER + k,
                               "How should we screen a company before a partnership?") == 200:
                    break
            except OSError:
                pass
            if workers.dead() or time.monotonic() > deadline:
                raise SystemExit(f"worker {k + 1} did not listen\n{workers.tail()}")
            time.sleep(0.1)
    for k in range(len(workers.ports)):
        user = WARM_UP_USER + k
        while not [r for r in server.requests if r.ok and r.method == "sendMessage"
                   and r.chat_id == user]:
            if workers.dead() or time.monotonic() > deadline:
                raise SystemExit(f"worker {k + 1} did not answer\n{workers.tail()}")
            time.sleep(0.1)


def run_load(server: Any, workers: Workers, plan: dict[int, list[str]], timeout: float,
             kill_after: float | None, restart_after: float,
             in_doubt: Callable[[], set[int]]) -> dict[str, Any]:
    """Every user asks their questions; worker 1 killed and restarted when asked. Returns
    what was asked (update ids), when the kill and restart happened, and the updates whose
    replies were in doubt at the kill (`in_doubt`, called at once after it)."""
    asked: list[tuple[int, str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(len(plan) + 1)

    def user(uid: int, questions: list[str]) -> None:
        start.wait()
        time.sleep(random.Random(uid).uniform(0, 0.5))
        for question in questions:
            update = server.send_text(uid, question)
            with lock:
                asked.append((uid, question, update))
            try:
                server.wait_reply(update, timeout=timeout)
            except AssertionError:
                pass

    threads = [threading.Thread(target=user, args=(uid, qs), daemon=True)
               for uid, qs in plan.items()]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    events: dict[str, Any] = {"began": began}
    if kill_after is not None:
        time.sleep(kill_after)
        chats = {str(u) for u in plan}
        server.wait_for("sendMessage", lambda p: str(p.get("chat_id")) in chats,
                        timeout=30, since=len(server.requests))
        workers.kill(0)
        events["killed_at"] = time.monotonic()
        events["in_doubt"] = in_doubt()  # before the restart sends them again
        time.sleep(restart_after)
        workers.start(0)
        events["restarted_at"] = time.monotonic()
    for thread in threads:
        thread.join()
    events["ended"] = time.monotonic()
    events["asked"] = sorted(asked, key=lambda a: a[2])
    return events


def settle(server: Any, url: str, users: set[int], asked: int, timeout: float = 120) -> None:
    """Wait until nothing is left to do: no update unhandled, no reply pending."""
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT (SELECT count(*) FROM updates WHERE status = 'received')"
                               " + (SELECT count(*) FROM outbox WHERE status = 'pending')"
                               ).fetchone()
        replies = sum(1 for r in server.requests if r.ok and r.method == "sendMessage"
                      and r.chat_id in users)
        if row is not None and row[0] == 0 and server.pending_update_count == 0 \
                and replies >= asked:
            return
        time.sleep(0.2)


def drive_workers(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT))
    import psycopg
    from bench_bot import devset_questions, prepare_data_dir
    from bench_bot_report import ideal_sends, ms, percentile
    from psycopg.rows import dict_row

    from tests.support.fakebotapi import FakeBotAPI, FloodLimits
    from tests.support.load import attribute
    from tests.support.nginx import NginxProxy, find_nginx
    from tests.support.postgres import PostgresServer

    if find_nginx() is None:
        raise SystemExit("nginx is not installed: apt-get install -y nginx (scripts/setup.sh "
                         "does it as root)")
    command = "scripts/bench_bot.py " + " ".join(sys.argv[1:])
    source = args.data_dir or Path(os.environ.get("PARTNERBOT_DATA_DIR", ROOT / "var"))
    questions = devset_questions()
    user_ids = [FIRST_USER + n for n in range(args.users)]
    plan = {uid: [questions[(n * args.questions + k) % len(questions)]
                  for k in range(args.questions)] for n, uid in enumerate(user_ids)}
    limits = FloodLimits()
    load_before = os.getloadavg()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-workers-")))
        if args.database:
            url, where = args.database, "the database given"
        else:
            pg = stack.enter_context(PostgresServer())
            url, where = pg.create_database("bench"), "a throwaway PostgreSQL cluster"
        with psycopg.connect(url) as conn:
            tables = conn.execute("SELECT count(*) FROM information_schema.tables WHERE "
                                  "table_schema = current_schema()").fetchone()
        if tables and tables[0]:
            raise SystemExit("--database must name an empty database (the bench counts every "
                             "row it finds); create one with createdb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
        env.update(PARTNERBOT_TELEGRAM_TOKEN=TOKEN, PARTNERBOT_DATABASE_URL=url,
                   PARTNERBOT_KNOWLEDGE_DIR=str(ROOT / "knowledge"),
                   PARTNERBOT_ALLOWED_USERS="*", PARTNERBOT_ONNX=str(not args.no_onnx).lower())
        workers = Workers(args.workers, tmp, env)
        index_note = prepare_data_dir(source, workers.data_dirs[0])
        for data_dir in workers.data_dirs[1:]:
            shutil.copytree(workers.data_dirs[0], data_dir)
        server = stack.enter_context(FakeBotAPI(token=TOKEN, flood_limits=limits))
        env["PARTNERBOT_TELEGRAM_API_URL"] = server.base_url
        nginx = stack.enter_context(NginxProxy(workers.ports, tmp / "nginx"))
        webhook = server.deliver_webhooks(nginx.url, connections=max(8, args.workers * 4))
        for k in range(args.workers):
            workers.start(k)
        try:
            warm_up(server, workers)
            def doubtful() -> set[int]:
                with psycopg.connect(url, row_factory=dict_row) as db:
                    return {int(r["update_id"]) for r in db.execute(
                        "SELECT update_id FROM outbox WHERE status = 'pending' AND attempts >= 1"
                        " AND claimed_by = %s AND update_id IS NOT NULL", [workers.names[0]])}

            events = run_load(server, workers, plan, args.timeout, args.kill_after,
                              args.restart_after, doubtful)
            in_doubt: set[int] = events.get("in_doubt", set())
            settle(server, url, set(user_ids), len(events["asked"]))
            time.sleep(1.0)  # a copy of a reply would have come by now
        finally:
            codes = workers.stop()
        wall_offset = time.time() - time.monotonic()
        with psycopg.connect(url, row_factory=dict_row) as db:
            rows = db.execute("SELECT id, update_id, chat_id, status, attempts, message_id,"
                              " created_at FROM outbox ORDER BY id").fetchall()
            logged = db.execute("SELECT count(*) AS n FROM answers WHERE user_id >= %s",
                                [FIRST_USER]).fetchone()
        messages = [r for r in server.requests if r.ok and r.method == "sendMessage"
                    and r.chat_id in set(user_ids)]
        during = [r for r in server.requests if events["began"] <= r.at <= events["ended"] + 1]
        posts = webhook.snapshot()
        log_text = "\n".join(p.read_text(errors="replace") for p in workers.logs)
    load_after = os.getloadavg()

    asked = events["asked"]
    by_update, _copies, unexplained = attribute(messages, rows)
    lost = [a for a in asked if not by_update.get(a[2])]
    twice = {a[2] for a in asked if len(by_update.get(a[2], [])) > 1}
    arrival = {u: ms_[0].at for u, ms_ in by_update.items()}
    available = {a[2]: server.update_available_at(a[2]) for a in asked}
    latencies = [arrival[u] - available[u] for u in available if u in arrival]
    created = {}
    for r in rows:
        if r["update_id"] is not None and r["update_id"] not in created:
            stamp = dt.datetime.fromisoformat(r["created_at"]).timestamp()
            created[int(r["update_id"])] = (stamp - wall_offset, int(r["chat_id"]))
    ready = [(created[u][0], created[u][1], u) for u in available if u in created and u in arrival]
    ideal = ideal_sends(ready, limits)
    beyond = [arrival[u] - t for u, t in ideal.items()]
    began = min(available.values())
    seconds = max(arrival.values(), default=began) - began
    n429 = sum(1 for r in during if r.error_code == 429)
    sends = sum(1 for r in during if r.method == "sendMessage")
    refused_posts = sum(1 for p in posts if p.status != 200)
    problems = sum(1 for line in log_text.splitlines() if " ERROR " in line)

    print("# Workers benchmark")
    print(f"command: {command}")
    print(f"machine: {os.cpu_count()} CPUs, load average {load_before[0]:.2f} before / "
          f"{load_after[0]:.2f} after (1 min)")
    print(f"setup: {args.workers} webhook worker processes (the real model "
          f"{'(sentence-transformers)' if args.no_onnx else '(ONNX when exported)'}, index "
          f"{index_note}) on {where}, behind nginx (deploy/nginx.conf); the fake Bot API with "
          f"Telegram's flood limits posting updates to nginx; each user waits for the reply "
          f"before the next question")
    if "killed_at" in events:
        print(f"kill: worker 1 killed with SIGKILL {events['killed_at'] - events['began']:.1f} s "
              f"into the load, started again {args.restart_after:g} s later; "
              f"{len(in_doubt)} of its replies were in doubt")
    print()
    print("| measure | value |")
    print("| --- | --- |")
    table = [
        ("users x questions", f"{len(plan)} x {args.questions} = {len(asked)}"),
        ("throughput", f"{len(latencies) / seconds:.1f} answers/s over {seconds:.1f} s"),
        ("latency p50 / p95 / max (update available -> reply)",
         f"{ms(percentile(latencies, .5))} / {ms(percentile(latencies, .95))} / "
         f"{ms(max(latencies, default=float('nan')))}"),
        ("latency beyond the limits p50 / p95 / max",
         f"{ms(percentile(beyond, .5))} / {ms(percentile(beyond, .95))} / "
         f"{ms(max(beyond, default=float('nan')))}"),
        ("429 answers / sendMessage calls", f"{n429} / {sends}"),
        ("webhook posts not answered 200 (through nginx)", str(refused_posts)),
        ("lost (no answer)", str(len(lost))),
        ("answered twice (of them in doubt at the kill)",
         f"{len(twice)} ({len(twice & in_doubt)})"),
        ("messages no question explains", str(len(unexplained))),
        ("answers in the session log", f"{logged['n'] if logged else 0} for {len(asked)}"),
        ("worker exit codes on SIGTERM", ", ".join(str(c) for c in codes)),
        ("ERROR lines in the workers' logs", str(problems)),
    ]
    for name, value in table:
        print(f"| {name} | {value} |")
    bad = lost or (twice - in_doubt) or unexplained
    return 1 if bad else 0
