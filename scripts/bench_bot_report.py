"""The report of scripts/bench_bot.py: percentiles, each reply matched to its question through
the outbox, the ideal sender under Telegram's limits, the tables it prints, the bot log's
warnings and the profiles (also used by scripts/bench_workers.py)."""

from __future__ import annotations

import argparse
import os
import platform
import pstats
import re
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def ms(value: float) -> str:
    return f"{1000 * value:.0f} ms"


def calls_in(requests: list[Any], users: set[int], window: tuple[float, float]
             ) -> dict[str, Any]:
    """What the bot asked of the Bot API during the run (the warm-up left out): counts by
    method and error, and the replies it sent to the users."""
    began, ended = window
    during = [r for r in requests if began <= r.at <= ended and r.method != "getUpdates"]
    to_users = [r for r in during if r.chat_id in users]
    return {
        "by_method": Counter(r.method for r in during),
        "429": Counter(r.method for r in during if r.error_code == 429),
        "errors": Counter(f"{r.method} {r.error_code}" for r in during
                          if not r.ok and r.error_code != 429),
        "replies": [r for r in to_users if r.ok and r.method == "sendMessage"],
        "typing": [r for r in to_users if r.method == "sendChatAction"],
    }


def exact_replies(results: list[dict[str, Any]], child: dict[str, Any],
                  replies: list[Any]) -> None:
    """Each question's reply: the first of the messages the bot's outbox delivered for its
    update (the message ids it got back, matched to the server's log), not whatever message
    came next in the chat (a copy of an earlier reply would count). Sets reply_at, latency
    and copies (how many messages the outbox delivered for it); a reply sent from memory,
    without an outbox row, keeps the first message in the chat after the question."""
    arrived = {(r.chat_id, int(r.result["message_id"])): r.at for r in replies}
    for row in results:
        ids = child["delivered"].get(str(row["update"]), [])
        times = [arrived[(row["user"], m)] for m in ids if (row["user"], m) in arrived]
        row["copies"] = len(ids)
        if times:
            row["reply_at"] = min(times)
            row["latency"] = row["reply_at"] - row["available_at"]
        # else sent without an outbox row (the database was not writable) or not at all: the
        # first message in the chat after the question stays the reply (run_users)


def ideal_sends(ready: list[tuple[float, int, int]], limits: Any) -> dict[int, float]:
    """{update: when an ideal sender would deliver its reply}: replies taken in the order they
    were ready (committed to the outbox), each as soon as the chat's and the overall token
    bucket of `limits` (FloodLimits) allow, nothing else sent (no "typing" actions)."""
    if limits is None:
        return {update: at for at, _, update in ready}
    buckets: dict[int | None, list[float]] = {}  # key: [tokens, at]; None: the overall one

    def earliest(key: int | None, rate: float, burst: int, t: float) -> float:
        tokens, at = buckets.setdefault(key, [float(burst), t])
        t = max(t, at)  # first come, first served: no reply overtakes an earlier one
        tokens = min(burst, tokens + (t - at) * rate)
        return t if tokens >= 1 else t + (1 - tokens) / rate

    def take(key: int | None, rate: float, burst: int, t: float) -> None:
        tokens, at = buckets[key]
        buckets[key] = [min(burst, tokens + (t - at) * rate) - 1, t]

    out: dict[int, float] = {}
    for at, chat, update in sorted(ready):
        wanted = [(key, rate, burst) for key, rate, burst in (
            (None, limits.global_rate, limits.global_burst),
            (chat, limits.chat_rate, limits.chat_burst)) if rate is not None]
        t = at
        for _ in range(3):  # the later of the buckets' moments; a bucket only fills with time
            t = max(earliest(key, rate, burst, t) for key, rate, burst in wanted)
        for key, rate, burst in wanted:
            take(key, rate, burst, t)
        out[update] = t
    return out


