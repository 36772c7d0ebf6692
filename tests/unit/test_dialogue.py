"""The dialogue engine with real SQLite and a real index (hashing embedder for speed)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from bot import render, texts
from bot.answers import answer_question
from bot.app import build_dialogue
from bot.dialogue.engine import Dialogue
from bot.settings import Settings
from bot.store import RunChanged
from bot.tg.html import MAX_MESSAGE, split_message
from bot.types import Button, Command, Press, Reply, Text, Unsupported, User
from index.embedders import HashingEmbedder

ADMIN, STAFF, TRAINER, STAFF2, TRAINER2, STRANGER = 1, 2, 3, 8, 7, 99


def make(tmp_path: Path, index_dir: Path, knowledge: Path) -> Dialogue:
    """The real wiring (bot/app.py) on a data directory of its own, with the hashing embedder
    over `index_dir` (linked in when it lives elsewhere)."""
    data = tmp_path / "var"
    data.mkdir(exist_ok=True)
    if index_dir != data / "index" and not (data / "index").exists():
        (data / "index").symlink_to(index_dir, target_is_directory=True)
    settings = Settings(data_dir=data, knowledge_dir=knowledge, threshold=0.2,
                        admins=str(ADMIN), allowed_users=f"{STAFF},{TRAINER},{STAFF2}")
    dialogue = build_dialogue(settings, embedder=HashingEmbedder(), prefetch=False)
    dialogue.store.set_role(TRAINER, "trainer", by="test")
    dialogue.store.set_role(TRAINER2, "trainer", by="test")
    return dialogue


@pytest.fixture()
def dialogue(tmp_path: Path, hashed_index: Path, knowledge: Path) -> Dialogue:
    return make(tmp_path, hashed_index, knowledge)


def user(uid: int = STAFF) -> User:
    return User(id=uid, chat_id=uid, username=f"u{uid}", first_name="Test")


def db(dialogue: Dialogue) -> sqlite_utils.Database:
    return sqlite_utils.Database(dialogue.settings.db_path)


def buttons(replies: list[Reply]) -> list[Button]:
    return [b for r in replies for row in r.buttons for b in row]


def press(dialogue: Dialogue, label_start: str, replies: list[Reply], uid: int = STAFF
          ) -> list[Reply]:
    button = next(b for b in buttons(replies) if b.label.startswith(label_start))
    return dialogue.handle(user(uid), Press(button.data))


def test_question_is_answered_cited_and_logged(dialogue: Dialogue) -> None:
    replies = dialogue.handle(user(),
                              Text("Should implementing partners use the UN Partner Portal?"))
    assert len(replies) == 1
    assert "Sources" in replies[0].html and "A/77/257" in replies[0].html
    data = [b.data for b in buttons(replies)]
    assert data[0].startswith("p:") and data[-1].endswith(":-1")
    rows = db(dialogue)
    answer = next(iter(rows["answers"].rows))
    assert answer["grounded"] == 1 and answer["index_version"]
    assert rows["answer_passages"].count == len([d for d in data if d.startswith("p:")])
    logged = [(r["direction"], r["kind"]) for r in rows["messages"].rows]
    assert logged == [("in", "text"), ("out", "text")]  # the question, then the answer
    assert rows.execute("select count(*) from messages").fetchone()[0] == 2


def test_passage_button_shows_the_full_passage(dialogue: Dialogue) -> None:
    replies = dialogue.handle(user(), Text("What is the UN Partner Portal used for?"))
    shown = press(dialogue, "Show passage 1", replies)
    chunk_id = buttons(replies)[0].data[2:]
    chunk = dialogue.searcher.current().by_id(chunk_id)
    assert chunk is not None and render.esc(chunk.text) in shown[0].html


def test_negative_feedback_asks_for_a_comment_as_a_reply_and_keeps_it(
        dialogue: Dialogue) -> None:
    replies = dialogue.handle(user(), Text("How are partners screened?"))
    answer_key = replies[0].key
    assert answer_key is not None and answer_key.startswith("answer:")
    marked, asked = press(dialogue, texts.NOT_HELPFUL, replies)
    assert marked.edit and not marked.html and marked.notice == texts.FEEDBACK_THANKS
    assert [b.label for b in marked.buttons[-1]] == [
        texts.HELPFUL, texts.VOTED.format(label=texts.NOT_HELPFUL)]  # the vote shows
    assert asked.html == texts.FEEDBACK_ASK_COMMENT and asked.force_reply
    # a question typed instead of a reply is answered, never swallowed as the comment
    question = dialogue.handle(user(), Text("What is the UN Partner Portal?"))
    assert "<b>Sources</b>" in question[0].html
    assert db(dialogue)["feedback"].count == 1
    assert next(iter(db(dialogue)["feedback"].rows))["comment"] is None
    saved = dialogue.handle(user(), Text("It missed the Global Compact point",
                                         reply_key=asked.key))
    assert saved[0].html == texts.FEEDBACK_COMMENT_SAVED
    row = next(iter(db(dialogue)["feedback"].rows))
    assert (row["value"], row["comment"]) == (-1, "It missed the Global Compact point")
    again = dialogue.handle(user(), Text("one more thing", reply_key=asked.key))
    assert again[0].html == texts.COMMENT_CLOSED  # the prompt was answered
    up = press(dialogue, texts.HELPFUL, replies)  # a later vote keeps the comment
    assert [b.label for b in up[0].buttons[-1]] == [
        texts.VOTED.format(label=texts.HELPFUL), texts.NOT_HELPFUL]
    row = next(iter(db(dialogue)["feedback"].rows))
    assert (row["value"], row["comment"]) == (1, "It missed the Global Compact point")


@pytest.mark.parametrize("data", ["", "zzz", "f:999:1", "f:abc:1", "f:1:7", "p:nope",
                                  "c:1:q:a0", "c:x", "n:5", "x" * 64])
def test_forged_or_stale_buttons_get_a_clear_message(dialogue: Dialogue, data: str) -> None:
    replies = dialogue.handle(user(), Press(data))
    assert [(r.html, r.notice) for r in replies] == [(texts.STALE_BUTTON, texts.STALE_BUTTON)]


def test_a_mistyped_command_is_told_the_one_it_likely_meant(dialogue: Dialogue) -> None:
    said = dialogue.handle(user(), Command("checklists"))[0].html
    assert said == texts.UNKNOWN_COMMAND_MEANT.format(command="checklists", meant="checklist")
    assert "/sources" in dialogue.handle(user(), Command("Sourses"))[0].html
    # only a command the user may use is suggested; nothing close: /help alone
    assert "/stats" not in dialogue.handle(user(STAFF), Command("stat"))[0].html
    assert "/stats" in dialogue.handle(user(ADMIN), Command("stat"))[0].html
    assert dialogue.handle(user(), Command("xyzzy"))[0].html == texts.UNKNOWN_COMMAND.format(
        command="xyzzy")


def test_a_start_button_for_an_unknown_checklist_says_so(dialogue: Dialogue) -> None:
    replies = dialogue.handle(user(), Press("s:no-such-checklist"))
    assert [r.html for r in replies] == [texts.CHECKLIST_UNKNOWN.format(id="no-such-checklist")]


def test_feedback_on_another_users_answer_is_refused(dialogue: Dialogue) -> None:
    replies = dialogue.handle(user(STAFF), Text("How are partners screened?"))
    stolen = press(dialogue, texts.HELPFUL, replies, uid=TRAINER)
    assert stolen[0].html == texts.STALE_BUTTON
    assert db(dialogue)["feedback"].count == 0


def test_unknown_user_gets_their_id_and_is_logged(dialogue: Dialogue) -> None:
    replies = dialogue.handle(user(STRANGER), Text("hello"))
    assert f"<code>{STRANGER}</code>" in replies[0].html
    assert db(dialogue).execute("select count(*) from messages where user_id = ?",
                                [STRANGER]).fetchone()[0] == 2


def test_role_checks_happen_on_the_server(dialogue: Dialogue) -> None:
    assert dialogue.handle(user(STAFF), Command("cohort", "x"))[0].html == (
        texts.TRAINER_ONLY.format(command="cohort"))
    assert "not one of yours" in dialogue.handle(user(TRAINER), Command("cohort", "x"))[0].html


def test_non_text_messages_are_logged_with_their_type(dialogue: Dialogue) -> None:
    replies = dialogue.handle(user(), Unsupported("photo", {"photo": [{"file_id": "a"}]}))
    assert replies[0].html == texts.UNSUPPORTED.format(kind="photo")
    edited = dialogue.handle(user(), Unsupported("edited_message"))
    assert edited[0].html == texts.EDITED
    kinds = [r["kind"] for r in db(dialogue)["messages"].rows_where("kind != 'reply'")]
    assert "photo" in kinds and "edited_message" in kinds


def test_follow_up_is_searched_with_the_previous_question(dialogue: Dialogue) -> None:
    dialogue.handle(user(), Text("What training should staff get on implementing partners?"))
    replies = dialogue.handle(user(), Text("and on fraud?"))
    assert "Read together with your previous question" in replies[0].html
    last = db(dialogue).execute("select query from answers order by id desc").fetchone()[0]
    assert last.startswith("What training should staff get") and last.endswith("and on fraud?")


def test_thanks_before_a_follow_up_keeps_it_a_follow_up(dialogue: Dialogue) -> None:
    dialogue.handle(user(), Text("What training should staff get on implementing partners?"))
    dialogue.handle(user(), Text("thanks! and on fraud?"))
    last = db(dialogue).execute("select query from answers order by id desc").fetchone()[0]
    assert last == "What training should staff get on implementing partners? and on fraud?"


def test_a_locked_database_still_answers_and_alerts_admins(dialogue: Dialogue) -> None:
    dialogue.store.timeout = 0.1
    dialogue.handle(user(), Text("warm up"))  # creates the file and schema
    dialogue.store.close()
    dialogue.store.timeout = 0.1
    blocker = sqlite3.connect(dialogue.settings.db_path)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        replies = dialogue.handle(user(), Text("How are partners screened?"))
    finally:
        blocker.rollback()
        blocker.close()
    answer = render.answer_message(answer_question(
        "How are partners screened?", dialogue.searcher, threshold=dialogue.settings.threshold))
    assert replies[0].html == answer  # the answer went out, without feedback buttons (no row)
    assert not any(b.data.startswith("f:") for b in buttons(replies[:1]))
    alerts = [r for r in replies if r.to == ADMIN]
    assert len(alerts) == 1 and "could not be written" in alerts[0].html


# ---- checklists ---------------------------------------------------------------------------


def begin(dialogue: Dialogue, payload: str, uid: int = STAFF,
          partner: str | None = "Acme Relief") -> list[Reply]:
    """Start a run by deep link and name its partner (or go on without); the first question."""
    started = dialogue.handle(user(uid), Command("start", payload))
    assert started[-1].key and started[-1].key.startswith("partner:")
    if partner is None:
        return press(dialogue, texts.PARTNER_SKIP, started, uid)
    named = dialogue.handle(user(uid), Text(partner))
    assert named[0].edit and named[0].html == texts.PARTNER_NAMED.format(partner=partner)
    return named


def answer_everything(dialogue: Dialogue, replies: list[Reply], uid: int = STAFF,
                      limit: int = 40) -> list[Reply]:
    """Answer each question with its first option (ticking one for multi), numbers with 10."""
    for _ in range(limit):
        if any("Result:" in r.html for r in replies):
            return replies
        question = replies[-1]
        data = [b.data for b in buttons([question])]
        options = [d for d in data if d.rsplit(":", 1)[1].startswith(("a", "m"))]
        options = [d for d in options if d.rsplit(":", 1)[1][1:].isdigit()]
        if options and options[0].endswith(":m0"):
            dialogue.handle(user(uid), Press(options[0]))
            replies = dialogue.handle(user(uid), Press(next(d for d in data
                                                            if d.endswith(":done"))))
        elif options:
            pick = options[1] if "ruled out" in buttons([question])[0].label else options[0]
            replies = dialogue.handle(user(uid), Press(pick))
        elif "Type a number" in question.html:
            replies = dialogue.handle(user(uid), Text("10"))
        else:
            replies = dialogue.handle(user(uid), Text("A free-text note for the file."))
    raise AssertionError("the checklist did not finish")


def test_a_checklist_completes_through_buttons_with_a_report(dialogue: Dialogue) -> None:
    menu = dialogue.handle(user(), Command("checklist"))
    asked = press(dialogue, "Selecting an implementing partner", menu)
    assert asked[-1].html == texts.PARTNER_ASK
    started = dialogue.handle(user(), Text("Acme Relief"))
    assert "question 1 of about" in started[-1].html
    final = answer_everything(dialogue, started)
    result = next(r for r in final if "Result:" in r.html)
    assert "Required actions" in result.html and "A/77/257" in result.html
    files = [r.attachment.filename for r in final if r.attachment]
    assert files == ["implementing-partner-selection-run-1.md",
                     "implementing-partner-selection-run-1.csv"]
    run = next(iter(db(dialogue)["runs"].rows))
    assert run["status"] == "completed" and run["rating"] and run["version"] == "2.0"
    assert json.loads(run["state"])["partner"] == "Acme Relief"
    assert "Acme Relief" in result.html
    assert db(dialogue)["run_answers"].count >= 10
    listed = dialogue.handle(user(), Command("runs"))
    assert "Run 1: Selecting an implementing partner" in listed[0].html
    again = press(dialogue, texts.RUNS_REPORT.format(id=1), listed)
    assert [r.attachment.filename for r in again if r.attachment] == files


def test_gate_stops_the_run_early(dialogue: Dialogue) -> None:
    started = begin(dialogue, "checklist-implementing-partner-selection")
    final = press(dialogue, "Yes, the partner is ruled out", started)
    assert final[0].edit and "✔" in final[0].html  # the question shows the choice
    assert "Result: Excluded" in final[1].html
    assert "Score" not in final[0].html


def test_run_survives_a_restart_and_keeps_its_version(tmp_path: Path, hashed_index: Path,
                                                      knowledge: Path) -> None:
    first = make(tmp_path, hashed_index, knowledge)
    started = begin(first, "checklist-implementing-partner-selection", partner=None)
    second_question = press(first, "No", started)
    assert "standard operating procedures" in second_question[-1].html
    path = knowledge / "checklists" / "implementing-partner-selection.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "standard operating procedures?", "SOPs (edited)?"), encoding="utf-8")
    restarted = make(tmp_path, hashed_index, knowledge)  # a new process on the same database
    menu = restarted.handle(user(), Command("checklist"))
    resumed = press(restarted, texts.RESUME, menu)
    assert "standard operating procedures" in resumed[-1].html  # the version it started with
    stale = restarted.handle(user(), Press(buttons(started)[0].data))
    assert stale[0].notice == texts.OLD_QUESTION


def test_text_during_a_run_is_an_answer_or_a_question(dialogue: Dialogue) -> None:
    started = begin(dialogue, "checklist-implementing-partner-selection")
    typed = dialogue.handle(user(), Text("What does the guidance say about capacity assessment?"))
    assert "<b>Sources</b>" in typed[0].html  # answered as a question
    assert typed[1].html == texts.RUN_GOES_ON
    assert typed[2].edit and typed[2].html.endswith(texts.ASKED_BELOW)  # the old copy
    assert "rule this partner out" in typed[3].html and typed[3].buttons  # asked again
    assert "no option" not in " ".join(r.html for r in typed).lower()
    maybe = dialogue.handle(user(), Text("maybe"))  # names no option: a question too
    assert maybe[-1].key == started[-1].key and "rule this partner out" in maybe[-1].html
    answered = dialogue.handle(user(), Text("no"))  # an option's label, typed
    assert answered[0].edit and "✔ <b>No</b>" in answered[0].html
    replies = dialogue.handle(user(), Text("1"))  # an option's number
    assert "✔" in replies[0].html
    replies = press(dialogue, "A local", replies)
    too_small = dialogue.handle(user(), Text("-5"))
    assert "at least 0" in too_small[0].html
    assert "Type a number" in too_small[-1].html  # and asked again
    lots = dialogue.handle(user(), Text("lots of them"))  # not a number: not an answer
    assert "Type a number" in lots[-1].html and "not a number" not in lots[0].html
    for reply in (*typed, *maybe, *answered, *too_small, *lots):
        assert "not_done" not in reply.html and "adequate," not in reply.html  # no codes


def test_a_double_tap_answers_once(dialogue: Dialogue) -> None:
    started = begin(dialogue, "checklist-implementing-partner-selection")
    no = next(b for b in buttons(started) if b.label == "No")
    first = dialogue.handle(user(), Press(no.data))
    second = dialogue.handle(user(), Press(no.data))
    assert "✔" in first[0].html and len(first) == 2
    assert [(r.html, r.notice) for r in second] == [("", texts.OLD_QUESTION)]
    rows = list(db(dialogue)["run_answers"].rows)
    assert len(rows) == 1
    run = next(iter(db(dialogue)["runs"].rows))
    assert run["revision"] == 2  # the partner, then one answer


def test_a_save_checks_the_revision_it_read(dialogue: Dialogue) -> None:
    started = begin(dialogue, "checklist-implementing-partner-selection")
    row = dialogue.store.run(1)
    assert row is not None
    dialogue.store.save_run(1, state=row["state"], status="in_progress",
                            revision=row["revision"])  # another worker saved meanwhile
    with pytest.raises(RunChanged):
        dialogue.store.save_run(1, state=row["state"], status="in_progress",
                                revision=row["revision"])
    assert started  # the flow turns it into a notice (test_a_double_tap_answers_once)


def test_none_of_these_is_ticked_alone(dialogue: Dialogue) -> None:
    replies = begin(dialogue, "checklist-partnership-design")

    def ticks(replies: list[Reply]) -> dict[str, bool]:
        return {b.label[2:].strip(): b.label.startswith("✅") for b in buttons(replies)
                if b.label.startswith(("✅", "▫️"))}

    for _ in range(30):
        if any(label.lower().startswith("none") for label in ticks(replies)):
            break
        options = [b for b in buttons(replies) if b.data.rsplit(":", 1)[1][:1] in "am"]
        if any(b.data.endswith(":m0") for b in options):
            dialogue.handle(user(), Press(options[0].data))
            replies = press(dialogue, texts.DONE, replies)
        elif options:
            replies = dialogue.handle(user(), Press(options[0].data))
        else:
            replies = dialogue.handle(user(), Text("10"))
    else:
        raise AssertionError("no multi question with a 'none' option")
    boxes = [b for b in buttons(replies) if b.label.startswith("▫️")]
    none = next(b for b in boxes if b.label[2:].strip().lower().startswith("none"))
    other = next(b for b in boxes if b is not none)
    name, other_name = none.label[2:].strip(), other.label[2:].strip()
    dialogue.handle(user(), Press(other.data))
    shown = ticks(dialogue.handle(user(), Press(none.data)))
    assert shown[name] and not shown[other_name]  # "none" unticks the others
    shown = ticks(dialogue.handle(user(), Press(other.data)))
    assert shown[other_name] and not shown[name]  # and any other unticks "none"
    typed = dialogue.handle(user(), Text(f"{other_name}, {name}"))
    assert "cannot be combined" in typed[0].html


def test_another_users_run_buttons_are_refused(dialogue: Dialogue) -> None:
    started = begin(dialogue, "checklist-implementing-partner-selection")
    other = dialogue.handle(user(TRAINER), Press(buttons(started)[0].data))
    assert other[0].html == texts.STALE_BUTTON


def test_second_run_asks_before_abandoning_the_first(dialogue: Dialogue) -> None:
    dialogue.handle(user(), Command("start", "checklist-implementing-partner-selection"))
    conflict = dialogue.handle(user(), Command("start", "checklist-partnership-design"))
    assert "already have a run" in conflict[0].html
    started = press(dialogue, texts.ABANDON_AND_START, conflict)
    assert "Designing and managing a partnership" in started[0].html
    assert started[-1].html == texts.PARTNER_ASK
    statuses = [r["status"] for r in db(dialogue)["runs"].rows]
    assert statuses == ["abandoned", "in_progress"]


def test_training_mode_explains_each_answer_and_tags_the_cohort(dialogue: Dialogue) -> None:
    link = dialogue.handle(user(TRAINER), Command(
        "training", "implementing-partner-selection geneva-2026"))
    assert "/start training-implementing-partner-selection_geneva-2026" in link[0].html
    started = dialogue.handle(user(STAFF2), Command(
        "start", "training-implementing-partner-selection_geneva-2026"))
    assert "Training mode" in started[0].html and started[1].html == texts.PARTNER_ASK_TRAINING
    after = press(dialogue, texts.PARTNER_SKIP, started, uid=STAFF2)
    after = press(dialogue, "No", after, uid=STAFF2)
    after = press(dialogue, "Yes", after, uid=STAFF2)
    assert after[1].html.startswith("🎓") and "Source:" in after[1].html
    run = next(iter(db(dialogue)["runs"].rows))
    assert (run["training"], run["cohort"]) == (1, "geneva-2026")
    summary = dialogue.handle(user(TRAINER), Command("cohort", "geneva-2026"))
    assert "1 runs" in summary[0].html and "standard operating procedures" in summary[0].html
    listed = dialogue.handle(user(TRAINER), Command("cohort"))
    assert "geneva-2026" in listed[0].html and "1 runs" in listed[0].html


def test_trainers_see_their_own_cohorts_and_tags_are_checked(dialogue: Dialogue) -> None:
    dialogue.handle(user(TRAINER), Command("training", "partnership-design mine-1"))
    other = dialogue.handle(user(TRAINER2), Command("cohort", "mine-1"))
    assert "not one of yours" in other[0].html
    taken = dialogue.handle(user(TRAINER2), Command("training", "partnership-design mine-1"))
    assert taken[0].html == texts.COHORT_TAKEN.format(tag="mine-1")
    assert "No runs yet" in dialogue.handle(user(ADMIN), Command("cohort", "mine-1"))[0].html
    for bad in ("a b", "geneva_2026", "x" * 60, "é"):
        refused = dialogue.handle(user(TRAINER), Command("training", f"partnership-design {bad}"))
        assert any(why in refused[0].html for why in (
            "not a cohort tag", "Send /training", "at most 53")), bad
    forged = dialogue.handle(user(STAFF), Command("start",
                                                  "training-partnership-design_bad tag!"))
    assert "not a cohort tag" in forged[0].html


def test_broken_checklist_is_reported_and_the_others_work(dialogue: Dialogue,
                                                          knowledge: Path) -> None:
    (knowledge / "checklists" / "broken.yaml").write_text("id: broken\nversion: 1\nbogus: x\n",
                                                         encoding="utf-8")
    menu = dialogue.handle(user(), Command("checklist"))
    assert "could not be loaded" in menu[0].html and "broken.yaml" in menu[0].html
    assert len(buttons(menu)) == 3
    refused = dialogue.handle(user(), Command("start", "checklist-broken"))
    assert "its file is broken" in refused[0].html


def test_cancel_cancels_what_is_pending_and_never_the_run(dialogue: Dialogue) -> None:
    started = begin(dialogue, "checklist-partnership-design")
    note = press(dialogue, texts.NOTE, started)
    assert note[0].html == texts.NOTE_ASK and note[0].force_reply
    cancelled = dialogue.handle(user(), Command("cancel"))
    assert cancelled[0].html == texts.CANCELLED.format(what=texts.CANCELLED_NOTE)
    assert next(iter(db(dialogue)["runs"].rows))["status"] == "in_progress"
    assert dialogue.handle(user(), Command("cancel"))[0].html == texts.NOTHING_TO_CANCEL_RUN
    asked = press(dialogue, texts.CANCEL, started)  # stopping the run is its own choice
    assert next(iter(db(dialogue)["runs"].rows))["status"] == "in_progress"
    kept = press(dialogue, texts.STOP_NO, asked)
    assert kept[0].html == texts.STOP_KEPT
    asked = press(dialogue, texts.CANCEL, started)
    stopped = press(dialogue, texts.STOP_YES, asked)
    assert stopped[0].html == texts.RUN_ABANDONED_MSG
    assert next(iter(db(dialogue)["runs"].rows))["status"] == "abandoned"
    assert dialogue.handle(user(), Command("cancel"))[0].html == texts.NOTHING_TO_CANCEL


def test_pending_state_survives_a_restart(tmp_path: Path, hashed_index: Path,
                                          knowledge: Path) -> None:
    first = make(tmp_path, hashed_index, knowledge)
    replies = first.handle(user(), Text("How are partners screened?"))
    asked = press(first, texts.NOT_HELPFUL, replies)[-1]
    restarted = make(tmp_path, hashed_index, knowledge)  # a new process on the same database
    saved = restarted.handle(user(), Text("It missed the point", reply_key=asked.key))
    assert saved[0].html == texts.FEEDBACK_COMMENT_SAVED
    assert next(iter(db(restarted)["feedback"].rows))["comment"] == "It missed the point"


def test_split_messages_never_cut_tags_or_entities() -> None:
    link = '<a href="https://example.org/?a=1&amp;b=2">link</a> '
    message = "<b>Heading</b>\n" + "&amp;" * 1500 + "\n<i>" + link * 60 + "</i>"
    pieces = split_message(message)
    assert len(pieces) > 1 and all(len(p) <= MAX_MESSAGE for p in pieces)
    for piece in pieces:
        assert not re.search(r"&[a-z]*$", piece) and not re.search(r"^[a-z]*;", piece)
        assert piece.count("<i>") == piece.count("</i>")
        assert piece.count("<a ") == piece.count("</a>")
    assert "".join(pieces).count("&amp;") == message.count("&amp;")
