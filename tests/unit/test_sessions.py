"""The session log on both backends: real SQLite files in tmp_path and a real PostgreSQL
database of each test's own (the `backend` fixture runs each test on both; a test for one
backend alone says so)."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.store import EXPORT_TABLES, LogWriteError, Outgoing, Received, SessionLog
from bot.store.migrations import MIGRATIONS, m001_create_core, migrate, number
from bot.store.sql import Connection, connect_postgresql, connect_sqlite

NEWEST = number(MIGRATIONS[-1])  # the schema version a new file gets

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the log."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(store_target: str | Path, tmp_path: Path, clock: Clock) -> Iterator[SessionLog]:
    session_log = SessionLog(store_target, clock=clock, spool=tmp_path / "spool" / "log.jsonl")
    yield session_log
    session_log.close()


# Rows in the order they were written (SQLite's rowid order).
ORDER = {"answer_passages": "answer_id, rank", "pending": "created_at", "updates": "update_id",
         "cohorts": "created_at", "join_limits": "user_id", "update_claims": "key"}
TABLES = [*EXPORT_TABLES, "pending", "updates", "outbox", "cohorts", "join_limits",
          "update_claims", "_migrations"]


def connect(target: str | Path) -> Connection:
    """A connection of its own to the log's database (not the store's)."""
    if isinstance(target, str):
        return connect_postgresql(target, timeout=5)
    target.parent.mkdir(parents=True, exist_ok=True)
    return connect_sqlite(str(target), read_only=False, timeout=5)


def rows(log: SessionLog, table: str) -> list[dict]:
    """Every row of a table, read through a separate connection."""
    db = connect(log.url or log.path)
    try:
        return list(db.query(f"SELECT * FROM {table} ORDER BY {ORDER.get(table, 'id')}"))
    finally:
        db.close()


def ask(log: SessionLog, user: int, question: str, *, grounded: bool, passages=(), chat=None):
    """Log an incoming question and its answer as the bot would; returns the answer id."""
    chat = user if chat is None else chat
    message = log.log_incoming(user_id=user, chat_id=chat, chat_type="private", kind="text",
                               text=question)
    return log.log_answer(message_id=message, user_id=user, chat_id=chat, question=question,
                          query=question.lower(), answer=f"Answer to {question}",
                          grounded=grounded, index_version="v1", passages=list(passages),
                          top_score=passages[0][1] if passages else 0.0)


# -- opening and migrations ----------------------------------------------------------------


def test_open_creates_directory_schema_and_wal(log: SessionLog):
    if log.url is None:
        assert not log.path.exists()
    assert log.schema_version == NEWEST
    if log.url is None:
        assert Database(log.path).journal_mode == "wal"
    names = [r["name"] for r in rows(log, "_migrations")]
    assert names == [m.__name__ for m in MIGRATIONS]
    assert names[:4] == ["m001_create_core", "m002_add_checklist_runs",
                         "m003_add_access_requests", "m004_add_pending"]
    assert "m006_add_delivery" in names
    db = connect(log.url or log.path)
    assert all(db.has_table(name) for name in TABLES)
    assert not db.has_table("no_such_table")
    db.close()


def test_a_read_of_a_missing_file_creates_it(tmp_path: Path):
    log = SessionLog(tmp_path / "new" / "log.db")
    assert log.role(42) is None
    assert log.path.exists()
    log.close()


def test_migrations_apply_once(log: SessionLog, tmp_path: Path):
    log.log_incoming(user_id=1, chat_id=1, chat_type="private", kind="text", text="hi")
    log.close()
    again = SessionLog(log.url or log.path, spool=tmp_path / "spool.jsonl")
    assert again.schema_version == NEWEST
    again.close()
    db = connect(log.url or log.path)
    assert migrate(db) == []
    db.close()
    assert len(rows(log, "_migrations")) == len(MIGRATIONS)
    assert len(rows(log, "messages")) == 1


def test_opening_upgrades_an_old_schema(store_target: str | Path, tmp_path: Path):
    db = connect(store_target)
    assert migrate(db, MIGRATIONS[:1]) == ["m001_create_core"]
    db.execute("INSERT INTO messages (at, direction, front, kind, text) VALUES (?, ?, ?, ?, ?)",
               ["2024-01-01T00:00:00.000000+00:00", "in", "telegram", "text", "from before"])
    assert not db.has_table("runs")
    db.close()

    log = SessionLog(store_target, spool=tmp_path / "spool.jsonl")
    assert log.schema_version == NEWEST
    run_id = log.create_run(user_id=1, chat_id=1, checklist_id="psea", version="1",
                            snapshot={}, state={}, training=False, cohort=None)
    log.close()
    assert rows(log, "messages")[0]["text"] == "from before"
    assert rows(log, "runs")[0]["id"] == run_id
    assert [r["id"] for r in rows(log, "_migrations")] == [number(m) for m in MIGRATIONS]


def test_a_failing_migration_leaves_no_trace(store_target: str | Path):
    def m002_broken(db: Connection) -> None:
        db.script("CREATE TABLE half (id INTEGER)")
        raise RuntimeError("boom")

    db = connect(store_target)
    with pytest.raises(RuntimeError, match="boom"):
        migrate(db, [m001_create_core, m002_broken])
    assert not db.has_table("half")
    assert [r["name"] for r in db.query("SELECT name FROM _migrations")] == ["m001_create_core"]
    db.close()


# -- users and roles -----------------------------------------------------------------------


def test_touch_user_records_and_keeps_known_fields(log: SessionLog, clock: Clock):
    log.touch_user(7, username="ana", first_name="Ana", language="es")
    clock.advance(hours=1)
    log.touch_user(7, username=None, first_name="Ana M", language=None)
    (user,) = log.users()
    assert user["username"] == "ana" and user["first_name"] == "Ana M"
    assert user["language"] == "es" and user["role"] is None
    assert user["first_seen"] == "2025-03-01T09:00:00.000000+00:00"
    assert user["last_seen"] == "2025-03-01T10:00:00.000000+00:00"


def test_set_role_and_revoke_are_audited(log: SessionLog):
    log.set_role(5, "trainer", by=1)
    assert log.role(5) == "trainer"
    assert log.revoke(5, by=1) is True
    assert log.role(5) is None
    assert log.revoke(5, by=1) is False
    assert [(a["actor"], a["action"], a["detail"]) for a in log.audit_log()] == [
        ("1", "set_role", {"user_id": 5, "role": "trainer", "previous": None}),
        ("1", "revoke", {"user_id": 5, "role": None, "previous": "trainer"}),
    ]
    with pytest.raises(ValueError, match="'boss'"):
        log.set_role(5, "boss", by=1)


def test_bootstrap_roles_from_settings(log: SessionLog):
    log.set_role(3, "trainer", by=1)  # admin decisions stand
    log.set_role(4, "staff", by=1)
    log.revoke(4, by=1)
    log.bootstrap_roles(admins=[1, 3], allowed=[2, 3, 4, 6])
    assert {u: log.role(u) for u in range(1, 7)} == {
        1: "admin", 2: "staff", 3: "admin", 4: None, 5: None, 6: "staff"}
    # Taken out of settings: roles that came from settings go, the rest stay.
    log.bootstrap_roles(admins=[3], allowed=[1])
    assert {u: log.role(u) for u in range(1, 7)} == {
        1: "staff", 2: None, 3: "admin", 4: None, 5: None, 6: None}
    actions = [(a["actor"], a["action"]) for a in log.audit_log()]
    assert actions.count(("settings", "bootstrap")) == 4 + 3
    log.bootstrap_roles(admins=[3], allowed=[1])  # nothing changes, nothing audited
    assert len(log.audit_log()) == len(actions)


def test_access_request_flow(log: SessionLog):
    log.touch_user(9, username="omar", first_name="Omar", language=None)
    request = log.request_access(9, note="UNHCR Nairobi")
    assert log.request_access(9) == request  # a pending request is reused
    (pending,) = log.pending_requests()
    assert (pending["id"], pending["user_id"], pending["username"], pending["note"]) == (
        request, 9, "omar", "UNHCR Nairobi")
    resolved = log.resolve_request(request, approve=True, by=1, role="trainer")
    assert resolved is not None and resolved["status"] == "approved"
    assert resolved["resolved_by"] == "1"
    assert log.role(9) == "trainer"
    assert log.pending_requests() == []
    assert log.resolve_request(request, approve=False, by=1) is None
    denied = log.request_access(10)
    assert log.resolve_request(denied, approve=False, by=1)["status"] == "denied"  # type: ignore[index]
    assert log.role(10) is None
    assert [a["action"] for a in log.audit_log()] == ["approve", "deny"]


# -- messages, answers, feedback -----------------------------------------------------------


@pytest.mark.parametrize("kind,text", [("text", "hello"), ("command", "/start"),
                                       ("callback", "fb:1:-1"), ("sticker", None),
                                       ("photo", None), ("edited_message", "hello!")])
def test_log_incoming_stores_every_kind(log: SessionLog, kind: str, text: str | None):
    raw = {"update_id": 77, "message": {"from": {"id": 3}, "sticker": {"emoji": "👍"}}}
    message_id = log.log_incoming(user_id=3, chat_id=-100, chat_type="group", kind=kind,
                                  text=text, update_id=77, raw=raw)
    (row,) = rows(log, "messages")
    assert row == {
        "id": message_id, "at": "2025-03-01T09:00:00.000000+00:00", "direction": "in",
        "front": "telegram", "user_id": 3, "chat_id": -100, "chat_type": "group", "kind": kind,
        "text": text, "update_id": 77, "raw": json.dumps(raw, ensure_ascii=False),
        "reply_to": None, "latency_ms": None}


def test_log_outgoing(log: SessionLog):
    incoming = log.log_incoming(user_id=3, chat_id=3, chat_type=None, kind="text", text="q",
                                front="terminal")
    outgoing = log.log_outgoing(chat_id=3, user_id=3, reply_to=incoming, text="a",
                                latency_ms=12.5, front="terminal")
    row = rows(log, "messages")[1]
    assert (row["id"], row["direction"], row["front"], row["kind"], row["text"]) == (
        outgoing, "out", "terminal", "text", "a")
    assert (row["reply_to"], row["latency_ms"]) == (incoming, 12.5)


def test_log_answer_with_passages(log: SessionLog, clock: Clock):
    answer_id = ask(log, 4, "What is PSEA?", grounded=True,
                    passages=[("psea#2", 0.91), ("psea#7", 0.5)])
    assert [(p["answer_id"], p["rank"], p["chunk_id"], p["score"])
            for p in rows(log, "answer_passages")] == [
        (answer_id, 1, "psea#2", 0.91), (answer_id, 2, "psea#7", 0.5)]
    answer = log.answer(answer_id)
    assert answer is not None
    assert answer["grounded"] is True and answer["question"] == "What is PSEA?"
    assert answer["query"] == "what is psea?" and answer["index_version"] == "v1"
    assert answer["passages"] == [("psea#2", 0.91), ("psea#7", 0.5)]
    assert answer["message_id"] == rows(log, "messages")[0]["id"]
    assert log.answer(answer_id + 1) is None


def test_last_answer_for_follow_ups(log: SessionLog, clock: Clock):
    ask(log, 4, "first", grounded=True)
    second = ask(log, 4, "second", grounded=False)
    ask(log, 5, "other user", grounded=True)
    ask(log, 4, "other chat", grounded=True, chat=-100)
    last = log.last_answer(chat_id=4, user_id=4)
    assert last is not None and last["id"] == second and last["grounded"] is False
    clock.advance(minutes=10)
    assert log.last_answer(chat_id=4, user_id=4, within_seconds=601) is not None
    assert log.last_answer(chat_id=4, user_id=4, within_seconds=599) is None
    assert log.last_answer(chat_id=6, user_id=6) is None


def test_a_later_vote_replaces_the_earlier_and_keeps_its_comment(log: SessionLog,
                                                                  clock: Clock):
    answer_id = ask(log, 4, "q", grounded=True)
    first = log.log_feedback(answer_id=answer_id, user_id=4, value=-1)
    assert log.add_feedback_comment(answer_id=answer_id, user_id=4, comment="too vague")
    clock.advance(minutes=1)
    assert log.log_feedback(answer_id=answer_id, user_id=4, value=1) == first
    other = log.log_feedback(answer_id=answer_id, user_id=5, value=-1, comment="wrong form")
    assert other > first  # (PostgreSQL's ids may skip one: an upsert takes a sequence value)
    assert [(f["id"], f["user_id"], f["value"], f["comment"], f["at"][11:16])
            for f in rows(log, "feedback")] == [
        (first, 4, 1, "too vague", "09:01"), (other, 5, -1, "wrong form", "09:01")]
    assert not log.add_feedback_comment(answer_id=answer_id, user_id=6, comment="no vote")


def test_feedback_is_checked(log: SessionLog):
    answer_id = ask(log, 4, "q", grounded=True)
    with pytest.raises(ValueError, match="got 0"):
        log.log_feedback(answer_id=answer_id, user_id=4, value=0)
    with pytest.raises(LogWriteError, match=r"(?i)foreign key") as error:
        log.log_feedback(answer_id=answer_id + 1, user_id=4, value=1)
    assert error.value.table == "feedback"


# -- checklist runs ------------------------------------------------------------------------


def test_a_checklist_run_from_start_to_finish(log: SessionLog, clock: Clock):
    snapshot = {"id": "psea", "questions": [{"id": "q1"}, {"id": "q2"}]}
    run_id = log.create_run(user_id=4, chat_id=4, checklist_id="psea", version="2025-01",
                            snapshot=snapshot, state={"at": "q1"}, training=True, cohort="nbo-1")
    active = log.active_run(4)
    assert active is not None and active["id"] == run_id and active["snapshot"] == snapshot
    assert active["status"] == "in_progress" and active["training"] is True
    log.log_run_answer(run_id, question_id="q1", value=["yes", 2], note="policy seen",
                       skipped=False, at="2025-03-01T10:00:00+01:00")
    log.log_run_answer(run_id, question_id="q2", value=None, note=None, skipped=True,
                       at="2025-03-01T09:05:00")
    clock.advance(minutes=10)
    log.save_run(run_id, state={"at": None}, status="completed", rating="low", score=0.25,
                 fired_rules=["no-policy"])
    assert [(a["question_id"], a["value"], a["note"], a["skipped"], a["at"])
            for a in log.run_answers(run_id)] == [
        ("q1", ["yes", 2], "policy seen", False, "2025-03-01T09:00:00.000000+00:00"),
        ("q2", None, None, True, "2025-03-01T09:05:00.000000+00:00")]
    run = log.run(run_id)
    assert run is not None
    assert (run["state"], run["status"], run["rating"], run["score"], run["fired_rules"]) == (
        {"at": None}, "completed", "low", 0.25, ["no-policy"])
    assert run["started_at"] == "2025-03-01T09:00:00.000000+00:00"
    assert run["finished_at"] == run["updated_at"] == "2025-03-01T09:10:00.000000+00:00"
    assert log.active_run(4) is None
    assert log.run(run_id + 1) is None


def test_runs_are_filtered(log: SessionLog, clock: Clock):
    def start(checklist: str, cohort: str | None) -> int:
        return log.create_run(user_id=4, chat_id=4, checklist_id=checklist, version="1",
                              snapshot={}, state={}, training=cohort is not None, cohort=cohort)

    a = start("psea", "nbo-1")
    clock.advance(days=2)
    b = start("hact", "nbo-1")
    c = start("psea", None)
    assert [r["id"] for r in log.runs()] == [a, b, c]
    assert [r["id"] for r in log.runs(cohort="nbo-1")] == [a, b]
    assert [r["id"] for r in log.runs(checklist_id="psea")] == [a, c]
    assert [r["id"] for r in log.runs(since=date(2025, 3, 2), checklist_id="psea")] == [c]
    assert log.active_run(4)["id"] == c  # type: ignore[index]


def test_saving_a_missing_run_is_a_write_error(log: SessionLog):
    with pytest.raises(LogWriteError, match="no run 99"):
        log.save_run(99, state={}, status="completed")


# -- stats ---------------------------------------------------------------------------------


def make_known_data(log: SessionLog, clock: Clock) -> None:
    """Three users over 1 and 3 March; the figures are worked out in test_stats."""
    psea = ask(log, 1, "What is PSEA?", grounded=True, passages=[("c1", 0.9), ("c2", 0.5)])
    ask(log, 2, "Who signs the HACT?", grounded=False, passages=[("c3", 0.2)])
    clock.advance(minutes=5)
    ask(log, 1, " who signs the hact? ", grounded=False, passages=[("c3", 0.1)])
    log.log_feedback(answer_id=psea, user_id=1, value=-1, comment="too vague")
    for latency in (100.0, 200.0, 300.0):
        log.log_outgoing(chat_id=1, user_id=1, reply_to=None, text="a", latency_ms=latency)
    clock.now = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    risk = ask(log, 2, "How to rate risk?", grounded=True, passages=[("c1", 0.8)])
    ask(log, 3, "Budget?", grounded=False)
    log.log_feedback(answer_id=risk, user_id=2, value=1)
    for latency in (1000.0, 400.0):
        log.log_outgoing(chat_id=2, user_id=2, reply_to=None, text="a", latency_ms=latency)
    log.log_incoming(user_id=None, chat_id=None, chat_type=None, kind="other", text=None)
    for checklist, rating, training in [("psea", "low", False), ("psea", "low", False),
                                        ("psea", None, False), ("hact", "high", False),
                                        ("psea", "high", True)]:
        run_id = log.create_run(user_id=1, chat_id=1, checklist_id=checklist, version="1",
                                snapshot={}, state={}, training=training, cohort=None)
        if rating:
            log.save_run(run_id, state={}, status="completed", rating=rating)


def test_stats_on_a_known_data_set(log: SessionLog, clock: Clock):
    make_known_data(log, clock)
    stats = log.stats()
    assert (stats.users, stats.questions, stats.answered, stats.declined) == (3, 5, 2, 3)
    assert stats.questions_per_day == [
        ("2025-03-01", 1, 2), ("2025-03-02", 0, 0), ("2025-03-03", 1, 1)]
    assert stats.unanswered == [
        (" who signs the hact? ", 2, "2025-03-01T09:05:00.000000+00:00"),
        ("Budget?", 1, "2025-03-03T12:00:00.000000+00:00")]
    assert stats.negative_feedback == [
        ("What is PSEA?", "Answer to What is PSEA?", "too vague",
         "2025-03-01T09:05:00.000000+00:00")]
    assert stats.top_passages == [("c1", 2), ("c2", 1)]
    assert stats.runs == [("hact", "high", 1), ("psea", None, 1), ("psea", "low", 2)]
    assert stats.training_runs == 1
    assert (stats.messages_in, stats.messages_out) == (6, 5)
    assert (stats.latency_p50_ms, stats.latency_p95_ms) == (300.0, 1000.0)

    recent = log.stats(since=date(2025, 3, 2), limit=1)
    assert (recent.users, recent.questions, recent.answered, recent.declined) == (2, 2, 1, 1)
    assert recent.questions_per_day == [("2025-03-03", 1, 1)]
    assert recent.unanswered == [("Budget?", 1, "2025-03-03T12:00:00.000000+00:00")]
    assert recent.negative_feedback == [] and recent.top_passages == [("c1", 1)]
    assert (recent.messages_in, recent.messages_out) == (3, 2)
    assert (recent.latency_p50_ms, recent.latency_p95_ms) == (400.0, 1000.0)


def test_stats_of_an_empty_log(log: SessionLog):
    stats = log.stats()
    assert (stats.users, stats.questions, stats.questions_per_day) == (0, 0, [])
    assert (stats.latency_p50_ms, stats.latency_p95_ms) == (None, None)


# -- export --------------------------------------------------------------------------------


def test_export_jsonl_since(log: SessionLog, clock: Clock):
    make_known_data(log, clock)
    out = io.StringIO()
    written = log.export(out, fmt="jsonl", since=date(2025, 3, 2))
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert written == len(records)
    by_table = {t: [r for r in records if r["table"] == t] for t in EXPORT_TABLES}
    assert [r["question"] for r in by_table["answers"]] == ["How to rate risk?", "Budget?"]
    assert by_table["answers"][0]["grounded"] is True
    assert [r["chunk_id"] for r in by_table["answer_passages"]] == ["c1"]
    assert [r["value"] for r in by_table["feedback"]] == [1]
    assert len(by_table["messages"]) == 5 and len(by_table["runs"]) == 5
    assert all(r["at"] >= "2025-03-02" for r in by_table["messages"])
    assert len(records) == 5 + 2 + 1 + 1 + 5


def test_export_csv_one_table(log: SessionLog, clock: Clock):
    make_known_data(log, clock)
    out = io.StringIO()
    assert log.export(out, fmt="csv", tables=["answers"], since=date(2025, 3, 3)) == 2
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["question"], r["grounded"]) for r in table] == [
        ("How to rate risk?", "1"), ("Budget?", "0")]
    everything = io.StringIO()
    assert log.export(everything, fmt="csv", tables=["answers"]) == 5
    with pytest.raises(ValueError, match="one table"):
        log.export(io.StringIO(), fmt="csv")
    with pytest.raises(ValueError, match="'xml'"):
        log.export(io.StringIO(), fmt="xml", tables=["answers"])
    with pytest.raises(ValueError, match="'secrets'"):
        log.export(io.StringIO(), fmt="jsonl", tables=["secrets"])


def test_export_all_writes_one_file_per_table(log: SessionLog, clock: Clock, tmp_path: Path):
    make_known_data(log, clock)
    counts = log.export_all(tmp_path / "export", since=date(2025, 3, 3))
    assert set(counts) == set(EXPORT_TABLES)
    for table, count in counts.items():
        with open(tmp_path / "export" / f"{table}.csv", newline="", encoding="utf-8") as f:
            assert len(list(csv.DictReader(f))) == count
    assert counts["answers"] == 2 and counts["audit"] == 0


# -- retention and forgetting --------------------------------------------------------------


def test_retention_blanks_old_text_and_keeps_the_counts(log: SessionLog, clock: Clock):
    old = ask(log, 1, "old question", grounded=False, passages=[("c1", 0.3)])
    log.log_feedback(answer_id=old, user_id=1, value=-1, comment="old comment")
    clock.advance(days=40)
    new = ask(log, 1, "new question", grounded=True)
    log.log_feedback(answer_id=new, user_id=1, value=-1, comment="new comment")
    before = log.stats()

    assert log.apply_retention(30, now=clock.now) == 3  # one message, one answer, one comment
    assert log.apply_retention(30, now=clock.now) == 0
    assert [m["text"] for m in rows(log, "messages")] == [None, "new question"]
    assert [(a["question"], a["query"], a["answer"]) for a in rows(log, "answers")] == [
        (None, None, None), ("new question", "new question", "Answer to new question")]
    assert [f["comment"] for f in rows(log, "feedback")] == [None, "new comment"]
    after = log.stats()
    assert (after.questions, after.declined, after.questions_per_day, after.messages_in) == (
        before.questions, before.declined, before.questions_per_day, before.messages_in)
    assert after.unanswered == []
    assert log.audit_log()[-1]["detail"]["rows"] == 3


def all_text(log: SessionLog) -> str:
    """Every value of every column of every table, as one string."""
    return "\n".join(str(value) for table in TABLES for row in rows(log, table)
                     for value in row.values())


def test_forget_leaves_no_trace_of_the_user(log: SessionLog, clock: Clock):
    alice, bob, group = 111, 222, -100
    log.touch_user(alice, username="alice_SECRET", first_name="SECRET Alice", language="en")
    log.touch_user(bob, username="bob", first_name="Bob", language="en")
    log.request_access(alice, note="SECRET team")
    asked = ask(log, alice, "SECRET question", grounded=True, passages=[("c1", 0.9)])
    log.log_outgoing(chat_id=alice, user_id=alice, reply_to=None, text="SECRET echo",
                     latency_ms=5)
    log.log_feedback(answer_id=asked, user_id=alice, value=-1, comment="SECRET comment")
    log.log_feedback(answer_id=asked, user_id=bob, value=1)
    run_id = log.create_run(user_id=alice, chat_id=alice, checklist_id="psea", version="1",
                            snapshot={}, state={"partner": "SECRET partner"}, training=False,
                            cohort=None)
    log.log_run_answer(run_id, question_id="q1", value="SECRET value", note="SECRET note",
                       skipped=False, at="2025-03-01T09:00:00")
    in_group = log.log_incoming(user_id=alice, chat_id=group, chat_type="group", kind="text",
                                text="SECRET in group")
    log.log_outgoing(chat_id=group, user_id=None, reply_to=in_group, text="re: SECRET",
                     latency_ms=5)
    quoting = {"message": {"from": {"id": bob}, "text": "Bob KEEP",
                           "reply_to_message": {"from": {"id": alice, "first_name": "SECRET"},
                                                "text": "SECRET in group"}}}
    log.log_incoming(user_id=bob, chat_id=group, chat_type="group", kind="text",
                     text="Bob KEEP", raw=quoting)
    ask(log, bob, "Bob KEEP question", grounded=False, chat=group)
    log.set_role(alice, "staff", by=bob)
    log.receive([Received(7, {"message": {"text": "SECRET waiting"}}, alice, alice)])
    log.finish_update(None, [Outgoing(alice, "message", {"text": "SECRET unsent"})])
    log.create_cohort("alice-SECRET", created_by=alice, checklist_id="psea")
    assert "SECRET" in all_text(log)

    counts = log.forget(alice, by=bob)

    assert counts == {"feedback": 2, "answer_passages": 1, "answers": 1, "run_answers": 1,
                      "runs": 1, "messages": 4, "raw_blanked": 1, "access_requests": 1,
                      "updates": 1, "outbox": 1, "cohorts": 1, "users": 1}
    text = all_text(log)
    assert "SECRET" not in text
    assert "Bob KEEP question" in text and "Bob KEEP" in text
    if log.url is None:
        raw_file = b"".join(p.read_bytes() for p in log.path.parent.iterdir() if p.is_file())
        assert b"SECRET" not in raw_file  # secure_delete and a truncated WAL: gone from disk
    forgot = log.audit_log()[-1]
    assert (forgot["actor"], forgot["action"], forgot["detail"]) == (
        str(bob), "forget", {"user_id": alice, "rows": counts})
    assert log.role(alice) is None and log.active_run(alice) is None


# -- failures and threads ------------------------------------------------------------------


def test_a_locked_database_is_a_write_error(tmp_path: Path):
    log = SessionLog(tmp_path / "log.db", timeout=0.05)
    assert log.schema_version == NEWEST
    other = sqlite3.connect(log.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(LogWriteError, match="database is locked") as error:
            log.log_incoming(user_id=1, chat_id=1, chat_type="private", kind="text", text="hi")
        assert error.value.table == "messages"
        assert log.role(1) is None  # reads still work
    finally:
        other.execute("ROLLBACK")
        other.close()
    with pytest.raises(LogWriteError, match="not tried again"):  # for retry_seconds, no wait
        log.log_incoming(user_id=1, chat_id=1, chat_type="private", kind="text", text="hi")
    log.retry_seconds = 0
    log.log_incoming(user_id=1, chat_id=1, chat_type="private", kind="text", text="hi")
    log.close()
    assert len(rows(log, "messages")) == 1


def test_a_read_only_file_is_a_write_error(tmp_path: Path):
    path = tmp_path / "log.db"
    with SessionLog(path) as log:
        log.set_role(1, "admin", by="cli")
    os.chmod(path, 0o444)
    try:
        with SessionLog(path) as log:
            assert log.role(1) == "admin"
            with pytest.raises(LogWriteError, match="readonly") as error:
                log.log_incoming(user_id=1, chat_id=1, chat_type="private", kind="text",
                                 text="hi")
            assert error.value.table == "messages"
    finally:
        os.chmod(path, 0o644)


def test_writes_from_many_threads_all_land(log: SessionLog):
    def work(thread: int) -> None:
        for i in range(200):
            log.log_incoming(user_id=thread, chat_id=thread, chat_type="private", kind="text",
                             text=f"{thread}:{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    texts = [m["text"] for m in rows(log, "messages")]
    assert sorted(texts) == sorted(f"{t}:{i}" for t in range(8) for i in range(200))


def test_audit_log_since(log: SessionLog, clock: Clock):
    log.audit(actor="cli", action="reindex", detail={"version": "v2"})
    clock.advance(days=1)
    log.audit(actor=1, action="broadcast")
    assert [(a["actor"], a["action"], a["detail"]) for a in log.audit_log()] == [
        ("cli", "reindex", {"version": "v2"}), ("1", "broadcast", None)]
    assert [a["action"] for a in log.audit_log(date(2025, 3, 2))] == ["broadcast"]


@pytest.mark.parametrize("trial", range(12))
def test_threads_opening_a_new_file_at_once_all_write(tmp_path: Path, trial: int) -> None:
    """SQLite only: eight threads whose first write makes the file. One makes and migrates
    it while the others wait (opened at once, some found it locked and lost their row)."""
    log = SessionLog(tmp_path / "log.db", spool=tmp_path / "spool.jsonl")
    errors: list[Exception] = []
    start = threading.Barrier(8)

    def work(n: int) -> None:
        start.wait(timeout=10)
        try:
            log.log_incoming(user_id=n, chat_id=n, chat_type="private", kind="text", text=str(n))
        except LogWriteError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sorted(m["text"] for m in rows(log, "messages")) == [str(n) for n in range(8)]
    log.close()


def test_a_file_made_anew_has_its_roles_back_before_any_thread_reads(tmp_path: Path) -> None:
    """SQLite only: after the file is deleted, the thread that makes it anew puts the
    settings' roles back before another thread can read a role from it."""
    log = SessionLog(tmp_path / "var" / "log.db", spool=tmp_path / "spool.jsonl")

    def seed() -> None:
        log.bootstrap_roles(admins=[1], allowed=[2])

    seed()
    log.on_new_file = seed
    for trial in range(5):
        (tmp_path / "var" / "log.db").unlink()
        for suffix in ("-wal", "-shm"):
            (tmp_path / "var" / f"log.db{suffix}").unlink(missing_ok=True)
        log.reopen()  # what a write noticing the deleted file does
        start = threading.Barrier(6)
        seen: list[str | None] = []

        def read(n: int, start: threading.Barrier, seen: list[str | None]) -> None:
            start.wait(timeout=10)
            seen.append(log.role(2 if n % 2 else 1))

        threads = [threading.Thread(target=read, args=(n, start, seen)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(seen, key=str) == ["admin"] * 3 + ["staff"] * 3, trial
    log.close()


def test_a_thread_first_using_the_log_after_its_file_was_deleted_gets_the_tables(
        tmp_path: Path) -> None:
    """SQLite only: the file is gone and no write has noticed it yet; a thread opening its
    first connection makes the file anew with every table (it found none and failed)."""
    log = SessionLog(tmp_path / "log.db", spool=tmp_path / "spool.jsonl")
    log.bootstrap_roles(admins=[1], allowed=[])
    (tmp_path / "log.db").unlink()
    found: list[object] = []
    thread = threading.Thread(target=lambda: found.append(log.role(1)))
    thread.start()
    thread.join(timeout=30)
    assert found == [None]  # a new, empty file (on_new_file would put the roles back)
    tables = sqlite3.connect(tmp_path / "log.db").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert {"users", "messages", "answers"} <= {name for (name,) in tables}
    log.close()
