"""What several workers on one database rely on, on both backends: claims with leases on the
inbox (one user's updates, one worker at a time, in order; an abandoned queue taken over) and
on the outbox (one reply, one sender; a chat's replies in order), each update handled once;
the SQL that differs between SQLite and PostgreSQL (bot/store/sql.py). The concurrent tests
run real threads, each a worker with its own connections."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store import LogWriteError, Outgoing, Received, SessionLog
from bot.store.sql import PgConnection, connect_postgresql, translate

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
BIG = 2**52 - 1  # the largest Telegram user id the parser takes


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(store_target: str | Path, tmp_path: Path, clock: Clock) -> Iterator[SessionLog]:
    session_log = SessionLog(store_target, clock=clock, spool=tmp_path / "spool.jsonl")
    yield session_log
    session_log.close()


def update(update_id: int, user: int) -> Received:
    return Received(update_id, {"update_id": update_id, "message": {"text": f"q{update_id}"}},
                    user, user)


def reply(chat: int, text: str) -> Outgoing:
    return Outgoing(chat, "message", {"text": text})


# -- the inbox ------------------------------------------------------------------------------


def test_one_worker_at_a_time_holds_a_users_queue_and_a_lapsed_claim_is_taken_over(
        log: SessionLog, clock: Clock) -> None:
    log.receive([update(1, 7), update(2, 7), update(3, 8)])
    assert log.claim_updates(7, "a:1", 15)
    assert not log.claim_updates(7, "b:1", 15)  # a's claim lives
    assert log.claim_updates(7, "a:1", 15)  # a renews its own
    assert log.claim_updates(8, "b:1", 15)  # another user's queue: another worker
    assert log.next_update(7)["update_id"] == 1  # type: ignore[index]
    assert log.orphaned_keys("c:1") == []  # both queues are claimed
    clock.now += timedelta(seconds=16)  # a was killed: its claim lapsed
    assert log.orphaned_keys("c:1") == [7, 8]
    log.renew_claims("b:1", 15, keys=[8])
    assert log.orphaned_keys("c:1") == [7]
    assert log.claim_updates(7, "c:1", 15)
    assert not log.claim_updates(7, "a:1", 15)
    assert log.orphaned_keys("a:1") == []  # a restarted sees its old queue claimed by c


def test_a_queue_is_let_go_only_when_no_update_is_left(log: SessionLog) -> None:
    log.receive([update(1, 7)])
    assert log.claim_updates(7, "a", 15)
    log.receive([update(2, 7)])  # arrives at another worker meanwhile
    assert log.finish_update(1, [reply(7, "one")])
    assert not log.release_updates(7, "a")  # 2 is left: the claim is kept
    assert not log.claim_updates(7, "b", 15)  # so b, which stored 2, leaves it to a
    assert log.next_update(7)["update_id"] == 2  # type: ignore[index]
    log.finish_update(2, [reply(7, "two")])
    assert log.release_updates(7, "a")
    assert log.claim_updates(7, "b", 15)  # free again
    assert log.release_updates(7, "b", force=True)


def test_an_update_handled_twice_queues_its_replies_once(log: SessionLog) -> None:
    log.receive([update(5, 7)])
    first = log.finish_update(5, [reply(7, "answer")])
    again = log.finish_update(5, [reply(7, "answer")])  # a worker that stalled past its lease
    assert len(first) == 1 and again == []
    assert [r["id"] for r in log.replies_of(5)] == first
    assert log.finish_update(None, [reply(7, "an alert")])  # rows of no update still queue
    assert log.finish_update(99, [reply(7, "from memory")])  # an update that was never stored


def test_telegram_sized_ids_round_trip(log: SessionLog) -> None:
    log.touch_user(BIG, username="big", first_name=None, language=None)
    log.receive([Received(BIG - 1, {"x": 1}, BIG, -1001234567890123)])
    assert log.role(BIG) is None and [u["id"] for u in log.users()] == [BIG]
    assert log.next_update(BIG)["chat_id"] == -1001234567890123  # type: ignore[index]
    assert log.next_update_offset() == BIG


# -- the outbox -----------------------------------------------------------------------------


def test_a_chats_replies_are_claimed_by_one_sender_and_go_out_in_order(
        log: SessionLog, clock: Clock) -> None:
    log.finish_update(None, [reply(1, "1a"), reply(1, "1b"), reply(2, "2a")])
    taken = log.claim_replies("a", 15)
    assert [(r["chat_id"], r["payload"]["text"]) for r in taken] == [
        (1, "1a"), (1, "1b"), (2, "2a")]
    assert log.claim_replies("b", 15) == []  # every row is a's while its claim lives
    log.finish_update(None, [reply(1, "1c")])  # queued after: not claimable before 1a, 1b
    assert log.claim_replies("b", 15) == []
    log.mark_sent(taken[0]["id"], 101)
    assert log.claim_replies("b", 15) == []  # 1b is still a's
    log.release_replies([taken[1]["id"]])  # a gives 1b back without sending it
    assert [r["payload"]["text"] for r in log.claim_replies("b", 15)] == ["1b", "1c"]
    clock.now += timedelta(seconds=16)  # a died holding 2a: it is b's to send again
    assert [r["payload"]["text"] for r in log.claim_replies("b", 15)] == ["1b", "2a", "1c"]


def test_a_reply_retried_later_holds_up_its_chat_only(log: SessionLog, clock: Clock) -> None:
    log.finish_update(None, [reply(1, "1a"), reply(1, "1b"), reply(2, "2a")])
    first = log.claim_replies("a", 15)
    log.begin_send(first[0]["id"])
    log.retry_later(first[0]["id"], 30, "500")  # the claim of 1a goes with it
    log.release_replies([first[1]["id"]])
    log.mark_sent(first[2]["id"], 5)
    log.finish_update(None, [reply(2, "2b")])
    [later] = log.claim_replies("b", 15)
    assert later["payload"]["text"] == "2b"
    log.mark_sent(later["id"], 6)
    assert log.next_reply_due() == START  # 1b is due, behind 1a
    clock.now += timedelta(seconds=31)
    again = log.claim_replies("b", 15)
    assert [(r["payload"]["text"], r["attempts"]) for r in again] == [("1a", 1), ("1b", 0)]


def test_senders_on_several_workers_send_every_reply_once_in_order(
        log: SessionLog, store_target: str | Path, tmp_path: Path) -> None:
    """Four senders (threads with their own store objects, as workers) claim and send 600
    replies of 30 chats at once; each reply is sent once, each chat's in order."""
    chats = range(1, 31)
    for n in range(20):
        log.finish_update(None, [reply(chat, f"{chat}:{n}") for chat in chats])
    sent: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    ready = threading.Barrier(4, timeout=60)  # all four claim from the start, not one alone

    def sender(name: str) -> None:
        store = SessionLog(store_target, spool=tmp_path / f"{name}.jsonl")
        store.timeout = 5.0
        rng = random.Random(name)
        try:
            ready.wait()
            idle = 0
            while idle < 20:
                rows = store.claim_replies(name, 15, limit=rng.randint(1, 8))
                if not rows:
                    idle += 1
                    time.sleep(0.01)
                    continue
                idle = 0
                for row in rows:
                    store.begin_send(row["id"])
                    with lock:
                        sent.append((name, row["chat_id"], row["payload"]["text"]))
                    store.mark_sent(row["id"], len(sent))
        except BaseException as exc:  # shown by the assertion below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=sender, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    texts = [text for _, _, text in sent]
    assert len(texts) == 600 and len(set(texts)) == 600  # every reply once
    for chat in chats:
        assert [t for _, c, t in sent if c == chat] == [f"{chat}:{n}" for n in range(20)]
    assert len({name for name, _, _ in sent}) > 1  # the work was shared
    assert log.outbox_counts() == {"pending": 0, "sent": 600, "failed": 0}


