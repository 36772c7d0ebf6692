"""Load benchmark of the Telegram bot: N simulated users x M questions against the real bot.

The real Application (`build_application`, the real model and index, the real session log)
runs in a child process, long-polling the fake Bot API server (tests/support/fakebotapi.py) that
process serves on 127.0.0.1. Each simulated user sends a question from eval/devset.yaml, waits
for the bot's reply, then sends the next one. The rate limiter is off (rate_limit=False): the
fake server has no flood limits, and the bench measures the bot, not Telegram's quotas.

Latency is measured on the server clock: from the update becoming available
(`update_available_at`) to the reply arriving (`reply_latency`). The child records, on the
same monotonic clock, when each update reached its handler, when its worker thread started
and ended, and how long embedding, search and SQLite took, so the time can be broken down.

Usage:
    .venv/bin/python scripts/bench_bot.py [--users 50] [--questions 10] [--think 0]
        [--data-dir var] [--no-onnx] [--profile DIR]

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
import contextvars
import json
import os
import platform
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from processes import interrupt  # noqa: E402  (beside this script)

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

    def mark(self, name: str) -> None:
        update = _update.get()
        if update is not None:
            with self.lock:
                self.updates[update][name] = time.monotonic()

    def timed(self, stage: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                with self.lock:
                    self.stages[stage].append(time.perf_counter() - start)
        return wrapper


def serve(api_url: str, data_dir: Path, users: str, timings_path: Path,
          profile_dir: Path | None, *, onnx: bool = True) -> None:
    """Run the real bot until SIGINT, then write the timings (and profiles) as JSON."""
    import cProfile

    from bot.app import build_dialogue
    from bot.settings import load_settings
    from bot.tg import app as tg_app

    settings = load_settings(data_dir=data_dir, knowledge_dir=ROOT / "knowledge",
                             telegram_api_url=api_url, allowed_users=users, admins="",
                             onnx=onnx)
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
    for name in ("touch_user", "log_incoming", "log_outgoing", "log_answer", "last_answer",
                 "role"):
        setattr(sessions, name, timings.timed(f"sqlite {name}", getattr(sessions, name)))

    application = tg_app.build_application(dialogue, TOKEN, rate_limit=False)
    loop_profiler = cProfile.Profile() if profile_dir is not None else None
    if loop_profiler is not None:
        loop_profiler.enable()
    application.run_polling(poll_interval=0, timeout=10, stop_signals=(signal.SIGINT,))
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
        "updates": {str(k): v for k, v in timings.updates.items()},
        "stages": timings.stages,
    }))


# ---- the driver (this process) ----------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def ms(value: float) -> str:
    return f"{1000 * value:.0f} ms"


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


def versions() -> str:
    from importlib.metadata import version

    parts = [f"python {platform.python_version()}"]
    for name in ("python-telegram-bot", "torch", "sentence-transformers", "onnxruntime"):
        try:
            parts.append(f"{name} {version(name)}")
        except Exception:
            parts.append(f"{name} -")
    return ", ".join(parts)


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
    parser.add_argument("--no-onnx", action="store_true",
                        help="serve with sentence-transformers (torch) even if an ONNX export "
                             "exists")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait per reply")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--allowed", help=argparse.SUPPRESS)
    parser.add_argument("--timings", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.users < 1 or args.questions < 1:
        parser.error("--users and --questions must be at least 1")
    if args.serve:
        serve(args.api_url, args.data_dir, args.allowed, args.timings, args.profile,
              onnx=not args.no_onnx)
        return 0
    return drive(args)


def drive(args: argparse.Namespace) -> int:
    import sqlite_utils

    from tests.support.fakebotapi import FakeBotAPI

    command = "scripts/bench_bot.py " + " ".join(sys.argv[1:])
    source = args.data_dir or Path(os.environ.get("PARTNERBOT_DATA_DIR", ROOT / "var"))
    questions = devset_questions()
    user_ids = [FIRST_USER + n for n in range(args.users)]
    plan = {uid: [questions[(n * args.questions + k) % len(questions)]
                  for k in range(args.questions)] for n, uid in enumerate(user_ids)}
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="bench-bot-") as tmp:
        data_dir = Path(tmp) / "var"
        index_note = prepare_data_dir(source, data_dir)
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
        timings_path = Path(tmp) / "timings.json"
        with FakeBotAPI(token=TOKEN) as server:
            allowed = ",".join(str(u) for u in [WARM_UP_USER, *user_ids])
            child_cmd = [sys.executable, str(Path(__file__).resolve()), "--serve",
                         "--api-url", server.base_url, "--data-dir", str(data_dir),
                         "--allowed", allowed, "--timings", str(timings_path)]
            if args.profile:
                child_cmd += ["--profile", str(args.profile.resolve())]
            if args.no_onnx:
                child_cmd.append("--no-onnx")
            env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
            log_path = Path(tmp) / "bot.log"
            with open(log_path, "w") as log_file:
                child = subprocess.Popen(child_cmd, cwd=ROOT, env=env, stdout=log_file,
                                         stderr=subprocess.STDOUT)
                try:
                    results, cpu = run_users(server, child, plan, args.timeout, args.think)
                finally:
                    interrupt(child)
            bot_log = log_path.read_text(errors="replace")
            db = sqlite_utils.Database(data_dir / "partnerbot.db")
            logged = [(r["user_id"], r["question"]) for r in db.query(
                "SELECT user_id, question FROM answers WHERE user_id != ?", [WARM_UP_USER])]
        child_timings = json.loads(timings_path.read_text()) if timings_path.exists() else None
    load_after = os.getloadavg()
    report(args, command, index_note, plan, results, logged, child_timings, bot_log,
           (load_before, load_after), cpu)
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
              timeout: float, think: float) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Wait until the bot polls, warm it up, then let every user ask their questions."""
    deadline = time.monotonic() + 300
    while not any(r.method == "getUpdates" for r in server.requests):
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
    # run_polling runs the event loop in the main thread, whose thread id is the process id
    bot_cpu, loop_cpu = _proc_cpu(child.pid), _proc_cpu(child.pid, child.pid)
    own_cpu = _cpu(resource.RUSAGE_SELF)
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    ended = time.monotonic()
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
    if results:
        results[0]["run_began"], results[0]["run_ended"] = began, ended
    return results, cpu


