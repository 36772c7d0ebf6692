"""Checklists in the dialogue: list, start (also by deep link), one question per message,
Why? / Back / Skip / Note / Cancel, resume after a restart, and the report at the end.

Run state lives in the session log (SQLite), with the checklist snapshot it started on, so
a run survives restarts and keeps its version when the file changes.

Callback data (at most 64 bytes):
    s:<checklist id>                    start a run
    n:<old run id>                      abandon the old run and start the pending one
    c:<run id>:<question id>:<action>   act on the current question of a run
        actions: a<i> answer option i, m<i> toggle multi option i, done, why, back, skip,
        note, stop
    c:<run id>:-:resume                 show the current question again
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import runs, texts
from bot.checklists import Checklist, Cite, LoadResult, Question, checklist_from_dict
from bot.checklists import load_checklists as load_files
from bot.dialogue import Attachment, Button, Dialogue, Notify, Reply, User
from bot.reports import answer_label, csv_report, markdown_report


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class ChecklistFlow:
    """The checklist part of the dialogue; registered as dialogue extensions."""

    directory: Path
    _pending_start: dict[int, tuple[str, bool, str | None]] = field(default_factory=dict)
    _awaiting_note: dict[int, int] = field(default_factory=dict)
    _selection: dict[str, set[int]] = field(default_factory=dict)  # "run:question" -> options

    # ---- loading -------------------------------------------------------------------------

    def load(self, dialogue: Dialogue) -> LoadResult:
        """Every checklist file, citations checked against the live index when it loads."""
        try:
            index = dialogue.searcher.current()
            has_passage = lambda doc, loc: index.find(doc, loc) is not None  # noqa: E731
        except Exception:  # no index: citations are checked at the next load
            has_passage = None
        return load_files(self.directory, has_passage=has_passage)

    def install(self, dialogue: Dialogue) -> None:
        ext = dialogue.extensions
        ext["/checklist"] = self.menu
        ext["/cohort"] = self.cohort
        dialogue.command_roles["cohort"] = "trainer"
        ext["start_payload"] = self.deep_link
        ext["checklist_text"] = self.text
        ext["cancel"] = self.cancel
        ext["press:s"] = self.press_start
        ext["press:n"] = self.press_replace
        ext["press:c"] = self.press_run

    # ---- entry points --------------------------------------------------------------------

    def menu(self, dialogue: Dialogue, user: User, args: str, notify: Notify | None = None
             ) -> list[Reply]:
        """`/checklist`: the checklists as buttons, and the run in progress if any."""
        loaded = self.load(dialogue)
        rows = [(Button(c.title, f"s:{c.id}"),) for c in loaded.checklists.values()]
        html = texts.CHECKLIST_MENU if rows else texts.CHECKLIST_NONE
        if loaded.errors:
            html += texts.CHECKLIST_BROKEN.format(
                count=len(loaded.errors), first=texts.esc(loaded.errors[0]))
        active = dialogue.sessions.active_run(user.id)
        if active:
            html += texts.CHECKLIST_ACTIVE.format(title=texts.esc(
                active["snapshot"].get("title", active["checklist_id"])))
            rows.insert(0, (Button(texts.RESUME, f"c:{active['id']}:-:resume"),))
        return [Reply(html, tuple(rows))]

    def deep_link(self, dialogue: Dialogue, user: User, payload: str) -> list[Reply]:
        """`/start checklist-<id>` or `/start training-<id>[_<cohort>]`."""
        kind, _, rest = payload.partition("-")
        checklist_id, _, cohort = rest.partition("_")
        if kind not in ("checklist", "training") or not checklist_id:
            return [Reply(texts.WELCOME)]
        return self.begin(dialogue, user, checklist_id, training=kind == "training",
                          cohort=cohort or None)

    def press_start(self, dialogue: Dialogue, user: User, rest: str) -> list[Reply]:
        return self.begin(dialogue, user, rest, training=False, cohort=None)

    def press_replace(self, dialogue: Dialogue, user: User, rest: str) -> list[Reply]:
        pending = self._pending_start.pop(user.id, None)
        active = dialogue.sessions.active_run(user.id)
        if pending is None or active is None or str(active["id"]) != rest:
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        self._abandon(dialogue, active)
        checklist_id, training, cohort = pending
        return self.begin(dialogue, user, checklist_id, training=training, cohort=cohort)

    def begin(self, dialogue: Dialogue, user: User, checklist_id: str, *, training: bool,
              cohort: str | None) -> list[Reply]:
        """Start a run, or ask first when another run is in progress."""
        loaded = self.load(dialogue)
        checklist = loaded.checklists.get(checklist_id)
        if checklist is None:
            broken = [e for e in loaded.errors
                      if Path(e.split(":", 1)[0]).name == f"{checklist_id}.yaml"]
            if broken:
                return [Reply(texts.CHECKLIST_UNUSABLE.format(
                    id=texts.esc(checklist_id), reason=texts.esc(broken[0])))]
            return [Reply(texts.CHECKLIST_UNKNOWN.format(id=texts.esc(checklist_id)))]
        active = dialogue.sessions.active_run(user.id)
        if active is not None:
            self._pending_start[user.id] = (checklist_id, training, cohort)
            title = active["snapshot"].get("title", active["checklist_id"])
            return [Reply(texts.CHECKLIST_CONFLICT.format(title=texts.esc(title)), (
                (Button(texts.RESUME, f"c:{active['id']}:-:resume"),),
                (Button(texts.ABANDON_AND_START, f"n:{active['id']}"),)))]
        state = runs.start(checklist, training=training, cohort=cohort)
        run_id = dialogue.sessions.create_run(
            user_id=user.id, chat_id=user.chat_id, checklist_id=checklist.id,
            version=checklist.version, snapshot=checklist.to_snapshot(),
            state=json.loads(runs.state_to_json(state)), training=training, cohort=cohort)
        intro = texts.CHECKLIST_START.format(
            title=texts.esc(checklist.title), version=texts.esc(checklist.version),
            description=texts.esc(checklist.description.strip()))
        if training:
            intro += texts.TRAINING_MODE
        return [Reply(intro), *self._ask(dialogue, run_id, checklist, state)]

    # ---- text while a run is active ------------------------------------------------------

    def text(self, dialogue: Dialogue, user: User, text: str) -> list[Reply]:
        """Free text goes to the run in progress (a note, or an answer); else to Q&A."""
        active = dialogue.sessions.active_run(user.id)
        if active is None:
            self._awaiting_note.pop(user.id, None)
            return []
        checklist, state = self._restore(active)
        if self._awaiting_note.pop(user.id, None) == active["id"]:
            try:
                state = runs.add_note(checklist, state, text, at=now())
            except runs.InvalidAnswer as exc:
                return [Reply(texts.esc(exc))]
            self._save(dialogue, active["id"], checklist, state)
            return [Reply(texts.NOTE_SAVED), *self._ask(dialogue, active["id"], checklist, state)]
        return self._answer(dialogue, user, active["id"], checklist, state, text)

    def cancel(self, dialogue: Dialogue, user: User) -> bool:
        """`/cancel` abandons the run in progress."""
        self._awaiting_note.pop(user.id, None)
        active = dialogue.sessions.active_run(user.id)
        if active is None:
            return False
        self._abandon(dialogue, active)
        return True

    # ---- buttons of a run ----------------------------------------------------------------

    def press_run(self, dialogue: Dialogue, user: User, rest: str) -> list[Reply]:
        parts = rest.split(":")
        if len(parts) != 3 or not parts[0].isdigit():
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        run_id, question_id, action = int(parts[0]), parts[1], parts[2]
        row = dialogue.sessions.run(run_id)
        if row is None or row["user_id"] != user.id:
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        if row["status"] != "in_progress":
            return [Reply(texts.RUN_NOT_ACTIVE, notice=texts.RUN_NOT_ACTIVE)]
        checklist, state = self._restore(row)
        current = runs.current_question(checklist, state)
        if action == "resume" or current is None:
            return self._ask(dialogue, run_id, checklist, state)
        if question_id != current.id:
            return [Reply(notice=texts.OLD_QUESTION), *self._ask(dialogue, run_id, checklist,
                                                                 state)]
        if action == "why":
            return [self._why(dialogue, current)]
        if action == "note":
            self._awaiting_note[user.id] = run_id
            return [Reply(texts.NOTE_ASK)]
        if action == "stop":
            self._abandon(dialogue, row)
            return [Reply(texts.RUN_ABANDONED_MSG)]
        if action == "back":
            try:
                state = runs.back(checklist, state)
            except runs.InvalidAnswer as exc:
                return [Reply(notice=str(exc))]
            self._save(dialogue, run_id, checklist, state)
            return self._ask(dialogue, run_id, checklist, state)
        if action == "skip":
            try:
                state = runs.skip(checklist, state, at=now())
            except runs.InvalidAnswer as exc:
                return [Reply(notice=str(exc))]
            dialogue.sessions.log_run_answer(run_id, question_id=current.id, value=None,
                                             note=None, skipped=True, at=now())
            self._save(dialogue, run_id, checklist, state)
            return self._next(dialogue, user, run_id, checklist, state)
        if action.startswith("m") and action[1:].isdigit():
            chosen = self._selection.setdefault(f"{run_id}:{current.id}", set())
            chosen ^= {int(action[1:])}
            return self._ask(dialogue, run_id, checklist, state, edit=True)
        if action == "done":
            chosen = self._selection.pop(f"{run_id}:{current.id}", set())
            values = [current.options[i].value for i in sorted(chosen)
                      if 0 <= i < len(current.options)]
            return self._answer(dialogue, user, run_id, checklist, state, values)
        if action.startswith("a") and action[1:].isdigit():
            index = int(action[1:])
            if not 0 <= index < len(current.options):
                return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
            return self._answer(dialogue, user, run_id, checklist, state,
                                current.options[index].value)
        return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]

    # ---- internals -----------------------------------------------------------------------

    def _restore(self, row: dict[str, Any]) -> tuple[Checklist, runs.RunState]:
        checklist = checklist_from_dict(row["snapshot"], source=f"run {row['id']}")
        return checklist, runs.state_from_json(json.dumps(row["state"]))

    def _save(self, dialogue: Dialogue, run_id: int, checklist: Checklist,
              state: runs.RunState) -> None:
        rating = score = fired = None
        if state.status == "completed":
            outcome = runs.outcome(checklist, state)
            rating, score = outcome.rating_id, outcome.percent
            fired = [{"kind": r.kind, "ref": r.ref, "message": r.message} for r in outcome.fired]
        dialogue.sessions.save_run(run_id, state=json.loads(runs.state_to_json(state)),
                                   status=state.status, rating=rating, score=score,
                                   fired_rules=fired)

    def _abandon(self, dialogue: Dialogue, row: dict[str, Any]) -> None:
        checklist, state = self._restore(row)
        self._save(dialogue, row["id"], checklist, runs.abandon(state))

    def _answer(self, dialogue: Dialogue, user: User, run_id: int, checklist: Checklist,
                state: runs.RunState, raw: object) -> list[Reply]:
        current = runs.current_question(checklist, state)
        if current is None:
            return self._next(dialogue, user, run_id, checklist, state)
        try:
            state = runs.answer(checklist, state, raw, at=now())
        except runs.InvalidAnswer as exc:
            hint = texts.USE_BUTTONS if current.options else ""
            return [Reply(texts.esc(exc) + hint), *self._ask(dialogue, run_id, checklist,
                                                             state)]
        last = next(a for a in reversed(state.answers) if a.question_id == current.id)
        dialogue.sessions.log_run_answer(run_id, question_id=current.id, value=last.value,
                                         note=last.note, skipped=False, at=last.at)
        self._save(dialogue, run_id, checklist, state)
        replies = []
        if state.training:
            replies.append(self._rationale(dialogue, current, last))
        return replies + self._next(dialogue, user, run_id, checklist, state)

    def _next(self, dialogue: Dialogue, user: User, run_id: int, checklist: Checklist,
              state: runs.RunState) -> list[Reply]:
        if state.status == "completed":
            return self._finish(dialogue, user, run_id, checklist, state)
        return self._ask(dialogue, run_id, checklist, state)

    def _ask(self, dialogue: Dialogue, run_id: int, checklist: Checklist, state: runs.RunState,
             *, edit: bool = False) -> list[Reply]:
        question = runs.current_question(checklist, state)
        if question is None:
            return [Reply(texts.RUN_NOT_ACTIVE)]
        done, total = runs.progress(checklist, state)
        section = next(s.title for s in checklist.sections if question in s.questions)
        html = texts.question_message(checklist.title, section, done + 1, total, question)
        prefix = f"c:{run_id}:{question.id}:"
        rows: list[tuple[Button, ...]] = []
        if question.type == "multi":
            chosen = self._selection.get(f"{run_id}:{question.id}", set())
            rows += [(Button(("✅ " if i in chosen else "▫️ ") + o.label, f"{prefix}m{i}"),)
                     for i, o in enumerate(question.options)]
            rows.append((Button(texts.DONE, f"{prefix}done"),))
        else:
            rows += [(Button(o.label, f"{prefix}a{i}"),) for i, o in enumerate(question.options)]
        tools = [Button(texts.WHY, f"{prefix}why"), Button(texts.NOTE, f"{prefix}note")]
        if question.skippable:
            tools.append(Button(texts.SKIP, f"{prefix}skip"))
        rows.append(tuple(tools))
        rows.append((Button(texts.BACK, f"{prefix}back"), Button(texts.CANCEL, f"{prefix}stop")))
        return [Reply(html, tuple(rows), edit=edit)]

    def _why(self, dialogue: Dialogue, question: Question) -> Reply:
        parts = [texts.WHY_HEADING.format(help=texts.esc(question.help or ""))]
        for cite in question.cites:
            chunk = dialogue.searcher.current().find(cite.doc, cite.locator)
            if chunk is None:
                parts.append(texts.CITE_MISSING.format(cite=texts.esc(self.cite_label(
                    dialogue, cite))))
            else:
                parts.append(texts.passage_message(chunk))
        return Reply("\n\n".join(parts))

    def _rationale(self, dialogue: Dialogue, question: Question, answer: runs.Answer
                   ) -> Reply:
        values = answer.value if isinstance(answer.value, tuple) else (answer.value,)
        lines = []
        for value in values:
            option = question.option(str(value)) if value is not None else None
            if option is not None and option.rationale:
                risk = f" ({option.risk} risk)" if option.risk else ""
                lines.append(f"<b>{texts.esc(option.label)}</b>{risk}: "
                             f"{texts.esc(option.rationale)}")
        cites = "; ".join(self.cite_label(dialogue, c) for c in question.cites)
        if not lines:
            lines.append(texts.esc(question.help or ""))
        return Reply(texts.TRAINING_FEEDBACK.format(body="\n".join(lines), cites=texts.esc(cites)))

    def cite_label(self, dialogue: Dialogue, cite: Cite) -> str:
        try:
            chunk = dialogue.searcher.current().find(cite.doc, cite.locator)
        except Exception:
            chunk = None
        return chunk.citation if chunk is not None else f"{cite.doc}, {cite.locator}"

    def _finish(self, dialogue: Dialogue, user: User, run_id: int, checklist: Checklist,
                state: runs.RunState) -> list[Reply]:
        outcome = runs.outcome(checklist, state)
        row = dialogue.sessions.run(run_id) or {}
        label = lambda c: self.cite_label(dialogue, c)  # noqa: E731
        html = texts.outcome_message(checklist, outcome, label,
                                     [answer_label(checklist.question(a.question_id), a)
                                      for a in outcome.answers])
        who = user.username or user.first_name or str(user.id)
        report = markdown_report(checklist, outcome, cite=label, run_id=run_id, user=who,
                                 cohort=state.cohort, started=str(row.get("started_at", "")),
                                 finished=str(row.get("finished_at") or now()))
        stem = f"{checklist.id}-run-{run_id}"
        return [Reply(html),
                Reply(attachment=Attachment(f"{stem}.md", report.encode(), texts.REPORT_CAPTION)),
                Reply(attachment=Attachment(f"{stem}.csv",
                                            csv_report(checklist, outcome).encode()))]

    # ---- trainers ------------------------------------------------------------------------

    def cohort(self, dialogue: Dialogue, user: User, args: str, notify: Notify | None = None
               ) -> list[Reply]:
        """`/cohort <tag>`: runs, ratings and answers across a training cohort."""
        tag = args.strip()
        if not tag:
            return [Reply(texts.COHORT_USAGE)]
        rows = dialogue.sessions.runs(cohort=tag)
        return [Reply(texts.cohort_message(tag, cohort_summary(dialogue, rows)))]


def cohort_summary(dialogue: Dialogue, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by status and rating, and the answer distribution per question."""
    summary: dict[str, Any] = {"runs": len(rows), "status": {}, "ratings": {}, "answers": {}}
    for row in rows:
        summary["status"][row["status"]] = summary["status"].get(row["status"], 0) + 1
        if row.get("rating"):
            summary["ratings"][row["rating"]] = summary["ratings"].get(row["rating"], 0) + 1
        checklist, state = checklist_from_dict(row["snapshot"]), runs.state_from_json(
            json.dumps(row["state"]))
        for answer in state.answers:
            question = checklist.question(answer.question_id)
            key = (checklist.id, question.text if question else answer.question_id)
            counts = summary["answers"].setdefault(key, {})
            label = answer_label(question, answer)
            counts[label] = counts.get(label, 0) + 1
    return summary
