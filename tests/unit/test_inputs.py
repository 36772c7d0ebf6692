"""One parser for user ids, row ids and cohort tags (bot/inputs.py), used by the dialogue, the
CLI and the settings; text that cannot be stored as UTF-8 made storable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner, Result

from bot import texts
from bot.app import build_dialogue
from bot.cli import cli
from bot.dialogue.engine import Dialogue
from bot.inputs import (
    MAX_USER_ID,
    InputError,
    bot_id_of,
    clean_text,
    parse_cohort_tag,
    parse_row_id,
    parse_user_id,
)
from bot.settings import Settings, SettingsError, load_settings
from bot.store import SessionLog
from bot.types import Command, Press, Text
from index.embedders import HashingEmbedder
from tests.unit.test_dialogue import ADMIN, STAFF, TRAINER, user

BOT_ID = 7000001
TWENTY_DIGITS = "9" * 20


@pytest.mark.parametrize(("typed", "expected"), [
    ("123456789", 123456789), (" 42 ", 42), ("007", 7), (str(MAX_USER_ID), MAX_USER_ID)])
def test_user_ids_in_range_are_read(typed: str, expected: int) -> None:
    assert parse_user_id(typed) == expected


@pytest.mark.parametrize(("typed", "says"), [
    ("", "No user id was given"),
    ("abc", "is not a user id"),
    ("12 34", "is not a user id"),
    ("١٢٣", "digits other than 0-9"),  # Arabic-Indic: int() reads 123
    ("１２３", "digits other than 0-9"),  # full-width
    ("²", "digits other than 0-9"),  # str.isdigit() says True, int() fails
    ("-5", "is negative"),
    ("−5", "is negative"),  # U+2212
    ("+5", "starts with '+'"),
    ("0", "0 is not a user id"),
    ("000", "0 is not a user id"),
    (str(MAX_USER_ID + 1), "too large"),
    (TWENTY_DIGITS, "too large"),
    ("1" + "0" * 400, "too large"),
    (str(BOT_ID), "this bot's own id"),
])
def test_wrong_user_ids_say_what_was_wrong_and_what_to_type(typed: str, says: str) -> None:
    with pytest.raises(InputError) as error:
        parse_user_id(typed, bot_id=BOT_ID)
    assert says in error.value.message
    assert error.value.hint


def test_row_ids_and_the_bot_id() -> None:
    assert parse_row_id("3") == 3
    for bad in ("", "0", "x", "١", TWENTY_DIGITS, "-1"):
        with pytest.raises(InputError):
            parse_row_id(bad)
    assert bot_id_of("7000001:AAH-secret") == BOT_ID
    assert bot_id_of(None) is None and bot_id_of("nonsense") is None and bot_id_of("١:x") is None
    settings = Settings(telegram_token=f"{BOT_ID}:AAH-secret")
    assert settings.bot_id == BOT_ID and Settings().bot_id is None


@pytest.mark.parametrize("tag", ["geneva-2026", "G7", "a", "x" * 53])
def test_cohort_tags_of_the_documented_pattern_are_read(tag: str) -> None:
    assert parse_cohort_tag(f" {tag} ") == tag


@pytest.mark.parametrize(("tag", "says"), [
    ("", "No cohort tag"), ("geneva 2026", "a space"), ("genève", "'è'"), ("a_b", "'_'"),
    ("x" * 54, "at most 53"), ("<b>x</b>", "'<'")])
def test_wrong_cohort_tags_are_refused(tag: str, says: str) -> None:
    with pytest.raises(InputError) as error:
        parse_cohort_tag(tag)
    assert says in error.value.message and "geneva-2026" in (error.value.hint or "")


def test_clean_text_makes_text_storable() -> None:
    plain = "Grüße, 你好 😀"
    assert clean_text(plain) is plain
    assert clean_text("a\ud800b") == "a\ufffdb"  # a lone surrogate
    assert clean_text("\udcff") == "\ufffd"
    assert clean_text("\ud83d\ude00") == "😀"  # a pair sent as two halves is joined
    for s in ("a\ud800b", "\ud83d", "x\ude00y\ud83d\ude00"):
        clean_text(s).encode("utf-8")


def test_the_store_keeps_text_that_is_not_utf8(tmp_path: Path) -> None:
    with SessionLog(tmp_path / "log.db") as log:
        log.touch_user(5, username="u\ud800", first_name="\udcffAna", language=None)
        log.log_incoming(user_id=5, chat_id=5, chat_type="private", kind="text",
                         text="hello \ud83d", raw={"text": "hello \ud83d"})
        log.request_access(5, note="\ud800")
        log.audit(actor="cli", action="note", detail={"why": "\udfff"})
        [row] = log.users()
        assert (row["username"], row["first_name"]) == ("u\ufffd", "\ufffdAna")
    db = sqlite_utils.Database(tmp_path / "log.db")
    assert [m["text"] for m in db["messages"].rows] == ["hello \ufffd"]


# -- the parser at every edge ----------------------------------------------------------------


@pytest.fixture()
def bot(tmp_path: Path, hashed_index: Path, knowledge: Path) -> Dialogue:
    data = tmp_path / "var"
    data.mkdir()
    (data / "index").symlink_to(hashed_index, target_is_directory=True)
    settings = Settings(data_dir=data, knowledge_dir=knowledge, threshold=0.2,
                        admins=str(ADMIN), allowed_users=f"{STAFF},{TRAINER}",
                        telegram_token=f"{BOT_ID}:AAH-secret")
    return build_dialogue(settings, embedder=HashingEmbedder(), prefetch=False)


@pytest.mark.parametrize(("args", "says"), [
    ("١٢٣ admin", "digits other than 0-9"),
    ("²", "digits other than 0-9"),
    (f"{TWENTY_DIGITS} admin", "too large"),
    ("-5", "is negative"),
    ("0 staff", "0 is not a user id"),
    (f"{BOT_ID} admin", "this bot's own id"),
])
def test_allow_and_revoke_refuse_wrong_ids_with_a_clear_message(bot: Dialogue, args: str,
                                                                says: str) -> None:
    allow = bot.handle(user(ADMIN), Command("allow", args))[0].html
    assert says in allow and texts.ALLOW_USAGE in allow
    revoke = bot.handle(user(ADMIN), Command("revoke", args.split()[0]))[0].html
    assert says in revoke and texts.REVOKE_USAGE in revoke
    assert bot.store.role(123) is None
    assert [u["id"] for u in bot.store.users() if u["role"]] == [ADMIN, STAFF, TRAINER]


@pytest.mark.parametrize("data", [f"j:{TWENTY_DIGITS}:1", "j:١:1", "j:²:0", "j:0:1", "j:-1:1"])
def test_forged_join_buttons_are_stale_not_a_crash(bot: Dialogue, data: str) -> None:
    bot.store.request_access(STAFF)  # request 1 exists: "١" must not reach it
    replies = bot.handle(user(ADMIN), Press(data))
    assert [(r.html, r.notice) for r in replies] == [(texts.STALE_BUTTON, texts.STALE_BUTTON)]
    assert len(bot.store.pending_requests()) == 1


def invoke(data: Path, *args: str) -> Result:
    env = {"PARTNERBOT_DATA_DIR": str(data), "PARTNERBOT_KNOWLEDGE_DIR": str(data.parent / "kn"),
           "PARTNERBOT_TELEGRAM_TOKEN": f"{BOT_ID}:AAH-secret"}
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.mark.parametrize("args", [
    ["users", "allow", TWENTY_DIGITS], ["users", "allow", "١٢٣", "--role", "admin"],
    ["users", "revoke", "²"], ["users", "revoke", "--", "-5"], ["users", "allow", str(BOT_ID)],
    ["users", "approve", TWENTY_DIGITS], ["forget", TWENTY_DIGITS, "--yes"], ["forget", "0"]])
def test_the_cli_reads_ids_with_the_same_parser(tmp_path: Path, args: list[str]) -> None:
    result = invoke(tmp_path / "var", *args)
    assert result.exit_code == 2, result.output  # a usage error, no traceback
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Try: type the" in result.output
    with SessionLog(tmp_path / "var" / "partnerbot.db") as log:
        assert log.users() == []


@pytest.mark.parametrize("value", ["١٢٣", TWENTY_DIGITS, "-5", "1,²"])
def test_settings_read_ids_with_the_same_parser(value: str) -> None:
    with pytest.raises(SettingsError, match="PARTNERBOT_ADMINS"):
        load_settings(admins=value)
    with pytest.raises(SettingsError, match="PARTNERBOT_ALLOWED_USERS"):
        load_settings(allowed_users=value)


def test_a_question_with_a_lone_surrogate_is_answered_and_logged(bot: Dialogue) -> None:
    replies = bot.handle(user(STAFF), Text("How should companies be screened? \ud83d"))
    assert "Sources" in replies[0].html
    db = sqlite_utils.Database(bot.settings.db_path)
    assert [m["text"] for m in db["messages"].rows if m["direction"] == "in"] == [
        "How should companies be screened? \ufffd"]


def test_huge_retention_periods_are_refused_not_an_overflow(tmp_path: Path) -> None:
    result = invoke(tmp_path / "var", "retention", "--days", TWENTY_DIGITS)
    assert result.exit_code == 2 and "1<=x<=36500" in result.output
    with pytest.raises(SettingsError, match="PARTNERBOT_RETENTION_DAYS"):
        load_settings(retention_days=TWENTY_DIGITS)


def test_settings_come_from_the_variables_then_the_toml_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "partnerbot.toml"
    config.write_text('top_k = 7\nthreshold = 0.4\nadmins = "11"\nonnx = false\n',
                      encoding="utf-8")
    monkeypatch.setenv("PARTNERBOT_CONFIG", str(config))
    monkeypatch.setenv("PARTNERBOT_TOP_K", "9")  # a variable wins over the file
    monkeypatch.setenv("partnerbot_data_dir", str(tmp_path / "data"))  # any case
    monkeypatch.setenv("PARTNERBOT_LANGUAGE_MODEL", "")  # empty is a value: no language model
    settings = load_settings()
    assert (settings.top_k, settings.threshold, settings.admin_ids, settings.onnx) == (
        9, 0.4, {11}, False)
    assert settings.data_dir == tmp_path / "data" and settings.language_model == ""
    assert load_settings(top_k=3).top_k == 3  # an argument wins over both


@pytest.mark.parametrize(("text", "message"), [
    ("top_k = 0\n", "PARTNERBOT_TOP_K: Input should be greater than or equal to 1"),
    ("tok_k = 5\n", "PARTNERBOT_TOK_K: Extra inputs are not permitted"),
    ("top_k = [\n", "is not valid TOML"),
])
def test_a_wrong_settings_file_is_refused_with_what_is_wrong(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    config = tmp_path / "partnerbot.toml"
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("PARTNERBOT_CONFIG", str(config))
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings()
    monkeypatch.setenv("PARTNERBOT_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match="Cannot read the settings file"):
        load_settings()


def test_a_wrong_variable_is_named_and_a_token_never_shown(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTNERBOT_ONNX", "perhaps")
    monkeypatch.setenv("PARTNERBOT_DATABASE_URL", "mysql://user:hunter2@db/x")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "PARTNERBOT_ONNX: Input should be a valid boolean" in error.value.message
    assert "PARTNERBOT_DATABASE_URL: Use a PostgreSQL URL" in error.value.message
    assert "hunter2" not in str(error.value)