def report(args: argparse.Namespace, command: str, index_note: str,
           plan: dict[int, list[str]], results: list[dict[str, Any]],
           logged: list[tuple[int, str]], child: dict[str, Any] | None, bot_log: str,
           loads: tuple[tuple[float, ...], tuple[float, ...]], cpu: dict[str, float]) -> None:
    answered = [r for r in results if r["latency"] is not None]
    latencies = [r["latency"] for r in answered]
    polls = [r["delivered_at"] - r["available_at"] for r in answered
             if r["delivered_at"] is not None]
    beyond = [r["reply_at"] - r["delivered_at"] for r in answered if r["delivered_at"]]
    began, ended = results[0]["run_began"], results[0]["run_ended"]
    seconds = ended - began
    asked = {(r["user"], r["question"]) for r in results}
    missing_sql = len(asked - set(logged))
    no_reply = len(results) - len(answered)

    print("# Bot benchmark")
    print(f"command: {command}")
    print(f"machine: {os.cpu_count()} CPUs ({platform.machine()}), load average "
          f"{loads[0][0]:.2f} before / {loads[1][0]:.2f} after (1 min)")
    print(f"versions: {versions()}")
    print(f"index: {index_note}; embedder in the bot: "
          f"{child['embedder'] if child else 'unknown'}")
    print("rate limiter: OFF (rate_limit=False): the fake Bot API has no flood limits, so "
          "this measures the bot alone")
    print("setup: the bot in its own process, long polling (poll_interval=0, timeout=10) the "
          "fake Bot API on 127.0.0.1; each user waits for the reply"
          + (f" and then a random pause (mean {args.think:g} s)" if args.think else "")
          + " before the next question")
    print()
    rows = [
        ("users x questions", f"{len(plan)} x {args.questions} = {len(results)}"),
        ("latency p50 / p95 / max (update available -> reply)",
         f"{ms(percentile(latencies, .5))} / {ms(percentile(latencies, .95))} / "
         f"{ms(max(latencies, default=float('nan')))}"),
        ("getUpdates delivery delay p50 / p95 / max",
         f"{ms(percentile(polls, .5))} / {ms(percentile(polls, .95))} / "
         f"{ms(max(polls, default=float('nan')))}"),
        ("latency beyond polling p50 / p95 (delivered -> reply)",
         f"{ms(percentile(beyond, .5))} / {ms(percentile(beyond, .95))}"),
        ("throughput", f"{len(answered) / seconds:.1f} questions/s over {seconds:.1f} s"),
        ("CPU per question: bot process / fake server + users",
         f"{ms(cpu['bot'] / max(1, len(results)))} / "
         f"{ms(cpu['driver'] / max(1, len(results)))}"),
        ("bot CPU per question: event loop thread (PTB, httpx) / other threads (dialogue, "
         "embedding, SQLite)",
         f"{ms(cpu['loop'] / max(1, len(results)))} / "
         f"{ms((cpu['bot'] - cpu['loop']) / max(1, len(results)))}"),
        ("questions without a reply", str(no_reply)),
        ("questions missing from the SQLite answers table", str(missing_sql)),
    ]
    print("| measure | value |")
    print("| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    if child:
        breakdown(answered, child)
    if args.profile:
        show_profiles(args.profile)
    errors = [line for line in bot_log.splitlines() if "ERROR" in line or "Traceback" in line]
    if errors:
        print(f"\nbot log: {len(errors)} error lines, first: {errors[0]}")


def show_profiles(directory: Path) -> None:
    """The functions with the most own time in the bot's event loop and worker threads."""
    import io
    import pstats

    for name in ("event_loop", "workers"):
        path = directory / f"{name}.pstats"
        if not path.exists():
            continue
        out = io.StringIO()
        pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(12)
        body = out.getvalue()
        print(f"\ncProfile, {name} (own time; full stats in {path}):")
        print(body[body.find("   ncalls"):].rstrip())


def breakdown(answered: list[dict[str, Any]], child: dict[str, Any]) -> None:
    """Where the time of one question goes, on the shared monotonic clock."""
    parts: dict[str, list[float]] = defaultdict(list)
    for row in answered:
        marks = child["updates"].get(str(row["update"]))
        if not marks or row["delivered_at"] is None or not {"handler", "thread", "handled"} <= \
                set(marks):
            continue
        parts["1 getUpdates delivery (available -> returned by a long poll)"].append(
            row["delivered_at"] - row["available_at"])
        parts["2 PTB dispatch (poll returned -> on_text starts)"].append(
            marks["handler"] - row["delivered_at"])
        parts["3 sendChatAction + worker-thread queue (on_text -> handle starts)"].append(
            marks["thread"] - marks["handler"])
        parts["4 Dialogue.handle in the worker thread"].append(marks["handled"] - marks["thread"])
        parts["5 sendMessage (handle ends -> reply arrives at the server)"].append(
            row["reply_at"] - marks["handled"])
    print("\n| stage (per question) | mean | p50 | p95 |")
    print("| --- | --- | --- | --- |")
    for name, values in sorted(parts.items()):
        print(f"| {name[2:]} | {ms(statistics.fmean(values))} | {ms(percentile(values, .5))} | "
              f"{ms(percentile(values, .95))} |")
    print("\n| inside Dialogue.handle (wall time, SQLite lock waits included) | calls | mean | "
          "p95 | total |")
    print("| --- | --- | --- | --- | --- |")
    for name, values in sorted(child["stages"].items(), key=lambda kv: -sum(kv[1])):
        print(f"| {name} | {len(values)} | {ms(statistics.fmean(values))} | "
              f"{ms(percentile(values, .95))} | {sum(values):.1f} s |")


if __name__ == "__main__":
    sys.exit(main())
