"""Checklists in the conversation: list, start (also by deep link), one question per message,
Why? / Back / Skip / Note / Cancel, resume after a restart, and the report at the end.

Run state lives in the store with the checklist snapshot it started on, so a run survives
restarts and keeps its version when the file changes; so does everything the flow waits for
(pending state: "note" - the run a note is for; "selection" - the ticked options of a multi
question; "start" - the checklist to start once the user confirms abandoning the run).

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import render, texts
from bot.checklists import engine as runs
from bot.checklists.cohorts import cohort_summary
from bot.checklists.loading import checklist_from_dict, load_checklists
from bot.checklists.model import Checklist, Cite, LoadResult, Question
from bot.checklists.reports import csv_report, markdown_report
from bot.dialogue.flow import CommandSpec, Turn
from bot.types import Attachment, Button, Reply, Text
from index.errors import IndexProblem

PENDING_TTL = 24 * 3600  # seconds a note, ticks or a start confirmation wait


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def stale() -> list[Reply]:
    return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]


@dataclass
class ChecklistFlow:
    """The checklist part of the dialogue."""

    directory: Path
    prefixes: tuple[str, ...] = ("s", "n", "c")
    groups: bool = False  # private chats only
    pending_kinds: tuple[str, ...] = ("note", "selection", "start")

    def commands(self) -> Sequence[CommandSpec]:
        return [CommandSpec("checklist", texts.SUMMARY_CHECKLIST, self.menu),
                CommandSpec("cohort", texts.SUMMARY_COHORT, self.cohort, role="trainer",
                            usage="<tag>")]

    # ---- loading -------------------------------------------------------------------------

    def load(self, turn: Turn) -> LoadResult:
        """Every checklist file, citations checked against the live index when there is one."""
        try:
            index = turn.ctx.searcher.current()
        except IndexProblem:  # no usable index: citations are checked at the next load
            return load_checklists(self.directory)
        return load_checklists(self.directory,
                               has_passage=lambda doc, loc: index.find(doc, loc) is not None)

    # ---- entry points --------------------------------------------------------------------

    def menu(self, turn: Turn, args: str) -> list[Reply]:
        """`/checklist`: the checklists as buttons, and the run in progress if any."""
        loaded = self.load(turn)
        rows = [(Button(c.title, f"s:{c.id}"),) for c in loaded.checklists.values()]
        html = texts.CHECKLIST_MENU if rows else texts.CHECKLIST_NONE
        if loaded.errors:
            html += texts.CHECKLIST_BROKEN.format(
                count=len(loaded.errors), first=render.esc(loaded.errors[0]))
        active = turn.ctx.store.active_run(turn.user.id)
        if active:
            html += texts.CHECKLIST_ACTIVE.format(title=render.esc(
                active["snapshot"].get("title", active["checklist_id"])))
            rows.insert(0, (Button(texts.RESUME, f"c:{active['id']}:-:resume"),))
        return [Reply(html, tuple(rows))]

    def on_start(self, turn: Turn, payload: str) -> list[Reply] | None:
        """`/start checklist-<id>` or `/start training-<id>[_<cohort>]`."""
        kind, _, rest = payload.partition("-")
        checklist_id, _, cohort = rest.partition("_")
        if kind not in ("checklist", "training") or not checklist_id:
            return None
        return self.begin(turn, checklist_id, training=kind == "training", cohort=cohort or None)

    def begin(self, turn: Turn, checklist_id: str, *, training: bool,
              cohort: str | None) -> list[Reply]:
        """Start a run, or ask first when another run is in progress."""
        store, user = turn.ctx.store, turn.user
        loaded = self.load(turn)
        checklist = loaded.checklists.get(checklist_id)
        if checklist is None:
            broken = [e for e in loaded.errors
                      if Path(e.split(":", 1)[0]).name == f"{checklist_id}.yaml"]
            if broken:
                return [Reply(texts.CHECKLIST_UNUSABLE.format(
                    id=render.esc(checklist_id), reason=render.esc(broken[0])))]
            return [Reply(texts.CHECKLIST_UNKNOWN.format(id=render.esc(checklist_id)))]
        active = store.active_run(user.id)
        if active is not None:
            store.set_pending(user.id, user.chat_id, "start",
                              {"checklist": checklist_id, "training": training,
                               "cohort": cohort, "replaces": active["id"]},
                              ttl_seconds=PENDING_TTL)
            title = active["snapshot"].get("title", active["checklist_id"])
            return [Reply(texts.CHECKLIST_CONFLICT.format(title=render.esc(title)), (
                (Button(texts.RESUME, f"c:{active['id']}:-:resume"),),
                (Button(texts.ABANDON_AND_START, f"n:{active['id']}"),)))]
        state = runs.start(checklist, training=training, cohort=cohort)
        run_id = store.create_run(
            user_id=user.id, chat_id=user.chat_id, checklist_id=checklist.id,
            version=checklist.version, snapshot=checklist.to_snapshot(),
            state=json.loads(runs.state_to_json(state)), training=training, cohort=cohort)
        intro = texts.CHECKLIST_START.format(
            title=render.esc(checklist.title), version=render.esc(checklist.version),
            description=render.esc(checklist.description.strip()))
        if training:
            intro += texts.TRAINING_MODE
        return [Reply(intro), *self._ask(turn, run_id, checklist, state)]

    # ---- text while a run is active ------------------------------------------------------

    def on_text(self, turn: Turn, message: Text) -> list[Reply] | None:
        """Free text goes to the run in progress (a note, or an answer); else to Q&A."""
        store, user = turn.ctx.store, turn.user
        active = store.active_run(user.id)
        if active is None:
            return None  # a note left pending for a finished run expires unused
        checklist, state = self._restore(active)
        note = store.pending(user.id, user.chat_id, "note")
        if note and note[0]["data"] == active["id"]:
            store.drop_pending(user.id, user.chat_id, "note")
            try:
                state = runs.add_note(checklist, state, message.text, at=now())
            except runs.InvalidAnswer as exc:
                return [Reply(render.esc(exc))]
            self._save(turn, active["id"], checklist, state)
            return [Reply(texts.NOTE_SAVED), *self._ask(turn, active["id"], checklist, state)]
        return self._answer(turn, active["id"], checklist, state, message.text)

    def on_cancel(self, turn: Turn, kind: str) -> str | None:
        turn.ctx.store.drop_pending(turn.user.id, turn.user.chat_id, kind)
        return {"note": texts.CANCELLED_NOTE, "selection": texts.CANCELLED_SELECTION,
                "start": texts.CANCELLED_START}.get(kind)

    # ---- buttons -------------------------------------------------------------------------

    def on_press(self, turn: Turn, prefix: str, rest: str) -> list[Reply]:
        if prefix == "s":
            return self.begin(turn, rest, training=False, cohort=None)
        if prefix == "n":
            return self._replace(turn, rest)
        return self._press_run(turn, rest)

    def _replace(self, turn: Turn, rest: str) -> list[Reply]:
        """Abandon the run in progress and start the checklist the user asked for."""
        store, user = turn.ctx.store, turn.user
        pending = store.pending(user.id, user.chat_id, "start")
        active = store.active_run(user.id)
        if not pending or active is None or str(active["id"]) != rest \
                or pending[0]["data"].get("replaces") != active["id"]:
            return stale()
        store.drop_pending(user.id, user.chat_id, "start")
        self._abandon(turn, active)
        wanted = pending[0]["data"]
        return self.begin(turn, str(wanted["checklist"]), training=bool(wanted["training"]),
                          cohort=wanted.get("cohort"))

    def _press_run(self, turn: Turn, rest: str) -> list[Reply]:
        store, user = turn.ctx.store, turn.user
        parts = rest.split(":")
        if len(parts) != 3 or not parts[0].isdigit():
            return stale()
        run_id, question_id, action = int(parts[0]), parts[1], parts[2]
        row = store.run(run_id)
        if row is None or row["user_id"] != user.id:
            return stale()
        if row["status"] != "in_progress":
            return [Reply(texts.RUN_NOT_ACTIVE, notice=texts.RUN_NOT_ACTIVE)]
        checklist, state = self._restore(row)
        current = runs.current_question(checklist, state)
        if action == "resume" or current is None:
            return self._ask(turn, run_id, checklist, state)
        if question_id != current.id:
            return [Reply(notice=texts.OLD_QUESTION), *self._ask(turn, run_id, checklist, state)]
        actions: dict[str, Callable[[], list[Reply]]] = {
            "why": lambda: [self._why(turn, current)],
            "note": lambda: self._ask_note(turn, run_id),
            "stop": lambda: self._stop(turn, row),
            "back": lambda: self._step(turn, run_id, checklist, runs.back, state),
            "skip": lambda: self._skip(turn, run_id, checklist, state, current),
            "done": lambda: self._done(turn, run_id, checklist, state, current),
        }
        if action in actions:
            return actions[action]()
        if action[:1] in ("m", "a") and action[1:].isdigit():
            index = int(action[1:])
            if not 0 <= index < len(current.options):
                return stale()
            if action[0] == "m":
                return self._toggle(turn, run_id, checklist, state, current, index)
            return self._answer(turn, run_id, checklist, state, current.options[index].value)
        return stale()

    def _ask_note(self, turn: Turn, run_id: int) -> list[Reply]:
        turn.ctx.store.set_pending(turn.user.id, turn.user.chat_id, "note", run_id,
                                   ttl_seconds=PENDING_TTL)
        return [Reply(texts.NOTE_ASK)]

    def _stop(self, turn: Turn, row: dict[str, Any]) -> list[Reply]:
        self._abandon(turn, row)
        return [Reply(texts.RUN_ABANDONED_MSG)]

    def _step(self, turn: Turn, run_id: int, checklist: Checklist,
              move: Callable[[Checklist, runs.RunState], runs.RunState],
              state: runs.RunState) -> list[Reply]:
        try:
            state = move(checklist, state)
        except runs.InvalidAnswer as exc:
            return [Reply(notice=exc.message)]
        self._save(turn, run_id, checklist, state)
        return self._ask(turn, run_id, checklist, state)

    def _skip(self, turn: Turn, run_id: int, checklist: Checklist, state: runs.RunState,
              current: Question) -> list[Reply]:
        try:
            state = runs.skip(checklist, state, at=now())
        except runs.InvalidAnswer as exc:
            return [Reply(notice=exc.message)]
        turn.ctx.store.log_run_answer(run_id, question_id=current.id, value=None, note=None,
                                      skipped=True, at=now())
        self._save(turn, run_id, checklist, state)
        return self._next(turn, run_id, checklist, state)

    def _selection(self, turn: Turn, run_id: int, question: Question) -> set[int]:
        rows = turn.ctx.store.pending(turn.user.id, turn.user.chat_id, "selection")
        if rows and rows[0]["data"].get("run") == run_id \
                and rows[0]["data"].get("question") == question.id:
            return {int(i) for i in rows[0]["data"].get("chosen", [])}
        return set()

    def _toggle(self, turn: Turn, run_id: int, checklist: Checklist, state: runs.RunState,
                question: Question, index: int) -> list[Reply]:
        chosen = self._selection(turn, run_id, question) ^ {index}
        turn.ctx.store.set_pending(turn.user.id, turn.user.chat_id, "selection",
                                   {"run": run_id, "question": question.id,
                                    "chosen": sorted(chosen)}, ttl_seconds=PENDING_TTL)
        return self._ask(turn, run_id, checklist, state, edit=True)

    def _done(self, turn: Turn, run_id: int, checklist: Checklist, state: runs.RunState,
              question: Question) -> list[Reply]:
        chosen = self._selection(turn, run_id, question)
        values = [question.options[i].value for i in sorted(chosen)]
        try:
            runs.parse_answer(question, values)
        except runs.InvalidAnswer:
            return self._answer(turn, run_id, checklist, state, values)  # says what is wrong
        turn.ctx.store.drop_pending(turn.user.id, turn.user.chat_id, "selection")
        return self._answer(turn, run_id, checklist, state, values)

    # ---- internals -----------------------------------------------------------------------

    def _restore(self, row: dict[str, Any]) -> tuple[Checklist, runs.RunState]:
        checklist = checklist_from_dict(row["snapshot"], source=f"run {row['id']}")
        return checklist, runs.state_from_json(json.dumps(row["state"]))

    def _save(self, turn: Turn, run_id: int, checklist: Checklist, state: runs.RunState) -> None:
        rating = score = fired = None
        if state.status == "completed":
            outcome = runs.outcome(checklist, state)
            rating, score = outcome.rating_id, outcome.percent
            fired = [{"kind": r.kind, "ref": r.ref, "message": r.message} for r in outcome.fired]
        turn.ctx.store.save_run(run_id, state=json.loads(runs.state_to_json(state)),
                                status=state.status, rating=rating, score=score,
                                fired_rules=fired)

    def _abandon(self, turn: Turn, row: dict[str, Any]) -> None:
        checklist, state = self._restore(row)
        self._save(turn, row["id"], checklist, runs.abandon(state))

    def _answer(self, turn: Turn, run_id: int, checklist: Checklist, state: runs.RunState,
                raw: object) -> list[Reply]:
        current = runs.current_question(checklist, state)
        if current is None:
            return self._next(turn, run_id, checklist, state)
        try:
            state = runs.answer(checklist, state, raw, at=now())
        except runs.InvalidAnswer as exc:
            hint = texts.USE_BUTTONS if current.options else ""
            return [Reply(render.esc(exc.message) + hint),
                    *self._ask(turn, run_id, checklist, state)]
        last = next(a for a in reversed(state.answers) if a.question_id == current.id)
        turn.ctx.store.log_run_answer(run_id, question_id=current.id, value=last.value,
                                      note=last.note, skipped=False, at=last.at)
        self._save(turn, run_id, checklist, state)
        replies = [self._rationale(turn, current, last)] if state.training else []
        return replies + self._next(turn, run_id, checklist, state)

    def _next(self, turn: Turn, run_id: int, checklist: Checklist,
              state: runs.RunState) -> list[Reply]:
        if state.status == "completed":
            return self._finish(turn, run_id, checklist, state)
        return self._ask(turn, run_id, checklist, state)

    def _ask(self, turn: Turn, run_id: int, checklist: Checklist, state: runs.RunState,
             *, edit: bool = False) -> list[Reply]:
        question = runs.current_question(checklist, state)
        if question is None:
            return [Reply(texts.RUN_NOT_ACTIVE)]
        done, total = runs.progress(checklist, state)
        section = next(s.title for s in checklist.sections if question in s.questions)
        html = render.question_message(checklist.title, section, done + 1, total, question)
        prefix = f"c:{run_id}:{question.id}:"
        rows: list[tuple[Button, ...]] = []
        if question.type == "multi":
            chosen = self._selection(turn, run_id, question)
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

    def _why(self, turn: Turn, question: Question) -> Reply:
        parts = [texts.WHY_HEADING.format(help=render.esc(question.help or ""))]
        for cite in question.cites:
            chunk = turn.ctx.searcher.current().find(cite.doc, cite.locator)
            if chunk is None:
                parts.append(texts.CITE_MISSING.format(cite=render.esc(
                    self.cite_label(turn, cite))))
            else:
                parts.append(render.passage_message(chunk))
        return Reply("\n\n".join(parts))

    def _rationale(self, turn: Turn, question: Question, answer: runs.Answer) -> Reply:
        values = answer.value if isinstance(answer.value, tuple) else (answer.value,)
        lines = []
        for value in values:
            option = question.option(str(value)) if value is not None else None
            if option is not None and option.rationale:
                risk = f" ({option.risk} risk)" if option.risk else ""
                lines.append(f"<b>{render.esc(option.label)}</b>{risk}: "
                             f"{render.esc(option.rationale)}")
        cites = "; ".join(self.cite_label(turn, c) for c in question.cites)
        if not lines:
            lines.append(render.esc(question.help or ""))
        return Reply(texts.TRAINING_FEEDBACK.format(body="\n".join(lines),
                                                    cites=render.esc(cites)))

    def cite_label(self, turn: Turn, cite: Cite) -> str:
        """A checklist citation as the answers cite it, or doc and locator without an index."""
        try:
            chunk = turn.ctx.searcher.current().find(cite.doc, cite.locator)
        except IndexProblem:
            chunk = None
        return render.citation(chunk) if chunk is not None else f"{cite.doc}, {cite.locator}"

    def _finish(self, turn: Turn, run_id: int, checklist: Checklist,
                state: runs.RunState) -> list[Reply]:
        outcome = runs.outcome(checklist, state)
        row = turn.ctx.store.run(run_id) or {}
        label = lambda c: self.cite_label(turn, c)  # noqa: E731
        html = render.outcome_message(checklist, outcome, label)
        report = markdown_report(checklist, outcome, cite=label, run_id=run_id,
                                 user=turn.user.name, cohort=state.cohort,
                                 started=str(row.get("started_at", "")),
                                 finished=str(row.get("finished_at") or now()))
        stem = f"{checklist.id}-run-{run_id}"
        return [Reply(html),
                Reply(attachment=Attachment(f"{stem}.md", report.encode(), texts.REPORT_CAPTION)),
                Reply(attachment=Attachment(f"{stem}.csv",
                                            csv_report(checklist, outcome).encode()))]

    # ---- trainers ------------------------------------------------------------------------

    def cohort(self, turn: Turn, args: str) -> list[Reply]:
        """`/cohort <tag>`: runs, ratings and answers across a training cohort."""
        tag = args.strip()
        if not tag:
            return [Reply(texts.COHORT_USAGE)]
        return [Reply(render.cohort_message(tag, cohort_summary(turn.ctx.store, tag)))]