def test_workers_draining_the_inbox_handle_each_update_once_and_each_user_in_order(
        log: SessionLog, store_target: str | Path, tmp_path: Path) -> None:
    """Three workers receive 300 updates of 10 users at random and drain the queues as
    bot/tg/runner.py does (claim, oldest first, let go when empty): each update is handled
    once, one at a time per user, and never before an older update of its user that was
    stored before it was taken (Telegram numbers a user's updates in the order they were
    sent); no update is left."""
    users = list(range(1, 11))
    plan = [(n, users[n % 10]) for n in range(1, 301)]
    handled: list[tuple[str, int, int]] = []
    events: list[tuple[str, int, int]] = []  # (stored|look|taken|done, user, update id)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(name: str, mine: list[tuple[int, int]]) -> None:
        store = SessionLog(store_target, spool=tmp_path / f"{name}.jsonl")
        try:
            for update_id, user in mine:
                with lock:
                    store.receive([update(update_id, user)])
                    events.append(("stored", user, update_id))
                if not store.claim_updates(user, name, 15):
                    continue  # the holder drains it
                while True:
                    with lock:
                        events.append(("look", user, 0))
                    row = store.next_update(user)
                    if row is None:
                        if store.release_updates(user, name):
                            break
                        continue
                    with lock:
                        handled.append((name, user, row["update_id"]))
                        events.append(("taken", user, row["update_id"]))
                    store.finish_update(row["update_id"], [reply(user, "ok")])
                    with lock:
                        events.append(("done", user, row["update_id"]))
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    rng = random.Random(3)
    shares: list[list[tuple[int, int]]] = [[], [], []]
    for item in plan:
        shares[rng.randrange(3)].append(item)
    threads = [threading.Thread(target=worker, args=(f"w{n}", share))
               for n, share in enumerate(shares)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    ids = [update_id for _, _, update_id in handled]
    assert sorted(ids) == list(range(1, 301))  # each once
    for user in users:
        busy: int | None = None  # the update of this user being handled now
        stored: set[int] = set()
        looked: set[int] = set()  # what was stored when the holder looked for the next one
        finished: set[int] = set()
        for event, u, update_id in events:
            if u != user:
                continue
            if event == "stored":
                stored.add(update_id)
            elif event == "look":
                looked = set(stored)
            elif event == "taken":
                assert busy is None, (user, busy, update_id)  # one at a time per user
                older = {i for i in looked if i < update_id} - finished
                assert not older, (user, update_id, older)  # the oldest stored goes first
                busy = update_id
            else:
                assert busy == update_id
                busy = None
                finished.add(update_id)
    assert log.unhandled_updates() == [] and log.orphaned_keys("x") == []
    assert log.outbox_counts()["pending"] == 300


# -- the SQL of the two dialects ------------------------------------------------------------


def test_placeholders_are_translated_outside_literals_only() -> None:
    assert translate("SELECT * FROM t WHERE a = ? AND b LIKE '%x?%' AND c = :name") == (
        "SELECT * FROM t WHERE a = %s AND b LIKE '%%x?%%' AND c = %(name)s")
    assert translate("SELECT x::text, '10:30' FROM t WHERE d = :d") == (
        "SELECT x::text, '10:30' FROM t WHERE d = %(d)s")
    assert translate("SELECT 'it''s ?' || \"col?\"") == "SELECT 'it''s ?' || \"col?\""


def test_text_postgresql_cannot_store_is_kept_with_a_replacement(log: SessionLog) -> None:
    message = log.log_incoming(user_id=1, chat_id=1, chat_type="private", kind="text",
                               text="a\x00b", raw={"text": "a\x00b"})
    (row,) = log._rows("SELECT text FROM messages WHERE id = ?", [message])
    assert row["text"] == ("a\ufffdb" if log.url else "a\x00b")


def test_a_write_waiting_for_a_lock_fails_after_the_timeout(postgres: object,
                                                            database_url: str,
                                                            tmp_path: Path) -> None:
    """PostgreSQL's lock timeout stands in for SQLite's busy timeout: a write held up by
    another transaction fails after `timeout`, and the next ones fail at once for a while."""
    log = SessionLog(database_url, timeout=0.2, spool=tmp_path / "spool.jsonl")
    log.touch_user(1, username=None, first_name=None, language=None)
    other = connect_postgresql(database_url, timeout=5)
    assert isinstance(other, PgConnection)
    other.begin()
    other.execute("LOCK TABLE messages IN EXCLUSIVE MODE")
    try:
        started = time.monotonic()
        with pytest.raises(LogWriteError, match="lock timeout") as error:
            log.log_incoming(user_id=1, chat_id=1, chat_type="private", kind="text", text="hi")
        assert time.monotonic() - started < 2.0
        assert error.value.table == "messages"
        assert log.role(1) is None  # reads still work
        with pytest.raises(LogWriteError, match="not tried again"):
            log.touch_user(1, username=None, first_name=None, language=None)
    finally:
        other.rollback()
        other.close()
    log.retry_seconds = 0
    log.log_incoming(user_id=1, chat_id=1, chat_type="private", kind="text", text="hi")
    assert [r["text"] for r in log._rows("SELECT text FROM messages")] == ["hi"]
    log.close()


def test_a_connection_the_server_closed_is_opened_again(postgres: object, database_url: str,
                                                        tmp_path: Path) -> None:
    log = SessionLog(database_url, spool=tmp_path / "spool.jsonl")
    log.set_role(1, "admin", by="cli")
    admin = connect_postgresql(database_url, timeout=5)
    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                  " WHERE application_name = 'partnerbot' AND pid <> pg_backend_pid()")
    admin.close()
    with pytest.raises(LogWriteError):  # the one statement on the dead connection
        log.role(1)
    assert log.role(1) == "admin"  # a new connection
    log.close()
