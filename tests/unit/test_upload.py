"""Admins add documents in the chat: preview, Add / Cancel, refusals, restarts, progress.

Real files (python-docx, reportlab PDFs, HTML, Markdown), a real store and a real index built
with the hashing embedder; the only stand-in is the Telegram download (`Upload.fetch`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot import texts
from bot.admin.upload import MAX_UPLOAD_BYTES, parse_caption, safe_name
from bot.dialogue.engine import Dialogue
from bot.types import Command, Press, Reply, Text, Upload, User
from index.errors import Problem
from tests.support.documents import (
    HTML_PAGE,
    MARKDOWN_WITH_FRONT_MATTER,
    PDF_TITLE,
    front_matter,
    make_encrypted_pdf,
    make_pdf,
    make_scanned_pdf,
    snapshot,
)
from tests.unit.test_dialogue import ADMIN, STAFF, STRANGER, buttons, make, user

NEW_TITLE = "Partner Vetting Handbook"


@pytest.fixture()
def admin_dialogue(tmp_path: Path, hashed_index: Path, knowledge: Path) -> Dialogue:
    shutil.copytree(hashed_index, tmp_path / "var" / "index")  # a writable index of its own
    return make(tmp_path, tmp_path / "var" / "index", knowledge)


class Sent:
    """A file as the Telegram edge hands it over; counts the downloads."""

    def __init__(self, data: bytes, filename: str, *, caption: str = "",
                 size: int | None = -1, mime: str | None = None) -> None:
        self.data, self.fetched = data, 0
        self.event = Upload(filename=filename, size=len(data) if size == -1 else size,
                            mime=mime, caption=caption, fetch=self.fetch)

    def fetch(self) -> bytes:
        self.fetched += 1
        return self.data


def make_handbook(path: Path) -> Path:
    """A Word file with a title, two sections and numbered paragraphs on a new subject."""
    import docx

    document = docx.Document()
    document.core_properties.title = NEW_TITLE
    document.add_heading(NEW_TITLE, 0)
    document.add_heading("I. Vetting", 1)
    document.add_paragraph("1. Every partner must submit a notarised beneficial ownership "
                           "declaration before the first disbursement.")
    document.add_paragraph("2. Country offices keep the declaration for seven years.")
    document.add_heading("II. Review", 1)
    document.add_paragraph("3. The vetting committee meets every quarter to review the "
                           "declarations.")
    document.save(str(path))
    return path


def send(dialogue: Dialogue, sent: Sent, uid: int = ADMIN, **where: str) -> list[Reply]:
    who = User(id=uid, chat_id=uid, username=f"u{uid}", **where) if where else user(uid)
    return dialogue.handle(who, sent.event)


def audits(dialogue: Dialogue, action: str) -> list[dict[str, object]]:
    return [row["detail"] for row in dialogue.store.audit_log() if row["action"] == action]


def docs(dialogue: Dialogue) -> list[str]:
    return sorted(p.name for p in dialogue.settings.docs_dir.iterdir())


def uploads(dialogue: Dialogue) -> list[str]:
    root = dialogue.settings.data_dir / "uploads"
    return snapshot(root) if root.exists() else []


def data_of(replies: list[Reply], answer: str) -> str:
    return next(b.data for b in buttons(replies) if b.data.endswith(f":{answer}"))


# --------------------------------------------------------------------------- add


def test_docx_preview_add_reindex_and_answer_at_once(admin_dialogue: Dialogue,
                                                     tmp_path: Path) -> None:
    path = make_handbook(tmp_path / "vetting handbook.docx")
    sent = Sent(path.read_bytes(), path.name, caption="symbol: JIU/REP/2099/1")
    before = docs(admin_dialogue)
    preview = send(admin_dialogue, sent)
    assert sent.fetched == 1 and len(preview) == 1
    html = preview[0].html
    assert f"<b>Title:</b> {NEW_TITLE}" in html and "<b>Symbol:</b> JIU/REP/2099/1" in html
    assert "2 sections, 3 paragraphs (3 numbered)" in html
    assert "notarised beneficial ownership declaration" in html  # the first paragraph
    assert "<code>partner-vetting-handbook.md</code>" in html
    assert "title: …" in html  # the caption syntax is explained
    assert docs(admin_dialogue) == before  # nothing added before Add
    assert any(name.endswith("vetting handbook.docx") for name in uploads(admin_dialogue))
    yes = data_of(preview, "yes")
    assert yes.startswith("u:") and len(yes) <= 64

    progress: list[Reply] = []
    done = admin_dialogue.handle(user(ADMIN), Press(yes), notify=progress.append)
    assert len(progress) >= 3
    keys = {r.key for r in progress} | {r.key for r in done}
    assert len(keys) == 1 and None not in keys  # one message, edited in place
    assert not progress[0].edit and all(r.edit for r in progress[1:]) and done[0].edit
    assert "Adding <b>Partner Vetting Handbook</b>" in progress[0].html
    assert "✅ Added <b>Partner Vetting Handbook</b> (JIU/REP/2099/1)" in done[0].html
    assert "3 passages" in done[0].html

    added = admin_dialogue.settings.docs_dir / "partner-vetting-handbook.md"
    meta = front_matter(added.read_text(encoding="utf-8"))
    assert meta["symbol"] == "JIU/REP/2099/1" and meta["source"] == "vetting handbook.docx"
    assert uploads(admin_dialogue) == []  # the staged copy is gone
    assert audits(admin_dialogue, "upload_added")[0]["document"] == "partner-vetting-handbook"

    answer = admin_dialogue.handle(user(STAFF), Text(
        "Which declaration must a partner submit before the first disbursement?"))
    assert "JIU/REP/2099/1" in answer[0].html and "beneficial ownership" in answer[0].html

    again = admin_dialogue.handle(user(ADMIN), Press(yes))  # a second tap on Add
    assert again[0].html == texts.UPLOAD_STALE


@pytest.mark.parametrize(("name", "maker", "title", "symbol"), [
    ("review.pdf", lambda p: make_pdf(p).read_bytes(), PDF_TITLE, "A/77/999"),
    ("guide.html", lambda p: HTML_PAGE.encode(), "Due Diligence Guide", "none"),
    ("capacity.md", lambda p: MARKDOWN_WITH_FRONT_MATTER.encode(),
     "Guidance note: partner capacity assessments", "none"),
    ("notes.txt", lambda p: b"Screening notes\n\n1. Screen every partner.\n\n2. Keep records.\n",
     "notes", "none"),
])
def test_each_format_is_previewed(admin_dialogue: Dialogue, tmp_path: Path, name: str,
                                  maker: object, title: str, symbol: str) -> None:
    data = maker(tmp_path / name)  # type: ignore[operator]
    preview = send(admin_dialogue, Sent(data, name))
    html = preview[0].html
    assert f"<b>Title:</b> {title}" in html, html
    assert f"<b>Symbol:</b> {symbol}" in html
    assert "<b>First paragraph</b>" in html and "sections" in html
    assert [b.label for b in buttons(preview)] == [texts.UPLOAD_ADD, texts.CANCEL]
    assert admin_dialogue.store.pending(ADMIN, ADMIN, "upload")


def test_a_file_without_extension_is_typed_by_its_mime(admin_dialogue: Dialogue,
                                                       tmp_path: Path) -> None:
    data = make_pdf(tmp_path / "x.pdf").read_bytes()
    preview = send(admin_dialogue, Sent(data, "scan-2024", mime="application/pdf"))
    assert f"<b>Title:</b> {PDF_TITLE}" in preview[0].html


def test_restart_between_preview_and_add(admin_dialogue: Dialogue, tmp_path: Path,
                                         knowledge: Path) -> None:
    path = make_handbook(tmp_path / "handbook.docx")
    preview = send(admin_dialogue, Sent(path.read_bytes(), path.name))
    restarted = make(tmp_path, tmp_path / "var" / "index", knowledge)  # a new process
    done = restarted.handle(user(ADMIN), Press(data_of(preview, "yes")))
    assert "✅ Added" in done[0].html
    answer = restarted.handle(user(STAFF), Text("How long do country offices keep the "
                                                 "beneficial ownership declaration?"))
    assert NEW_TITLE in answer[0].html


# --------------------------------------------------------------------------- refusals


def test_staff_and_strangers_are_refused_without_a_download(admin_dialogue: Dialogue,
                                                            tmp_path: Path) -> None:
    sent = Sent(b"1. Some text.\n", "notes.txt")
    assert send(admin_dialogue, sent, STAFF)[0].html == texts.UPLOAD_ADMIN_ONLY
    assert "not on the list" in send(admin_dialogue, sent, STRANGER)[0].html
    assert sent.fetched == 0 and uploads(admin_dialogue) == []
    assert audits(admin_dialogue, "upload_refused")[0]["reason"] == "not_admin"
    logged = admin_dialogue.store.pending(STAFF, STAFF)
    assert logged == []


def test_groups_are_refused(admin_dialogue: Dialogue) -> None:
    sent = Sent(b"1. Some text.\n", "notes.txt")
    replies = send(admin_dialogue, sent, ADMIN, chat_type="group")
    assert replies[0].html == texts.UPLOAD_PRIVATE_ONLY and sent.fetched == 0


def test_too_large_is_refused_before_the_download(admin_dialogue: Dialogue) -> None:
    sent = Sent(b"x", "big.pdf", size=MAX_UPLOAD_BYTES + 1)
    replies = send(admin_dialogue, sent)
    assert "up to 20 MB" in replies[0].html and "Nothing was changed" in replies[0].html
    assert sent.fetched == 0
    unknown_size = Sent(b"1. text\n" * (MAX_UPLOAD_BYTES // 8 + 1), "big.txt", size=None)
    assert "up to 20 MB" in send(admin_dialogue, unknown_size)[0].html
    assert uploads(admin_dialogue) == []
    assert [a["reason"] for a in audits(admin_dialogue, "upload_refused")] == ["too_large"] * 2


@pytest.mark.parametrize(("name", "mime", "expected"), [
    ("budget.xlsx", "application/vnd.ms-excel", "<code>.xlsx</code> file"),
    ("old.doc", "application/msword", "<code>.doc</code>"),
    ("photo", "image/jpeg", "no extension"),
])
def test_unknown_types_are_refused_before_the_download(admin_dialogue: Dialogue, name: str,
                                                       mime: str, expected: str) -> None:
    sent = Sent(b"data", name, mime=mime)
    html = send(admin_dialogue, sent)[0].html
    assert expected in html and "Word (<code>.docx</code>)" in html
    assert sent.fetched == 0
    assert audits(admin_dialogue, "upload_refused")[0]["reason"] == "type"


def test_scanned_and_protected_pdfs_are_refused(admin_dialogue: Dialogue,
                                                tmp_path: Path) -> None:
    before = docs(admin_dialogue)
    scanned = make_scanned_pdf(tmp_path / "scan.pdf").read_bytes()
    html = send(admin_dialogue, Sent(scanned, "scan.pdf"))[0].html
    assert "scanned image" in html and "OCR" in html and "Nothing was changed" in html
    locked = make_encrypted_pdf(tmp_path / "locked.pdf", tmp_path).read_bytes()
    html = send(admin_dialogue, Sent(locked, "locked.pdf"))[0].html
    assert "password-protected" in html
    broken = send(admin_dialogue, Sent(b"%PDF-1.4 not really", "broken.pdf"))[0].html
    assert "could not be read as a PDF" in broken
    assert docs(admin_dialogue) == before and uploads(admin_dialogue) == []
    assert admin_dialogue.store.pending(ADMIN, ADMIN, "upload") == []
    reasons = [a["reason"] for a in audits(admin_dialogue, "upload_refused")]
    assert reasons == ["scanned", "protected", "conversion"]


def test_a_file_that_would_replace_a_document_is_refused(admin_dialogue: Dialogue) -> None:
    (admin_dialogue.settings.docs_dir / "screening-review.md").write_text(
        "---\ntitle: Screening review\nsymbol: A/99/123\norganization: O\ndate: 2026\n"
        "kind: report\nsource: notes-2026.txt\n---\n\n1. Partners are screened.\n",
        encoding="utf-8")
    before = {p.name: p.read_bytes() for p in admin_dialogue.settings.docs_dir.iterdir()}
    same_title = "# Screening review\n\n1. A new text under an old title.\n"
    html = send(admin_dialogue, Sent(same_title.encode(), "new-review.md"))[0].html
    assert "would replace the document <code>screening-review</code>" in html
    assert "same title" in html and "partnerbot add FILE" in html
    same_symbol = Sent(b"1. Another review.\n", "review.txt", caption="symbol: a/99/123")
    html = send(admin_dialogue, same_symbol)[0].html
    assert "same symbol" in html
    same_file = Sent(b"1. Another text.\n", "Notes-2026.txt",
                     caption="title: Something else")
    assert "a file of the same name" in send(admin_dialogue, same_file)[0].html
    after = {p.name: p.read_bytes() for p in admin_dialogue.settings.docs_dir.iterdir()}
    assert after == before and uploads(admin_dialogue) == []
    assert [a["reason"] for a in audits(admin_dialogue, "upload_refused")] == ["replaces"] * 3


def test_a_document_added_meanwhile_is_not_replaced_on_add(admin_dialogue: Dialogue,
                                                           tmp_path: Path) -> None:
    path = make_handbook(tmp_path / "handbook.docx")
    preview = send(admin_dialogue, Sent(path.read_bytes(), path.name))
    other = admin_dialogue.settings.docs_dir / "partner-vetting-handbook.md"
    other.write_text("written on the server\n", encoding="utf-8")
    done = admin_dialogue.handle(user(ADMIN), Press(data_of(preview, "yes")))
    assert "would replace the document" in done[0].html
    assert other.read_text(encoding="utf-8") == "written on the server\n"
    assert uploads(admin_dialogue) == []


def test_bad_caption_and_failed_download(admin_dialogue: Dialogue) -> None:
    sent = Sent(b"1. text\n", "notes.txt", caption="title: Notes\nplease add this")
    html = send(admin_dialogue, sent)[0].html
    assert "<code>please add this</code>" in html and sent.fetched == 0

    def fail() -> bytes:
        raise Problem("Telegram did not send the file (timed out).")

    failing = Upload("notes.txt", 10, "text/plain", "", fail)
    html = admin_dialogue.handle(user(ADMIN), failing)[0].html
    assert "could not download" in html and "timed out" in html
    bad_date = Sent(b"1. text\n", "notes.txt", caption="date: last week")
    html = send(admin_dialogue, bad_date)[0].html
    assert "the caption's date 'last week' is not a valid date" in html
    assert "--" not in html


# --------------------------------------------------------------------------- buttons, /cancel


def test_forged_and_stale_presses(admin_dialogue: Dialogue, tmp_path: Path) -> None:
    path = make_handbook(tmp_path / "handbook.docx")
    preview = send(admin_dialogue, Sent(path.read_bytes(), path.name))
    yes = data_of(preview, "yes")
    assert admin_dialogue.handle(user(ADMIN), Press("u:0123456789ab:yes"))[0].html \
        == texts.UPLOAD_STALE
    assert admin_dialogue.handle(user(ADMIN), Press("u:../../etc:yes"))[0].html \
        == texts.STALE_BUTTON
    assert admin_dialogue.handle(user(ADMIN), Press(yes[:-3] + "maybe"))[0].html \
        == texts.STALE_BUTTON
    assert admin_dialogue.handle(user(STAFF), Press(yes))[0].html == texts.UPLOAD_ADMIN_ONLY
    assert "partner-vetting-handbook.md" not in docs(admin_dialogue)
    assert admin_dialogue.store.pending(ADMIN, ADMIN, "upload")  # still waiting
    # a newer file replaces the one waiting: the old buttons are stale, its copy removed
    newer = send(admin_dialogue, Sent(b"Notes\n\n1. Screen partners.\n", "notes.txt"))
    assert admin_dialogue.handle(user(ADMIN), Press(yes))[0].html == texts.UPLOAD_STALE
    assert not any("handbook" in name for name in uploads(admin_dialogue))
    dropped = admin_dialogue.handle(user(ADMIN), Press(data_of(newer, "no")))
    assert dropped[0].html == texts.UPLOAD_DROPPED.format(name="notes.txt") and dropped[0].edit
    assert uploads(admin_dialogue) == [] and "notes.md" not in docs(admin_dialogue)
    assert audits(admin_dialogue, "upload_cancelled") == [{"file": "notes.txt"}]


def test_cancel_drops_the_waiting_file(admin_dialogue: Dialogue, tmp_path: Path) -> None:
    path = make_handbook(tmp_path / "handbook.docx")
    preview = send(admin_dialogue, Sent(path.read_bytes(), path.name))
    cancelled = admin_dialogue.handle(user(ADMIN), Command("cancel"))
    assert cancelled[0].html == texts.CANCELLED.format(
        what=texts.UPLOAD_CANCELLED_WHAT.format(name="handbook.docx"))
    assert uploads(admin_dialogue) == []
    assert admin_dialogue.handle(user(ADMIN), Press(data_of(preview, "yes")))[0].html \
        == texts.UPLOAD_STALE
    assert admin_dialogue.handle(user(ADMIN), Command("cancel"))[0].html \
        == texts.NOTHING_TO_CANCEL


def test_uploads_are_logged_as_documents(admin_dialogue: Dialogue) -> None:
    send(admin_dialogue, Sent(b"1. text\n", "notes.txt"), STAFF)
    import sqlite_utils

    rows = list(sqlite_utils.Database(admin_dialogue.settings.db_path)["messages"].rows)
    assert (rows[0]["direction"], rows[0]["kind"], rows[0]["text"]) == ("in", "document",
                                                                       "notes.txt")


# --------------------------------------------------------------------------- /reindex, parts


def test_reindex_progress_is_one_message_edited_in_place(admin_dialogue: Dialogue) -> None:
    progress: list[Reply] = []
    done = admin_dialogue.handle(user(ADMIN), Command("reindex"), notify=progress.append)
    assert progress[0].html == texts.REINDEX_STARTED and not progress[0].edit
    assert len(progress) >= 3 and all(r.edit for r in progress[1:])
    assert {r.key for r in [*progress, *done]} == {progress[0].key}
    assert progress[0].key and progress[0].key.startswith("reindex:")
    assert done[0].edit and "Re-index finished" in done[0].html
    second: list[Reply] = []
    admin_dialogue.handle(user(ADMIN), Command("reindex"), notify=second.append)
    assert second[0].key != progress[0].key  # a key per operation


def test_caption_syntax() -> None:
    assert parse_caption("") == {}
    assert parse_caption("JIU/REP/2023/1") == {"symbol": "JIU/REP/2023/1"}
    assert parse_caption("  Partner   policy ") == {"title": "Partner policy"}
    assert parse_caption("Guidance note: partners") == {"title": "Guidance note: partners"}
    assert parse_caption("Symbol: A/80/1\ntitle: A title: with colon\nOrganisation = UNDP") == {
        "title": "A title: with colon", "symbol": "A/80/1", "organization": "UNDP"}


def test_file_names_stay_inside_the_staging_directory() -> None:
    assert safe_name("../../etc/passwd.md", None) == "passwd.md"
    assert safe_name("..\\..\\x.txt", None) == "x.txt"
    assert safe_name(".hidden.md", None) == "hidden.md"
    assert safe_name("a\x00b\n.pdf", None) == "ab.pdf"
    assert safe_name("", "application/pdf") == "document.pdf"
    assert safe_name("report", "application/pdf") == "report.pdf"
