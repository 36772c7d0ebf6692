"""Access that holds: revocations outlive forget and restarts, settings admins are changed only
in the settings, only they manage admins, /allow and /revoke say what changed, join codes are
rate-limited (in the store) and never logged. Real dialogue, real SQLite, no mocks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from click.testing import CliRunner, Result

from bot import texts
from bot.app import build_dialogue
from bot.cli import cli
from bot.dialogue.engine import Dialogue
from bot.settings import Settings
from bot.store import SessionLog
from bot.store.migrations import MIGRATIONS, migrate
from bot.types import Command, Reply, Text
from index.embedders import HashingEmbedder
from tests.unit.test_dialogue import ADMIN, STAFF, STRANGER, TRAINER, user

ADMIN2 = 4  # a second admin listed in the settings
CODE = "open-sesame-4711"
QUESTION = Text("How should companies be screened?")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def start(tmp_path: Path, hashed_index: Path, knowledge: Path) -> Any:
    """Start (or restart) the bot on one data directory: the real wiring of bot/app.py."""
    def build(**overrides: Any) -> Dialogue:
        data = tmp_path / "var"
        data.mkdir(exist_ok=True)
        if not (data / "index").exists():
            (data / "index").symlink_to(hashed_index, target_is_directory=True)
        fields: dict[str, Any] = {"data_dir": data, "knowledge_dir": knowledge, "threshold": 0.2,
                                  "admins": f"{ADMIN},{ADMIN2}",
                                  "allowed_users": f"{STAFF},{TRAINER}"}
        return build_dialogue(Settings(**(fields | overrides)), embedder=HashingEmbedder(),
                              prefetch=False)
    return build


def say(dialogue: Dialogue, uid: int, command: str, args: str = "") -> list[Reply]:
    return dialogue.handle(user(uid), Command(command, args))


def first(dialogue: Dialogue, uid: int, command: str, args: str = "") -> str:
    return say(dialogue, uid, command, args)[0].html


def invoke(dialogue: Dialogue, *args: str) -> Result:
    env = {"PARTNERBOT_DATA_DIR": str(dialogue.settings.data_dir),
           "PARTNERBOT_KNOWLEDGE_DIR": str(dialogue.settings.knowledge_dir)}
    return CliRunner().invoke(cli, list(args), env=env)


def db_text(dialogue: Dialogue) -> str:
    db = sqlite_utils.Database(dialogue.settings.db_path)
    return json.dumps([list(db[t].rows) for t in db.table_names()], default=str)


# -- revocations that hold -------------------------------------------------------------------


def test_in_an_open_pilot_forget_keeps_a_revocation(start: Any) -> None:
    bot = start(allowed_users="*")
    assert "Sources" in bot.handle(user(STRANGER), QUESTION)[0].html  # everyone is staff
    assert first(bot, ADMIN, "revoke", str(STRANGER)) == texts.REVOKED.format(user_id=STRANGER)
    forgot = invoke(bot, "forget", str(STRANGER), "--yes")
    assert forgot.exit_code == 0, forgot.output
    assert "Kept: the revocation of user 99" in forgot.output
    # the deny record keeps the id alone: no name, language or times
    [row] = [r for r in bot.store.users() if r["id"] == STRANGER]
    assert {k: v for k, v in row.items() if v is not None} == {
        "id": STRANGER, "role_source": "admin"}
    refused = bot.handle(user(STRANGER), QUESTION)
    assert refused[0].html == texts.NOT_ALLOWED.format(user_id=STRANGER)
    bot = start(allowed_users="*")  # and after a restart
    assert bot.ctx.role(user(STRANGER)) is None


def test_a_revoked_listed_user_stays_out_across_restarts_and_forget(start: Any) -> None:
    bot = start()
    assert first(bot, ADMIN, "revoke", str(STAFF)) == texts.REVOKED.format(user_id=STAFF)
    bot = start()
    assert bot.ctx.role(user(STAFF)) is None
    assert invoke(bot, "forget", str(STAFF), "--yes").exit_code == 0
    bot = start()  # PARTNERBOT_ALLOWED_USERS still lists them: the bot's decision stands
    assert bot.ctx.role(user(STAFF)) is None
    assert first(bot, ADMIN, "allow", str(STAFF)) == texts.ALLOWED.format(user_id=STAFF,
                                                                          role="staff")
    assert start().ctx.role(user(STAFF)) == "staff"


def test_settings_admins_are_changed_only_in_the_settings(start: Any) -> None:
    bot = start()
    refusal = texts.SETTINGS_ADMIN_FIXED.format(user_id=ADMIN)
    assert first(bot, ADMIN2, "revoke", str(ADMIN)) == refusal
    assert first(bot, ADMIN2, "allow", f"{ADMIN} staff") == refusal
    cli_revoke = invoke(bot, "users", "revoke", str(ADMIN))
    assert cli_revoke.exit_code == 1 and "PARTNERBOT_ADMINS" in cli_revoke.output
    assert invoke(bot, "users", "allow", str(ADMIN), "--role", "trainer").exit_code == 1
    assert start().ctx.role(user(ADMIN)) == "admin"
    assert [a for a in bot.store.audit_log() if a["actor"] != "settings"] == []


def test_only_settings_admins_manage_admins_and_nobody_changes_themselves(start: Any) -> None:
    bot = start()
    assert first(bot, ADMIN, "allow", "5 admin") == texts.ALLOWED.format(user_id=5, role="admin")
    assert first(bot, ADMIN, "allow", "6 admin") == texts.ALLOWED.format(user_id=6, role="admin")
    # 5 is an admin made in the bot: staff and trainers yes, admins no
    assert first(bot, 5, "allow", f"{STAFF} trainer") == texts.ROLE_CHANGED.format(
        user_id=STAFF, role="trainer", before="staff")
    assert first(bot, 5, "revoke", "6") == texts.ADMINS_ONLY_BY_SETTINGS
    assert first(bot, 5, "allow", "6 staff") == texts.ADMINS_ONLY_BY_SETTINGS
    assert first(bot, 5, "allow", "7 admin") == texts.ADMINS_ONLY_BY_SETTINGS
    assert first(bot, 5, "revoke", str(ADMIN)) == texts.SETTINGS_ADMIN_FIXED.format(
        user_id=ADMIN)
    assert first(bot, 5, "revoke", "5") == texts.REVOKE_SELF
    assert first(bot, 5, "allow", "5 staff") == texts.CHANGE_SELF
    assert first(bot, ADMIN, "revoke", str(ADMIN)) == texts.REVOKE_SELF
    assert {u: bot.store.role(u) for u in (5, 6, 7)} == {5: "admin", 6: "admin", 7: None}
    # a settings admin, and the server's console, may
    assert first(bot, ADMIN, "revoke", "6") == texts.REVOKED.format(user_id=6)
    assert "no longer has access" in invoke(bot, "users", "revoke", "5").output
    assert bot.store.role(5) is None and bot.store.role(6) is None


def test_allow_and_revoke_say_exactly_what_changed(start: Any) -> None:
    bot = start()
    assert first(bot, ADMIN, "revoke", str(STRANGER)) == texts.NO_ACCESS_UNCHANGED.format(
        user_id=STRANGER)
    assert bot.store.role(STRANGER) is None and not bot.store.revoked(STRANGER)
    assert first(bot, ADMIN, "allow", str(STAFF)) == texts.ROLE_UNCHANGED.format(
        user_id=STAFF, role="staff")
    replies = say(bot, ADMIN, "allow", f"{STAFF} ADMIN")
    assert [(r.html, r.to) for r in replies] == [
        (texts.ROLE_CHANGED.format(user_id=STAFF, role="admin", before="staff"), None),
        (texts.YOUR_ROLE_CHANGED.format(role="admin", before="staff"), STAFF)]
    assert first(bot, ADMIN, "revoke", str(STAFF)) == texts.REVOKED.format(user_id=STAFF)
    assert first(bot, ADMIN, "revoke", str(STAFF)) == texts.ALREADY_REVOKED.format(
        user_id=STAFF)
    assert first(bot, ADMIN, "allow", f"{STAFF} boss") == texts.NOT_A_ROLE.format(role="boss")
    changes = [(a["action"], a["detail"]["previous"], a["detail"]["role"])
               for a in bot.store.audit_log() if a["actor"] == str(ADMIN)]
    assert changes == [("set_role", "staff", "admin"), ("revoke", "admin", None)]
    # the CLI says the same, as text
    assert invoke(bot, "users", "revoke", "77").output.strip() == (
        "User 77 had no access; nothing changed.")
    assert invoke(bot, "users", "allow", "77").output.strip() == (
        "User 77 may now use the bot as staff.")
    assert invoke(bot, "users", "allow", "77").output.strip() == (
        "User 77 already has the role staff; nothing changed.")
    assert invoke(bot, "users", "allow", "77", "--role", "trainer").output.strip() == (
        "User 77 is now trainer (was staff).")
    assert invoke(bot, "users", "revoke", "77").output.strip() == (
        "User 77 no longer has access.")
    assert invoke(bot, "users", "revoke", "77").output.strip() == (
        "User 77 had no access already (revoked earlier); nothing changed.")


# -- join codes ------------------------------------------------------------------------------


def clocked(bot: Dialogue, clock: Clock) -> Dialogue:
    """The same store file, read with a clock the test moves (the real SessionLog)."""
    bot.ctx.store = SessionLog(bot.settings.db_path, clock=clock)
    return bot


def test_join_codes_are_rate_limited_with_one_alert_per_lockout(start: Any) -> None:
    clock = Clock()
    bot = clocked(start(join_code=CODE), clock)
    replies = [say(bot, STRANGER, "join", f"guess-{n}") for n in range(300)]
    assert [r[0].html for r in replies[:4]] == [texts.JOIN_WRONG_CODE] * 4
    locked = texts.JOIN_LOCKED.format(until="09:15", minutes=15)
    assert replies[4][0].html == locked
    alerts = [(r.to, r.html) for rs in replies for r in rs if r.to is not None]
    assert [to for to, _ in alerts] == [ADMIN, ADMIN2]  # one alert per lockout, to each admin
    assert "sent 5 wrong join codes within 15 minutes" in alerts[0][1]
    assert all(r[0].html == locked for r in replies[5:])
    # the right code does not get through a lockout either, nor after a restart
    assert first(bot, STRANGER, "join", CODE) == locked
    bot = clocked(start(join_code=CODE), clock)
    clock.now += timedelta(minutes=10)
    assert first(bot, STRANGER, "join", CODE) == texts.JOIN_LOCKED.format(until="09:15",
                                                                          minutes=5)
    clock.now += timedelta(minutes=5)
    sent = say(bot, STRANGER, "join", CODE)
    assert sent[0].html == texts.JOIN_SENT
    assert [r.to for r in sent[1:]] == [ADMIN, ADMIN2]
    # after a right code the count starts again
    assert [first(bot, STRANGER, "join", "nope") for _ in range(4)] == [texts.JOIN_WRONG_CODE] * 4


def test_wrong_codes_spread_over_more_than_the_window_do_not_lock(start: Any) -> None:
    clock = Clock()
    bot = clocked(start(join_code=CODE), clock)
    for _ in range(4):
        assert first(bot, STRANGER, "join", "nope") == texts.JOIN_WRONG_CODE
    clock.now += timedelta(minutes=16)
    for _ in range(4):
        assert first(bot, STRANGER, "join", "nope") == texts.JOIN_WRONG_CODE
    assert first(bot, STRANGER, "join", CODE) == texts.JOIN_SENT


def test_join_codes_are_never_stored_or_exported(start: Any, tmp_path: Path) -> None:
    bot = start(join_code=CODE)
    assert first(bot, STRANGER, "join", "wrong-guess-1234") == texts.JOIN_WRONG_CODE
    assert first(bot, STRANGER, "join", CODE) == texts.JOIN_SENT
    logged = [r["text"] for r in sqlite_utils.Database(bot.settings.db_path)["messages"].rows
              if r["direction"] == "in"]
    assert logged == ["/join ‹hidden›", "/join ‹hidden›"]
    assert CODE not in db_text(bot) and "wrong-guess" not in db_text(bot)
    exported = invoke(bot, "export", "--format", "jsonl").output
    assert "/join ‹hidden›" in exported and CODE not in exported
    invoke(bot, "export", "--format", "csv", "--output", str(tmp_path / "csv"))
    assert all(CODE not in p.read_text(encoding="utf-8") for p in (tmp_path / "csv").iterdir())


def test_join_edge_cases_get_a_clear_message(start: Any) -> None:
    bot = start(join_code=CODE)
    assert first(bot, STRANGER, "join", "ключ-ü") == texts.JOIN_WRONG_CODE  # no TypeError
    assert first(bot, STRANGER, "join", "\ud800") == texts.JOIN_WRONG_CODE
    assert first(bot, STRANGER, "join", "") == texts.JOIN_USAGE
    assert first(bot, STAFF, "join", CODE) == texts.JOIN_HAS_ACCESS.format(role="staff")
    assert bot.store.pending_requests() == []


def test_the_migration_hides_join_codes_logged_before(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    migrate(db, MIGRATIONS[:4])
    edited = {"edited_message": {"from": {"id": 9}, "text": "/join@PartnerBot sesame-1",
                                 "entities": [{"type": "bot_command", "offset": 0}]}}
    rows = [("command", "/join sesame-2", None), ("edited_message", None, json.dumps(edited)),
            ("command", "/JOIN   sesame-3  extra", None), ("command", "/join", None),
            ("text", "how do I join a partnership? /joinery", None),
            ("text", "keep me", json.dumps({"text": "plain"}))]
    for kind, text, raw in rows:
        db.table("messages").insert({"at": "2026-01-01T00:00:00.000000+00:00",
                                     "direction": "in", "front": "telegram", "kind": kind,
                                     "text": text, "raw": raw})
    db.close()
    with SessionLog(path) as log:
        assert log.schema_version >= 5
    after = list(sqlite_utils.Database(path)["messages"].rows)
    assert [r["text"] for r in after] == [
        "/join ‹hidden›", None, "/JOIN ‹hidden›", "/join", "how do I join a partnership? /joinery",
        "keep me"]
    assert json.loads(after[1]["raw"])["edited_message"]["text"] == "/join@PartnerBot ‹hidden›"
    assert after[5]["raw"] == json.dumps({"text": "plain"})
    assert "sesame" not in path.read_bytes().decode("utf-8", "replace")


def test_an_edited_join_command_keeps_no_code_in_the_log(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "log.db")
    edited = {"edited_message": {"text": "/join SECRET-CODE", "chat": {"id": 5}}}
    log.log_incoming(user_id=5, chat_id=5, chat_type="private", kind="edited_message",
                     text="/join SECRET-CODE", raw=edited)
    log.close()
    row = next(iter(sqlite_utils.Database(tmp_path / "log.db")["messages"].rows))
    assert "SECRET" not in row["raw"] and "SECRET" not in row["text"]
    assert json.loads(row["raw"])["edited_message"]["text"] == "/join ‹hidden›"