def report(args: argparse.Namespace, command: str, index_note: str,
           plan: dict[int, list[str]], results: list[dict[str, Any]],
           logged: list[tuple[int, str]], child: dict[str, Any] | None, bot_log: str,
           loads: tuple[tuple[float, ...], tuple[float, ...]], cpu: dict[str, float],
           calls: dict[str, Any], limits: Any) -> None:
    answered = [r for r in results if r["latency"] is not None]
    latencies = [r["latency"] for r in answered]
    polls = [r["delivered_at"] - r["available_at"] for r in answered
             if r["delivered_at"] is not None]
    began = min(r["available_at"] for r in results)
    seconds = max(r["reply_at"] or r["available_at"] for r in results) - began
    asked = {(r["user"], r["question"]) for r in results}
    missing_sql = len(asked - set(logged))
    no_reply = len(results) - len(answered)
    replies = calls["replies"]
    extra = len(replies) - len(answered)
    twice = sum(1 for r in results if r.get("copies", 0) > 1)
    marks = child["updates"] if child else {}
    ready = [(marks[str(r["update"])]["queued"], r["user"], r["update"]) for r in answered
             if "queued" in marks.get(str(r["update"]), {})]
    ideal = ideal_sends(ready, limits)
    by_update = {r["update"]: r for r in answered}
    beyond = [by_update[u]["reply_at"] - t for u, t in ideal.items()]
    imposed = [t - at for at, _, u in ready for t in [ideal[u]]]
    n = max(1, len(results))

    print("# Bot benchmark")
    print(f"command: {command}")
    print(f"machine: {os.cpu_count()} CPUs ({platform.machine()}), load average "
          f"{loads[0][0]:.2f} before / {loads[1][0]:.2f} after (1 min)")
    print(f"versions: {versions()}")
    print(f"index: {index_note}; embedder in the bot: "
          f"{child['embedder'] if child else 'unknown'}")
    if limits is None:
        print("limits: none (--no-limits): the bot's rate limiter off (rate_limit=False) and no "
              "flood limits at the fake Bot API, so this measures the bot alone")
    else:
        print(f"limits: the production rate limiter "
              f"({child.get('rate_limiter') if child else '?'}, max_retries=0, and the outbox's "
              f"pacing of each chat); the fake Bot API enforces Telegram's flood limits "
              f"({limits.global_rate:g}/s overall, burst {limits.global_burst}; "
              f"{limits.chat_rate:g}/s per chat, burst {limits.chat_burst}) with 429 "
              f"retry_after beyond them")
    print("setup: the bot in its own process as `partnerbot run` runs it (TelegramBot: long "
          "polling, updates stored, replies through the outbox) against the fake Bot API on "
          "127.0.0.1; each user waits for the reply"
          + (f" and then a random pause (mean {args.think:g} s)" if args.think else "")
          + " before the next question")
    print()
    rows = [
        ("users x questions", f"{len(plan)} x {args.questions} = {len(results)}"),
        ("throughput", f"{len(answered) / seconds:.1f} questions/s, "
                       f"{len(replies) / seconds:.1f} replies/s over {seconds:.1f} s"),
        ("latency p50 / p95 / max (update available -> reply)",
         f"{ms(percentile(latencies, .5))} / {ms(percentile(latencies, .95))} / "
         f"{ms(max(latencies, default=float('nan')))}"),
        ("wait the limits impose p50 / p95 (committed to the outbox -> an ideal sender's "
         "delivery)", f"{ms(percentile(imposed, .5))} / {ms(percentile(imposed, .95))}"),
        ("latency beyond the limits p50 / p95 / max (reply arrival - the ideal sender's)",
         f"{ms(percentile(beyond, .5))} / {ms(percentile(beyond, .95))} / "
         f"{ms(max(beyond, default=float('nan')))}"),
        ("getUpdates delivery delay p50 / p95 / max",
         f"{ms(percentile(polls, .5))} / {ms(percentile(polls, .95))} / "
         f"{ms(max(polls, default=float('nan')))}"),
        ("429 answers received by the bot",
         f"{sum(calls['429'].values())}"
         + (f" ({', '.join(f'{m} {c}' for m, c in calls['429'].most_common())})"
            if calls["429"] else "")),
        ("sendChatAction (typing) calls", f"{len(calls['typing'])} "
         f"({sum(1 for r in calls['typing'] if r.ok)} accepted) for {len(results)} questions"),
        ("Bot API calls during the run, getUpdates aside",
         ", ".join(f"{m} {c}" for m, c in calls["by_method"].most_common())),
        ("other API errors", ", ".join(f"{k} x{v}" for k, v in calls["errors"].items())
         or "none"),
        ("CPU per question: bot process / fake server + users",
         f"{ms(cpu['bot'] / n)} / {ms(cpu['driver'] / n)}"),
        ("bot CPU per question: event loop thread (PTB, httpx) / other threads (dialogue, "
         "embedding, SQLite)",
         f"{ms(cpu['loop'] / n)} / {ms((cpu['bot'] - cpu['loop']) / n)}"),
        ("questions without a reply", str(no_reply)),
        ("questions answered more than once (messages beyond one per question)",
         f"{twice} ({max(0, extra)})"),
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
    problems = log_problems(bot_log)
    if problems:
        print("\nbot log, warnings and errors (digits replaced by #):")
        for line, count in problems.most_common(12):
            print(f"- {count} x {line}")


def log_problems(text: str) -> Counter[str]:
    """The bot's WARNING and ERROR lines, counted alike when they differ only in numbers."""

    found: Counter[str] = Counter()
    for line in text.splitlines():
        for level in (" WARNING ", " ERROR ", " CRITICAL "):
            if level in line:
                message = line[line.index(level) + 1:]
                found[re.sub(r"\d+(\.\d+)?", "#", message)[:200]] += 1
                break
        else:
            if line.startswith("Traceback"):
                found["Traceback"] += 1
    return found


def show_profiles(directory: Path) -> None:
    """The functions with the most own time in the bot's event loop and worker threads."""
    import io

    for name in ("event_loop", "workers"):
        path = directory / f"{name}.pstats"
        if not path.exists():
            continue
        out = io.StringIO()
        pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(12)
        body = out.getvalue()
        print(f"\ncProfile, {name} (own time; full stats in {path}):")
        print(body[body.find("   ncalls"):].rstrip())


STAGES = (  # (name, from mark, to mark); "available", "delivered", "reply" are the server's
    ("getUpdates delivery (available -> returned by a long poll)", "available", "delivered"),
    ("stored and dispatched (poll returned -> on_text starts; the inbox insert, the user's "
     "earlier updates)", "delivered", "handler"),
    ("worker-thread queue (on_text -> Dialogue.handle starts)", "handler", "thread"),
    ("Dialogue.handle in the worker thread", "thread", "handled"),
    ("committed to the outbox (handle ends -> replies stored, update marked handled)",
     "handled", "queued"),
    ("outbox queue (committed -> the Sender begins the send)", "queued", "send"),
    ("sending (begun -> the reply arrives at the server: chat pacing, rate limiter, 429 "
     "retries, HTTP)", "send", "reply"),
)


def breakdown(answered: list[dict[str, Any]], child: dict[str, Any]) -> None:
    """Where the time of one question goes, on the shared monotonic clock."""
    parts: dict[str, list[float]] = defaultdict(list)
    for row in answered:
        marks = dict(child["updates"].get(str(row["update"])) or {})
        marks.update(available=row["available_at"], delivered=row["delivered_at"],
                     reply=row["reply_at"])
        for name, begin, end in STAGES:
            if marks.get(begin) is not None and marks.get(end) is not None:
                parts[name].append(marks[end] - marks[begin])
    print("\n| stage (per question) | mean | p50 | p95 |")
    print("| --- | --- | --- | --- |")
    for name, _, _ in STAGES:
        values = parts.get(name)
        if values:
            print(f"| {name} | {ms(statistics.fmean(values))} | {ms(percentile(values, .5))} | "
                  f"{ms(percentile(values, .95))} |")
    print("\n| inside the bot (wall time, SQLite lock waits included) | calls | mean | "
          "p95 | total |")
    print("| --- | --- | --- | --- | --- |")
    for name, values in sorted(child["stages"].items(), key=lambda kv: -sum(kv[1])):
        print(f"| {name} | {len(values)} | {ms(statistics.fmean(values))} | "
              f"{ms(percentile(values, .95))} | {sum(values):.1f} s |")
    sends = child.get("calls") or {}
    if sends:
        print("\noutbox: " + ", ".join(f"{k} {v}" for k, v in sorted(sends.items())))


def versions() -> str:
    from importlib.metadata import version

    parts = [f"python {platform.python_version()}"]
    for name in ("python-telegram-bot", "torch", "sentence-transformers", "onnxruntime"):
        try:
            parts.append(f"{name} {version(name)}")
        except Exception:
            parts.append(f"{name} -")
    return ", ".join(parts)
