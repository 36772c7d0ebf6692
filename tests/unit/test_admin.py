"""Admins: roles on every admin command, join requests, re-index, stats, exports, privacy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner, Result

from bot import texts
from bot.cli import cli
from bot.dialogue.engine import Dialogue
from bot.types import Command, Press, Text
from tests.conftest import ROOT
from tests.unit.test_dialogue import ADMIN, STAFF, STRANGER, TRAINER, buttons, make, user

ADMIN_COMMANDS = ["stats", "reindex", "users", "allow", "revoke"]


@pytest.fixture()
def admin_dialogue(tmp_path: Path, hashed_index: Path, knowledge: Path) -> Dialogue:
    shutil.copytree(hashed_index, tmp_path / "var" / "index")  # a writable index of its own
    return make(tmp_path, tmp_path / "var" / "index", knowledge)


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
@pytest.mark.parametrize("uid", [STAFF, TRAINER])
def test_admin_commands_are_refused_to_others(admin_dialogue: Dialogue, command: str,
                                              uid: int) -> None:
    replies = admin_dialogue.handle(user(uid), Command(command, "5 admin"))
    assert replies[0].html == texts.ADMIN_ONLY.format(command=command)
    assert admin_dialogue.store.role(5) is None


def test_stats_for_admins_has_a_chart(admin_dialogue: Dialogue) -> None:
    admin_dialogue.handle(user(STAFF), Text("How should companies be screened?"))
    admin_dialogue.handle(user(STAFF), Text("What is the per diem in Geneva?"))
    replies = admin_dialogue.handle(user(ADMIN), Command("stats"))
    assert "Questions: 2" in replies[0].html
    attachment = replies[1].attachment
    assert attachment is not None and attachment.content.startswith(b"\x89PNG")


def test_allow_revoke_and_users(admin_dialogue: Dialogue) -> None:
    assert "Send /allow" in admin_dialogue.handle(user(ADMIN), Command("allow", "x"))[0].html
    replies = admin_dialogue.handle(user(ADMIN), Command("allow", f"{STRANGER} trainer"))
    assert replies[1].to == STRANGER
    assert admin_dialogue.ctx.role(user(STRANGER)) == "trainer"
    listing = admin_dialogue.handle(user(ADMIN), Command("users"))[0].html
    assert f"<code>{STRANGER}</code>" in listing
    admin_dialogue.handle(user(ADMIN), Command("revoke", str(STRANGER)))
    assert admin_dialogue.ctx.role(user(STRANGER)) is None
    audit = [(r["actor"], r["action"], r["detail"]["user_id"], r["detail"]["role"])
             for r in admin_dialogue.store.audit_log() if r["actor"] == str(ADMIN)]
    assert audit == [(str(ADMIN), "set_role", STRANGER, "trainer"),
                     (str(ADMIN), "revoke", STRANGER, None)]


def test_join_code_request_approved_with_one_button(admin_dialogue: Dialogue) -> None:
    from pydantic import SecretStr

    admin_dialogue.settings.join_code = SecretStr("open-sesame")
    refused = admin_dialogue.handle(user(STRANGER), Text("hello"))
    assert "/join CODE" in refused[0].html
    wrong = admin_dialogue.handle(user(STRANGER), Command("join", "nope"))
    assert wrong[0].html == texts.JOIN_WRONG_CODE
    replies = admin_dialogue.handle(user(STRANGER), Command("join", "open-sesame"))
    alert = next(r for r in replies if r.to == ADMIN)
    approve = buttons([alert])[0]
    second = admin_dialogue.handle(user(STRANGER), Command("join", "open-sesame"))
    assert [(r.html, r.to) for r in second] == [(texts.JOIN_ALREADY_SENT, None)]  # one alert
    forged = admin_dialogue.handle(user(STAFF), Press(approve.data))
    assert "administrators only" in forged[0].html
    done = admin_dialogue.handle(user(ADMIN), Press(approve.data))
    assert any(r.to == STRANGER for r in done)
    assert admin_dialogue.ctx.role(user(STRANGER)) == "staff"
    again = admin_dialogue.handle(user(ADMIN), Press(approve.data))
    assert again[0].html == texts.JOIN_ALREADY


def test_reindex_reports_progress_and_the_counts(admin_dialogue: Dialogue,
                                                 knowledge: Path) -> None:
    (knowledge / "docs" / "new-guidance.md").write_text(
        "---\ntitle: New guidance\norganization: O\ndate: 2026\nkind: note\nsource: n.txt\n---\n"
        "\n1. Partners must publish an annual transparency statement on payments.\n",
        encoding="utf-8")
    (knowledge / "docs" / "unece-private-sector-evaluation.md").unlink()
    progress: list[str] = []
    replies = admin_dialogue.handle(user(ADMIN), Command("reindex"),
                                    notify=lambda r: progress.append(r.html))
    assert progress[0] == texts.REINDEX_STARTED
    assert "1 added" in replies[0].html and "8 removed" in replies[0].html
    # the checklists cite the UNECE document that was just removed: the admin is told
    assert "Checklist problems after re-indexing" in replies[0].html
    assert "unece-private-sector-evaluation" in replies[0].html
    answer = admin_dialogue.handle(user(STAFF), Text("annual transparency statement payments"))
    assert "New guidance, para 1" in answer[0].html


def invoke(data: Path, *args: str, stdin: str | None = None) -> Result:
    env = {"PARTNERBOT_DATA_DIR": str(data), "PARTNERBOT_KNOWLEDGE_DIR": str(data.parent / "kn")}
    return CliRunner().invoke(cli, list(args), env=env, input=stdin)


def test_cli_users_stats_export_forget_and_retention(admin_dialogue: Dialogue,
                                                     tmp_path: Path) -> None:
    data = admin_dialogue.settings.data_dir
    admin_dialogue.handle(user(STAFF), Text("Which secret phrase xyzzy should partners use?"))
    admin_dialogue.handle(user(TRAINER), Text("How are partners screened?"))
    assert "may now use the bot as trainer" in invoke(data, "users", "allow", "77", "--role",
                                                      "trainer").output
    listing = invoke(data, "users", "list").output
    assert "77  trainer" in listing
    assert "no longer has access" in invoke(data, "users", "revoke", "77").output
    stats = invoke(data, "stats", "--plot", str(tmp_path / "chart.png"))
    assert "Questions: 2" in stats.output and "Most cited passages" in stats.output
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")
    export = invoke(data, "export", "--format", "jsonl")
    tables = {json.loads(line)["table"] for line in export.stdout.splitlines()}
    assert {"messages", "answers", "audit"} <= tables
    csv_dir = tmp_path / "csv"
    assert "messages.csv" in invoke(data, "export", "--format", "csv", "--output",
                                    str(csv_dir)).output
    assert "--since" in invoke(data, "export", "--help").output
    assert invoke(data, "export", "--format", "csv", "--since", "yesterday").exit_code == 2
    forget = invoke(data, "forget", str(STAFF), "--yes")
    assert forget.exit_code == 0, forget.output
    db = sqlite_utils.Database(admin_dialogue.settings.db_path)
    for table in db.table_names():
        for row in db[table].rows:
            assert "xyzzy" not in json.dumps(row, default=str)
    actions = [r["action"] for r in db["audit"].rows]
    assert "export" in actions and "forget" in actions
    assert db.execute("select count(*) from answers").fetchone()[0] == 1  # the trainer's
    assert "Blanked the text of" in invoke(data, "retention", "--days", "1").output
    assert invoke(data, "retention").exit_code == 1


def test_cli_add_then_index_then_answer(tmp_path: Path) -> None:
    kn = tmp_path / "kn"
    shutil.copytree(ROOT / "tests" / "data" / "knowledge", kn)
    data = tmp_path / "var"
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    source = tmp_path / "memo.pdf"
    pdf = canvas.Canvas(str(source), pagesize=A4)
    pdf.setTitle("Memo on partner vetting")
    pdf.drawString(72, 760, "Memo on partner vetting")
    pdf.drawString(72, 730, "1. Every partner must sign the integrity pledge before funds")
    pdf.drawString(72, 716, "are released.")
    pdf.save()
    added = invoke(data, "add", str(source), "--kind", "memo", "--date", "2026-01-05")
    assert added.exit_code == 0, added.output
    assert "Paragraphs: " in added.output and "Next: partnerbot index" in added.output
    assert invoke(data, "add", str(source)).exit_code == 1  # exists: needs --replace
    bad = tmp_path / "scan.png"
    bad.write_bytes(b"\x89PNG\r\n")
    refused = invoke(data, "add", str(bad))
    assert refused.exit_code == 1 and "Supported types" in refused.output
    assert len(list((kn / "docs").glob("*.md"))) == 3
    index = invoke(data, "index")
    assert "Added: 15" in index.output
    answer = invoke(data, "ask", "--json", "integrity pledge before funds are released")
    assert json.loads(answer.stdout)["citations"][0]["locator"] == "para 1"
    db = sqlite_utils.Database(data / "partnerbot.db")
    assert [r["action"] for r in db["audit"].rows] == ["add", "index"]
