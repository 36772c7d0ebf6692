"""Load benchmark of the Telegram bot: N simulated users x M questions against the real bot.

The bot runs in a child process exactly as `partnerbot run` runs it (bot/tg/app.py `run_bot`):
`build_application` with the production rate limiter (`AIORateLimiter(max_retries=0)`, about
30 calls/s overall; a 429 is retried by the outbox, which also paces each chat at 1 message/s
after a burst of 3, bot/tg/outbox.py), driven by `TelegramBot` (updates stored before they are
confirmed, replies through the SQLite outbox, "typing" only when an answer takes longer than a
second), with the real model, index and session log. It long-polls the fake Bot API server
(tests/support/fakebotapi) this process serves on 127.0.0.1, which enforces Telegram's flood
limits (`FloodLimits()`: 30 calls/s overall with a burst of 30, 1/s in a chat with a burst of
3, counting sendMessage, sendChatAction, edits, ...) and answers 429 with retry_after beyond
them. `--no-limits` measures the bot alone, as earlier versions of this bench did: the rate
limiter off (rate_limit=False) and no flood limits at the fake server.

Each simulated user sends a question from eval/devset.yaml, waits for the bot's reply, then
sends the next one. Latency is measured on the server clock, from the update becoming
available (`update_available_at`) to the first reply arriving (`reply_latency`). The child
records, on the same monotonic clock, when each update reached its handler, when its worker
thread started and ended, when its replies were committed to the outbox and when the outbox
began sending them, and how long embedding, search and SQLite took.

"Latency beyond the limits": for each reply, the moment an ideal sender would have delivered
it, given when the bot had committed it to the outbox and Telegram's limits (the same token
buckets as the fake server: each chat's and the overall one, replies taken in the order they
were ready, no "typing" actions); the figure is the actual arrival minus that moment, i.e. the
delay the bot's own sending path adds on top of what the limits force. "Wait the limits
impose" is that ideal moment minus the commit. With --no-limits the ideal moment is the commit.

Usage:
    .venv/bin/python scripts/bench_bot.py [--users 50] [--questions 10] [--think 0]
        [--no-limits] [--data-dir var] [--no-onnx] [--profile DIR]
    .venv/bin/python scripts/bench_bot.py --workers N [--database postgresql://...]
        [--kill-after S [--restart-after S]] [--users 50] [--questions 10]

`--workers N` runs N webhook workers on PostgreSQL behind nginx instead
(scripts/bench_workers.py has what it measures).

With --think 0 (the default) every user asks again as soon as the reply arrives, so the bot is
saturated and the run measures its capacity; latency is then users / throughput (Little's law).
With --think S users pause a random time (mean S seconds) between questions, which measures
latency at a load below capacity.

The index of the data directory (default: PARTNERBOT_DATA_DIR or var/) is copied into a
temporary directory, with its ONNX export when there is one; without an index one is built
there with the real model. The session log of the run is written there too, never into the
configured one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import logging
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_bot_report import (  # noqa: E402  (beside this script)
    calls_in,
    exact_replies,
    report,
)
from processes import interrupt  # noqa: E402

TOKEN = "123456:BENCH-TOKEN"
FIRST_USER = 10_001
WARM_UP_USER = 9_999


# ---- the bot (child process) ------------------------------------------------------------------

_update: contextvars.ContextVar[int | None] = contextvars.ContextVar("update", default=None)


class Timings:
    """Per-update timestamps and per-stage durations, recorded inside the bot process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.updates: dict[int, dict[str, float]] = defaultdict(dict)
        self.stages: dict[str, list[float]] = defaultdict(list)
        self.delivered: dict[int, list[int]] = defaultdict(list)  # update -> message ids

    def mark(self, name: str, update: int | None = None, *, first: bool = False) -> None:
        """Note the time of `name` for the update (the current one when None); with `first`
        only the first time it happens."""
        update = _update.get() if update is None else update
        if update is not None:
            with self.lock:
                marks = self.updates[update]
                if not (first and name in marks):
                    marks[name] = time.monotonic()

    def timed(self, stage: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                with self.lock:
                    self.stages[stage].append(time.perf_counter() - start)
        return wrapper


SQLITE_CALLS = ("touch_user", "log_incoming", "log_outgoing", "log_answer", "last_answer", "role",
                "receive", "finish_update", "due_replies", "begin_send", "mark_sent")


def serve(api_url: str, data_dir: Path, users: str, timings_path: Path,
          profile_dir: Path | None, *, onnx: bool = True, limits: bool = True) -> None:
    """Run the real bot as `run_bot` does until SIGINT or SIGTERM, then write the timings (and
    profiles) as JSON."""
    import cProfile

    from bot.app import build_dialogue
    from bot.settings import load_settings
    from bot.tg import app as tg_app
    from bot.tg import outbox
    from bot.tg.runner import TelegramBot

    settings = load_settings(data_dir=data_dir, knowledge_dir=ROOT / "knowledge",
                             telegram_api_url=api_url, allowed_users=users, admins="",
                             onnx=onnx)
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tg_app.protect_token(TOKEN)
    dialogue = build_dialogue(settings, front="telegram")
    timings = Timings()
    profiles: list[cProfile.Profile] = []
    local = threading.local()

    original_text = tg_app.on_text

    async def on_text(update: Any, context: Any) -> None:
        _update.set(update.update_id)
        timings.mark("handler")
        await original_text(update, context)

    tg_app.on_text = on_text  # build_application wires the module's handlers by name
    handle = dialogue.handle

    def timed_handle(*args: Any, **kwargs: Any) -> Any:
        timings.mark("thread")
        profiler = getattr(local, "profiler", None)
        if profile_dir is not None and profiler is None:
            profiler = local.profiler = cProfile.Profile()
            with timings.lock:
                profiles.append(profiler)
        if profiler is not None:
            profiler.enable()
        try:
            return handle(*args, **kwargs)
        finally:
            if profiler is not None:
                profiler.disable()
            timings.mark("handled")

    dialogue.handle = timings.timed("dialogue.handle", timed_handle)  # type: ignore[method-assign]
    searcher, sessions = dialogue.searcher, dialogue.store
    searcher.search = timings.timed("search (incl. embedding)", searcher.search)  # type: ignore[method-assign]
    embedder = searcher.embedder
    embedder.embed_query = timings.timed("embed_query", embedder.embed_query)  # type: ignore[method-assign]
    for name in SQLITE_CALLS:
        setattr(sessions, name, timings.timed(f"sqlite {name}", getattr(sessions, name)))

    application = tg_app.build_application(dialogue, TOKEN, rate_limit=limits)
    runner = TelegramBot(application, dialogue)
    reply, deliver = runner.reply, runner.sender._deliver
    calls: Counter[str] = Counter()

    async def timed_reply(update: Any, replies: Any, **kwargs: Any) -> None:
        await reply(update, replies, **kwargs)
        timings.mark("queued", update.update_id)

    async def timed_deliver(row: dict[str, Any]) -> Any:
        update = row.get("update_id")
        timings.mark("send", update, first=True)
        calls["outbox sends" if "id" in row else
              "sends without an outbox row (sent from memory)"] += 1
        try:
            result = await deliver(row)
        except Exception as exc:
            calls[f"outbox send failed: {type(exc).__name__}"] += 1
            raise
        timings.mark("accepted", update, first=True)
        if update is not None and result is not None:
            with timings.lock:
                timings.delivered[int(update)].append(int(result))
        return result

    pace = outbox._ChatPace.wait

    def paced(self: Any) -> float:
        seconds = pace(self)
        with timings.lock:
            timings.stages["outbox chat pacing (the wait it asked for)"].append(seconds)
        return seconds

    outbox._ChatPace.wait = paced  # type: ignore[method-assign]
    send_message = application.bot.send_message

    async def timed_send(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await send_message(*args, **kwargs)
        finally:
            with timings.lock:
                timings.stages["bot.send_message (rate limiter + HTTP)"].append(
                    time.perf_counter() - start)

    object.__setattr__(application.bot, "send_message", timed_send)
    runner.reply = timed_reply  # type: ignore[method-assign]
    runner.sender._deliver = timed_deliver  # type: ignore[method-assign]

    async def main() -> None:  # bot/tg/app.py run_bot, polling
        await runner.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runner.stopping.set)
        try:
            await runner.poll()
        finally:
            await runner.stop()
            dialogue.store.close()

    loop_profiler = cProfile.Profile() if profile_dir is not None else None
    if loop_profiler is not None:
        loop_profiler.enable()
    asyncio.run(main())
    if loop_profiler is not None:
        loop_profiler.disable()
        assert profile_dir is not None
        loop_profiler.dump_stats(profile_dir / "event_loop.pstats")
        import pstats

        workers = pstats.Stats(*profiles) if profiles else None
        if workers is not None:
            workers.dump_stats(profile_dir / "workers.pstats")
    timings_path.write_text(json.dumps({
        "embedder": type(embedder).__name__,
        "rate_limiter": type(application.bot.rate_limiter).__name__
        if application.bot.rate_limiter else None,
        "updates": {str(k): v for k, v in timings.updates.items()},
        "delivered": {str(k): v for k, v in timings.delivered.items()},
        "stages": timings.stages,
        "calls": calls,
    }))


# ---- the driver (this process) ----------------------------------------------------------------


def prepare_data_dir(source: Path, target: Path) -> str:
    """Copy the live index (and the ONNX export) of `source` into `target`, or build one."""
    if (source / "index" / "CURRENT").exists():
        shutil.copytree(source / "index", target / "index")
        if (source / "models").is_dir():
            shutil.copytree(source / "models", target / "models")
        return f"copied from {source / 'index'}"
    from index.build import build_index
    from index.embedders import SentenceTransformerEmbedder

    report = build_index(ROOT / "knowledge" / "docs", target / "index",
                         SentenceTransformerEmbedder())
    return f"built for the bench ({report.chunks} passages)"


def devset_questions() -> list[str]:
    import yaml

    data = yaml.safe_load((ROOT / "eval" / "devset.yaml").read_text(encoding="utf-8"))
    return [item["question"] for item in data["questions"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=10, help="questions per user")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="whose index to use (default: PARTNERBOT_DATA_DIR or var)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="write cProfile stats of the bot process into this directory")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a user waits after a reply before the next question "
                             "(random, exponential; users also start at random within it)")
    parser.add_argument("--no-limits", action="store_true",
                        help="the bot alone: its rate limiter off and no flood limits at the "
                             "fake server (the measurement of earlier versions of this bench)")
    parser.add_argument("--no-onnx", action="store_true",
                        help="serve with sentence-transformers (torch) even if an ONNX export "
                             "exists")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait per reply")
    parser.add_argument("--workers", type=int, default=0,
                        help="N webhook workers on PostgreSQL behind nginx instead of one "
                             "polling bot on SQLite (scripts/bench_workers.py)")
    parser.add_argument("--database", default=None, metavar="postgresql://...",
                        help="with --workers: an empty PostgreSQL database (default: a "
                             "throwaway cluster)")
    parser.add_argument("--kill-after", type=float, default=None, metavar="S",
                        help="with --workers: kill -9 worker 1 S seconds into the load ...")
    parser.add_argument("--restart-after", type=float, default=2.0, metavar="S",
                        help="... and start it again S seconds later")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--allowed", help=argparse.SUPPRESS)
    parser.add_argument("--timings", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.users < 1 or args.questions < 1:
        parser.error("--users and --questions must be at least 1")
    if args.serve:
        serve(args.api_url, args.data_dir, args.allowed, args.timings, args.profile,
              onnx=not args.no_onnx, limits=not args.no_limits)
        return 0
    if args.workers:
        from bench_workers import drive_workers  # beside this script

        return drive_workers(args)
    if args.database or args.kill_after is not None:
        parser.error("--database and --kill-after go with --workers N")
    return drive(args)


def drive(args: argparse.Namespace) -> int:
    import sqlite_utils

    from tests.support.fakebotapi import FakeBotAPI, FloodLimits

    command = "scripts/bench_bot.py " + " ".join(sys.argv[1:])
    source = args.data_dir or Path(os.environ.get("PARTNERBOT_DATA_DIR", ROOT / "var"))
    questions = devset_questions()
    user_ids = [FIRST_USER + n for n in range(args.users)]
    plan = {uid: [questions[(n * args.questions + k) % len(questions)]
                  for k in range(args.questions)] for n, uid in enumerate(user_ids)}
    load_before = os.getloadavg()
    limits = None if args.no_limits else FloodLimits()

    with tempfile.TemporaryDirectory(prefix="bench-bot-") as tmp:
        data_dir = Path(tmp) / "var"
        index_note = prepare_data_dir(source, data_dir)
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
        timings_path = Path(tmp) / "timings.json"
        with FakeBotAPI(token=TOKEN, flood_limits=limits) as server:
            allowed = ",".join(str(u) for u in [WARM_UP_USER, *user_ids])
            child_cmd = [sys.executable, str(Path(__file__).resolve()), "--serve",
                         "--api-url", server.base_url, "--data-dir", str(data_dir),
                         "--allowed", allowed, "--timings", str(timings_path)]
            if args.profile:
                child_cmd += ["--profile", str(args.profile.resolve())]
            if args.no_onnx:
                child_cmd.append("--no-onnx")
            if args.no_limits:
                child_cmd.append("--no-limits")
            env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
            log_path = Path(tmp) / "bot.log"
            with open(log_path, "w") as log_file:
                child = subprocess.Popen(child_cmd, cwd=ROOT, env=env, stdout=log_file,
                                         stderr=subprocess.STDOUT)
                try:
                    results, cpu, window = run_users(server, child, plan, args.timeout,
                                                     args.think)
                except SystemExit:
                    print(log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
                    raise
                finally:
                    # the bot stops once its long poll (25 s) returns: the fake answers it at
                    # once when it stops serving, which it does a moment after the signal
                    interrupt(child, release=server.stop)
            calls = calls_in(server.requests, set(user_ids), window)
            bot_log = log_path.read_text(errors="replace")
            db = sqlite_utils.Database(data_dir / "partnerbot.db")
            logged = [(r["user_id"], r["question"]) for r in db.query(
                "SELECT user_id, question FROM answers WHERE user_id != ?", [WARM_UP_USER])]
        child_timings = json.loads(timings_path.read_text()) if timings_path.exists() else None
    if child_timings is not None:
        exact_replies(results, child_timings, calls["replies"])
    load_after = os.getloadavg()
    report(args, command, index_note, plan, results, logged, child_timings, bot_log,
           (load_before, load_after), cpu, calls, limits)
    lost = sum(1 for r in results if r["reply_at"] is None)
    return 1 if lost or len(logged) != len(results) else 0


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _proc_cpu(pid: int, thread: int | None = None) -> float:
    """User + system CPU seconds of a running process, or of one of its threads (Linux)."""
    path = Path(f"/proc/{pid}/stat") if thread is None else Path(f"/proc/{pid}/task/{thread}/stat")
    fields = path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_users(server: Any, child: subprocess.Popen[bytes], plan: dict[int, list[str]],
              timeout: float, think: float
              ) -> tuple[list[dict[str, Any]], dict[str, float], tuple[float, float]]:
    """Wait until the bot polls, warm it up, then let every user ask their questions; the
    results, CPU seconds, and (start, end) of the run on the monotonic clock."""
    deadline = time.monotonic() + 300
    while not server.long_polls:
        if child.poll() is not None:
            raise SystemExit("the bot exited before polling; see its log")
        if time.monotonic() > deadline:
            raise SystemExit("the bot did not start polling within 300 s")
        time.sleep(0.05)
    for warm in ("How should we screen a company before a partnership?", "What is a KPI?"):
        server.wait_reply(server.send_text(WARM_UP_USER, warm), timeout=120)

    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    start = threading.Barrier(len(plan) + 1)

    def user(uid: int, questions: list[str]) -> None:
        pause = random.Random(uid)
        start.wait()
        if think:
            time.sleep(pause.uniform(0, think))
        for question in questions:
            update = server.send_text(uid, question)
            try:
                server.wait_reply(update, timeout=timeout)
            except AssertionError:
                pass
            if think:
                time.sleep(pause.expovariate(1 / think))
            with lock:
                results.append({"user": uid, "question": question, "update": update})

    threads = [threading.Thread(target=user, args=(uid, qs), daemon=True)
               for uid, qs in plan.items()]
    for thread in threads:
        thread.start()
    # asyncio.run runs the event loop in the main thread, whose thread id is the process id
    bot_cpu, loop_cpu = _proc_cpu(child.pid), _proc_cpu(child.pid, child.pid)
    own_cpu = _cpu(resource.RUSAGE_SELF)
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    ended = time.monotonic()
    time.sleep(1.0)  # a reply sent twice would have come by now
    cpu = {"bot": _proc_cpu(child.pid) - bot_cpu, "driver": _cpu(resource.RUSAGE_SELF) - own_cpu,
           "loop": _proc_cpu(child.pid, child.pid) - loop_cpu}
    for row in results:
        update = row["update"]
        row["available_at"] = server.update_available_at(update)
        row["delivered_at"] = server.update_delivered_at(update)
        latency = server.reply_latency(update)
        row["reply_at"] = None if latency is None else row["available_at"] + latency
        row["latency"] = latency
    results.sort(key=lambda r: r["available_at"])
    return results, cpu, (began, ended + 1.0)


if __name__ == "__main__":
    sys.exit(main())
