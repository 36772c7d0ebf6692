"""Checklists in the conversation: list, start (also by deep link), the partner's name, one
question per message edited in place, Why? / Back / Skip / Note / Cancel, typed answers, resume
after a restart, the report at the end, /runs to get reports again, and the trainers' /training
links and /cohort summaries.

A run belongs to the private chat it was started in; its state lives in the store with the
checklist snapshot it started on and a revision (a save checks the revision it read, so a
double tap answers once). Everything the flow waits for is pending state: "partner" - the run
whose partner is asked; "note" - the run a note is for; "selection" - the ticked options of a
multi question; "start" - the checklist to start once the user confirms abandoning the run.

Text during a run is an answer when it names an option (label or number), is a number for a
number question, or is the text of a text question; anything else (a question) is answered
as a question and the checklist question is shown again below.

Message keys: "run:<id>" - the message showing the run's current question (edited in place:
once answered it shows "✔ <choice>" and loses its keyboard); "partner:<id>" - the prompt for
the partner's name.

Language: a run is shown in the turn's language (bot/i18n.py): the checklist's own translation
of its texts where the file has one (`Checklist.localized`), English otherwise, with the
buttons, progress and results in that language. What is stored (the rules that fired) and the
report files are in English, the language of the checklist files and of the guidance.

Callback data (at most 64 bytes):
    s:<checklist id>                    start a run
    n:<old run id>                      abandon the old run and start the pending one
    r:<run id>                          send a run's reports again (/runs)
    c:<run id>:<question id>:<action>   act on the current question of a run
        actions: a<i> answer option i, m<i> toggle multi option i, done, why, back, skip,
        note, stop (asks), stopyes (abandons), stopno (goes on)
    c:<run id>:-:resume                 show the current question again
    c:<run id>:-:nopartner              go on without naming the partner
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot import i18n, render, texts
from bot.checklists import engine as runs
from bot.checklists.cohorts import restore
from bot.checklists.loading import load_checklists
from bot.checklists.model import Checklist, Cite, LoadResult, Question
from bot.checklists.parsing import question_like, typed_answer
from bot.checklists.reports import answer_label, csv_report, markdown_report
from bot.checklists.training import cohort_command, training_link
from bot.dialogue.flow import CommandSpec, Turn
from bot.dialogue.questions import question_language, speak_as_question
from bot.inputs import InputError, parse_cohort_tag, parse_row_id
from bot.store import RunChanged
from bot.types import Attachment, Button, Reply, Text
from index.errors import IndexProblem

PENDING_TTL = 24 * 3600  # seconds a partner name, a note, ticks or a start confirmation wait
RUNS_SHOWN = 10  # runs listed by /runs


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def stale() -> list[Reply]:
    return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]


@dataclass(frozen=True)
class Run:
    """A run as read from the store: its checklist snapshot (`checklist` in the turn's
    language, `english` as written), state and revision."""

    id: int
    revision: int
    chat_id: int | None
    checklist: Checklist
    state: runs.RunState
    english: Checklist

    @property
    def key(self) -> str:
        return f"run:{self.id}"

    @classmethod
    def of(cls, row: dict[str, Any]) -> Run:
        checklist, state = restore(row)
        return cls(int(row["id"]), int(row.get("revision") or 0), row.get("chat_id"),
                   checklist.localized(i18n.current()), state, checklist)


@dataclass
class ChecklistFlow:
    """The checklist part of the dialogue."""

    directory: Path
    prefixes: tuple[str, ...] = ("s", "n", "c", "r")
    groups: bool = False  # private chats only
    pending_kinds: tuple[str, ...] = ("partner", "note", "selection", "start")

    def commands(self) -> Sequence[CommandSpec]:
        return [
            CommandSpec("checklist", texts.SUMMARY_CHECKLIST, self.menu),
            CommandSpec("runs", texts.SUMMARY_RUNS, self.my_runs),
            CommandSpec("training", texts.SUMMARY_TRAINING, self.training, role="trainer",
                        usage=texts.USAGE_TRAINING),
            CommandSpec("cohort", texts.SUMMARY_COHORT, cohort_command, role="trainer",
                        usage=texts.USAGE_COHORT),
        ]

    # ---- loading -------------------------------------------------------------------------

    def load(self, turn: Turn) -> LoadResult:
        """Every checklist file, citations checked against the live index when there is one."""
        try:
            index = turn.ctx.searcher.current()
        except IndexProblem:  # no usable index: citations are checked at the next load
            return load_checklists(self.directory)
        return load_checklists(self.directory,
                               has_passage=lambda doc, loc: index.find(doc, loc) is not None)

    def _active(self, turn: Turn) -> Run | None:
        row = turn.ctx.store.active_run(turn.user.id, turn.user.chat_id)
        return Run.of(row) if row is not None else None

    # ---- entry points --------------------------------------------------------------------

    def menu(self, turn: Turn, args: str) -> list[Reply]:
        """`/checklist`: the checklists as buttons, and the run in progress if any."""
        loaded = self.load(turn)
        language = i18n.current()
        rows = [(Button(c.localized(language).title, f"s:{c.id}"),)
                for c in loaded.checklists.values()]
        html = texts.CHECKLIST_MENU if rows else texts.CHECKLIST_NONE
        if loaded.errors:
            html += texts.CHECKLIST_BROKEN.format(
                count=len(loaded.errors), first=render.esc(loaded.errors[0]))
        active = self._active(turn)
        if active:
            html += texts.CHECKLIST_ACTIVE.format(title=render.esc(active.checklist.title))
            rows.insert(0, (Button(texts.RESUME, f"c:{active.id}:-:resume"),))
        return [Reply(html, tuple(rows))]

    def on_start(self, turn: Turn, payload: str) -> list[Reply] | None:
        """`/start checklist-<id>` or `/start training-<id>[_<cohort>]`."""
        kind, _, rest = payload.partition("-")
        checklist_id, _, cohort = rest.partition("_")
        if kind not in ("checklist", "training") or not checklist_id:
            return None
        if cohort:
            try:
                cohort = parse_cohort_tag(cohort)
            except InputError as exc:
                return [Reply(render.problem(exc))]
        return self.begin(turn, checklist_id, training=kind == "training", cohort=cohort or None)

    def begin(self, turn: Turn, checklist_id: str, *, training: bool,
              cohort: str | None) -> list[Reply]:
        """Start a run (asking for the partner first), or ask before replacing the one in
        progress."""
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
        active = self._active(turn)
        if active is not None:
            store.set_pending(user.id, user.chat_id, "start",
                              {"checklist": checklist_id, "training": training,
                               "cohort": cohort, "replaces": active.id},
                              ttl_seconds=PENDING_TTL)
            return [Reply(texts.CHECKLIST_CONFLICT.format(
                title=render.esc(active.checklist.title)), (
                (Button(texts.RESUME, f"c:{active.id}:-:resume"),),
                (Button(texts.ABANDON_AND_START, f"n:{active.id}"),)))]
        state = runs.start(checklist, training=training, cohort=cohort)
        shown = checklist.localized(i18n.current())
        run_id = store.create_run(
            user_id=user.id, chat_id=user.chat_id, checklist_id=checklist.id,
            version=checklist.version, snapshot=checklist.to_snapshot(),
            state=json.loads(runs.state_to_json(state)), training=training, cohort=cohort)
        store.set_pending(user.id, user.chat_id, "partner", run_id, ttl_seconds=PENDING_TTL)
        intro = texts.CHECKLIST_START.format(
            title=render.esc(shown.title), version=render.esc(shown.version),
            description=render.esc(shown.description.strip()))
        if training:
            intro += texts.TRAINING_MODE
        return [Reply(intro), self._partner_prompt(run_id, training)]

    def _partner_prompt(self, run_id: int, training: bool) -> Reply:
        ask = texts.PARTNER_ASK_TRAINING if training else texts.PARTNER_ASK
        return Reply(ask, ((Button(texts.PARTNER_SKIP, f"c:{run_id}:-:nopartner"),),),
                     key=f"partner:{run_id}")

    # ---- text while a run is active ------------------------------------------------------

    def on_text(self, turn: Turn, message: Text) -> list[Reply] | None:
        """Text in the run's chat: the partner's name, a note, or an answer; anything else
        goes on to be answered as a question, and the run's question is shown again."""
        try:
            return self._text(turn, message)
        except RunChanged:  # saved meanwhile by another worker
            return [Reply(texts.RUN_CHANGED)]

    def _text(self, turn: Turn, message: Text) -> list[Reply] | None:
        store, user = turn.ctx.store, turn.user
        run = self._active(turn)
        if run is None:
            return None  # a note left pending for a finished run expires unused
        if message.reply_key and not message.reply_key.startswith(("run:", "partner:")):
            return None  # a reply to an answer or a comment prompt is not for the run
        waiting = {row["kind"]: row["data"] for row in store.pending(user.id, user.chat_id)}
        if waiting.get("partner") == run.id:
            return self._partner(turn, run, message.text)
        if waiting.get("note") == run.id:
            store.drop_pending(user.id, user.chat_id, "note")
            try:
                state = runs.add_note(run.checklist, run.state, message.text, at=now())
            except runs.InvalidAnswer as exc:
                return [Reply(render.esc(exc.message)), *self._again(turn, run)]
            self._save(turn, run, state)
            return [Reply(texts.NOTE_SAVED)]
        current = runs.current_question(run.checklist, run.state)
        if current is None:
            return None
        try:
            value = typed_answer(current, message.text)
        except runs.InvalidAnswer as exc:
            return [Reply(render.esc(exc.message)), *self._again(turn, run)]
        if value is None:  # a question, or text that names no option: answered as a question
            speak_as_question(turn, question_language(message.text))  # as its answer will
            turn.after.extend([Reply(texts.RUN_GOES_ON), *self._again(turn, run)])
            return None
        return self._answer(turn, run, current, value)

    def _partner(self, turn: Turn, run: Run, text: str) -> list[Reply] | None:
        if question_like(text):
            speak_as_question(turn, question_language(text))  # as its answer will
            turn.after.append(self._partner_prompt(run.id, run.state.training))
            return None
        try:
            state = runs.set_partner(run.state, text)
        except runs.InvalidAnswer as exc:
            return [Reply(render.esc(exc.message)), self._partner_prompt(run.id,
                                                                         run.state.training)]
        run = self._save(turn, run, state)
        turn.ctx.store.drop_pending(turn.user.id, turn.user.chat_id, "partner")
        named = texts.PARTNER_NAMED.format(partner=render.esc(state.partner or ""))
        return [Reply(named, key=f"partner:{run.id}", edit=True), *self._ask(turn, run)]

    def on_cancel(self, turn: Turn, kind: str) -> str | None:
        turn.ctx.store.drop_pending(turn.user.id, turn.user.chat_id, kind)
        return {"partner": texts.CANCELLED_PARTNER, "note": texts.CANCELLED_NOTE,
                "selection": texts.CANCELLED_SELECTION,
                "start": texts.CANCELLED_START}.get(kind)

    # ---- buttons -------------------------------------------------------------------------

    def on_press(self, turn: Turn, prefix: str, rest: str) -> list[Reply]:
        try:
            if prefix == "s":
                return self.begin(turn, rest, training=False, cohort=None)
            if prefix == "n":
                return self._replace(turn, rest)
            if prefix == "r":
                return self._reports_again(turn, rest)
            return self._press_run(turn, rest)
        except RunChanged:  # a second tap, or another worker: the first one counted
            return [Reply(notice=texts.RUN_CHANGED)]

    def _replace(self, turn: Turn, rest: str) -> list[Reply]:
        """Abandon the run in progress and start the checklist the user asked for."""
        store, user = turn.ctx.store, turn.user
        pending = store.pending(user.id, user.chat_id, "start")
        active = self._active(turn)
        if not pending or active is None or str(active.id) != rest \
                or pending[0]["data"].get("replaces") != active.id:
            return stale()
        store.drop_pending(user.id, user.chat_id, "start")
        self._save(turn, active, runs.abandon(active.state))
        wanted = pending[0]["data"]
        return self.begin(turn, str(wanted["checklist"]), training=bool(wanted["training"]),
                          cohort=wanted.get("cohort"))

    def _press_run(self, turn: Turn, rest: str) -> list[Reply]:
        store, user = turn.ctx.store, turn.user
        parts = rest.split(":")
        if len(parts) != 3:
            return stale()
        try:
            run_id = parse_row_id(parts[0], what="run id")
        except InputError:
            return stale()
        question_id, action = parts[1], parts[2]
        row = store.run(run_id)
        if row is None or row["user_id"] != user.id or row.get("chat_id") != user.chat_id:
            return stale()
        if row["status"] != "in_progress":
            return [Reply(texts.RUN_NOT_ACTIVE, notice=texts.RUN_NOT_ACTIVE)]
        run = Run.of(row)
        if action == "nopartner":
            return self._no_partner(turn, run)
        current = runs.current_question(run.checklist, run.state)
        if action == "resume" or current is None:
            return self._again(turn, run)
        if question_id != current.id:  # an earlier question's button (a double tap)
            return [Reply(notice=texts.OLD_QUESTION)]
        actions: dict[str, Callable[[], list[Reply]]] = {
            "why": lambda: [self._why(turn, current)],
            "note": lambda: self._ask_note(turn, run),
            "stop": lambda: self._ask_stop(run, current),
            "stopyes": lambda: self._stop(turn, run, current),
            "stopno": lambda: [Reply(texts.STOP_KEPT, edit=True)],
            "back": lambda: self._back(turn, run),
            "skip": lambda: self._skip(turn, run, current),
            "done": lambda: self._done(turn, run, current),
        }
        if action in actions:
            return actions[action]()
        if action[:1] in ("m", "a") and action[1:].isascii() and action[1:].isdigit() \
                and len(action) < 5:
            index = int(action[1:])
            if not 0 <= index < len(current.options):
                return stale()
            if action[0] == "m":
                return self._toggle(turn, run, current, index)
            return self._answer(turn, run, current, current.options[index].value)
        return stale()

    def _no_partner(self, turn: Turn, run: Run) -> list[Reply]:
        store, user = turn.ctx.store, turn.user
        waiting = store.pending(user.id, user.chat_id, "partner")
        if not waiting or waiting[0]["data"] != run.id:
            return [Reply(notice=texts.OLD_QUESTION)]
        store.drop_pending(user.id, user.chat_id, "partner")
        return [Reply(texts.PARTNER_NONE, key=f"partner:{run.id}", edit=True),
                *self._ask(turn, run)]

    def _ask_note(self, turn: Turn, run: Run) -> list[Reply]:
        turn.ctx.store.set_pending(turn.user.id, turn.user.chat_id, "note", run.id,
                                   ttl_seconds=PENDING_TTL)
        return [Reply(texts.NOTE_ASK, force_reply=True, key=f"note:{run.id}")]

    def _ask_stop(self, run: Run, current: Question) -> list[Reply]:
        prefix = f"c:{run.id}:{current.id}:"
        return [Reply(texts.STOP_CONFIRM.format(title=render.esc(run.checklist.title)), (
            (Button(texts.STOP_YES, prefix + "stopyes"),),
            (Button(texts.STOP_NO, prefix + "stopno"),)))]

    def _stop(self, turn: Turn, run: Run, current: Question) -> list[Reply]:
        self._save(turn, run, runs.abandon(run.state))
        for kind in ("partner", "note", "selection"):
            turn.ctx.store.drop_pending(turn.user.id, turn.user.chat_id, kind)
        return [Reply(texts.RUN_ABANDONED_MSG, edit=True),
                Reply(self._question_html(run, current) + texts.RUN_CANCELLED_MARK,
                      key=run.key, edit=True)]

    def _back(self, turn: Turn, run: Run) -> list[Reply]:
        try:
            state = runs.back(run.checklist, run.state)
        except runs.InvalidAnswer as exc:
            return [Reply(notice=exc.message)]
        run = self._save(turn, run, state)
        return self._ask(turn, run, edit=True)  # the previous question, in the same message

    def _skip(self, turn: Turn, run: Run, current: Question) -> list[Reply]:
        try:
            state = runs.skip(run.checklist, run.state, at=now())
        except runs.InvalidAnswer as exc:
            return [Reply(notice=exc.message)]
        answered = self._answered(run, current, texts.SKIPPED)
        run = self._save(turn, run, state)
        turn.ctx.store.log_run_answer(run.id, question_id=current.id, value=None, note=None,
                                      skipped=True, at=now())
        return [answered, *self._next(turn, run)]

    def _selection(self, turn: Turn, run: Run, question: Question) -> set[int]:
        rows = turn.ctx.store.pending(turn.user.id, turn.user.chat_id, "selection")
        if rows and rows[0]["data"].get("run") == run.id \
                and rows[0]["data"].get("question") == question.id:
            return {int(i) for i in rows[0]["data"].get("chosen", [])}
        return set()

    def _toggle(self, turn: Turn, run: Run, question: Question, index: int) -> list[Reply]:
        """Tick or untick an option; an exclusive one ("None of these") unticks the others,
        and any other unticks it."""
        chosen = self._selection(turn, run, question) ^ {index}
        exclusive = {i for i, o in enumerate(question.options) if o.exclusive}
        if index in chosen:
            chosen = {index} if index in exclusive else chosen - exclusive
        turn.ctx.store.set_pending(turn.user.id, turn.user.chat_id, "selection",
                                   {"run": run.id, "question": question.id,
                                    "chosen": sorted(chosen)}, ttl_seconds=PENDING_TTL)
        return self._ask(turn, run, edit=True)

    def _done(self, turn: Turn, run: Run, question: Question) -> list[Reply]:
        chosen = self._selection(turn, run, question)
        if not chosen:
            return [Reply(notice=texts.TICK_FIRST)]
        values = [question.options[i].value for i in sorted(chosen)]
        return self._answer(turn, run, question, values)

    # ---- internals -----------------------------------------------------------------------

    def _save(self, turn: Turn, run: Run, state: runs.RunState) -> Run:
        """Save the state if the run is still at the revision read (else `RunChanged`)."""
        rating = score = fired = None
        if state.status == "completed":
            with i18n.speaking(i18n.SOURCE_LANGUAGE):  # stored as written, in English
                outcome = runs.outcome(run.english, state)
            rating, score = outcome.rating_id, outcome.percent
            fired = [{"kind": r.kind, "ref": r.ref, "message": r.message} for r in outcome.fired]
        revision = turn.ctx.store.save_run(
            run.id, state=json.loads(runs.state_to_json(state)), status=state.status,
            rating=rating, score=score, fired_rules=fired, revision=run.revision)
        return replace(run, revision=revision, state=state)

    def _answer(self, turn: Turn, run: Run, current: Question,
                raw: object) -> list[Reply]:
        try:
            state = runs.answer(run.checklist, run.state, raw, at=now())
        except runs.InvalidAnswer as exc:
            return [Reply(render.esc(exc.message), notice=exc.message[:190]),
                    *self._again(turn, run)]
        last = next(a for a in reversed(state.answers) if a.question_id == current.id)
        answered = self._answered(run, current, answer_label(current, last))
        run = self._save(turn, run, state)
        turn.ctx.store.drop_pending(turn.user.id, turn.user.chat_id, "selection")
        turn.ctx.store.log_run_answer(run.id, question_id=current.id, value=last.value,
                                      note=last.note, skipped=False, at=last.at)
        replies = [answered]
        if state.training:
            replies.append(self._rationale(turn, current, last))
        return replies + self._next(turn, run)

    def _answered(self, run: Run, question: Question, shown: str) -> Reply:
        """The question's message once answered: "✔ <choice>", no keyboard."""
        html = self._question_html(run, question)
        return Reply(html + texts.ANSWERED.format(answer=render.esc(shown)), key=run.key,
                     edit=True)

    def _next(self, turn: Turn, run: Run) -> list[Reply]:
        if run.state.status == "completed":
            return self._finish(turn, run)
        return self._ask(turn, run)

    def _again(self, turn: Turn, run: Run) -> list[Reply]:
        """The current question as a new message below (the old one loses its keyboard)."""
        question = runs.current_question(run.checklist, run.state)
        if question is None:
            return [Reply(texts.RUN_NOT_ACTIVE)]
        moved = Reply(self._question_html(run, question) + texts.ASKED_BELOW, key=run.key,
                      edit=True)
        return [moved, *self._ask(turn, run)]

    def _question_html(self, run: Run, question: Question) -> str:
        done, total = runs.progress(run.checklist, run.state)
        section = next(s.title for s in run.checklist.sections if question in s.questions)
        return render.question_message(run.checklist.title, section, done + 1, total, question)

    def _ask(self, turn: Turn, run: Run, *, edit: bool = False) -> list[Reply]:
        """The run's current question with its buttons (a new message, or the same one)."""
        question = runs.current_question(run.checklist, run.state)
        if question is None:
            return [Reply(texts.RUN_NOT_ACTIVE)]
        html = self._question_html(run, question)
        prefix = f"c:{run.id}:{question.id}:"
        rows: list[tuple[Button, ...]] = []
        if question.type == "multi":
            chosen = self._selection(turn, run, question)
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
        return [Reply(html, tuple(rows), key=run.key, edit=edit)]

    def _why(self, turn: Turn, question: Question) -> Reply:
        parts = [texts.WHY_HEADING.format(help=render.esc(question.help or ""))]
        if question.basis == "applied" and question.applies:
            parts.append("<i>" + render.esc(texts.TOOL_RULE.format(
                applies=question.applies)) + "</i>")
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
                risk = texts.RISK_NOTE.format(
                    risk=texts.RISK_NAMES.get(option.risk, option.risk)) if option.risk else ""
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

    def _reports(self, turn: Turn, run: Run, row: dict[str, Any]) -> list[Reply]:
        """The run's Markdown and CSV reports, in English (records for the files, beside the
        English guidance they cite), with a caption in the user's language."""
        caption = texts.REPORT_CAPTION
        label = lambda c: self.cite_label(turn, c)  # noqa: E731
        with i18n.speaking(i18n.SOURCE_LANGUAGE):
            outcome = runs.outcome(run.english, run.state)
            report = markdown_report(run.english, outcome, cite=label, run_id=run.id,
                                     user=turn.user.name, cohort=run.state.cohort,
                                     started=str(row.get("started_at", "")),
                                     finished=str(row.get("finished_at") or now()))
            table = csv_report(run.english, outcome)
        stem = f"{run.checklist.id}-run-{run.id}"
        return [Reply(attachment=Attachment(f"{stem}.md", report.encode(), caption)),
                Reply(attachment=Attachment(f"{stem}.csv", table.encode()))]

    def _finish(self, turn: Turn, run: Run) -> list[Reply]:
        outcome = runs.outcome(run.checklist, run.state)
        row = turn.ctx.store.run(run.id) or {}
        html = render.outcome_message(run.checklist, outcome, lambda c: self.cite_label(turn, c))
        return [Reply(html), *self._reports(turn, run, row)]

    # ---- /runs -----------------------------------------------------------------------------

    def my_runs(self, turn: Turn, args: str) -> list[Reply]:
        """`/runs`: the user's newest runs, each finished one with a button for its reports."""
        rows = turn.ctx.store.user_runs(turn.user.id, limit=RUNS_SHOWN)
        if not rows:
            return [Reply(texts.RUNS_NONE)]
        lines, buttons = [texts.RUNS_HEADING], []
        for row in rows:
            run = Run.of(row)
            status = texts.RUN_STATUS.get(row["status"], row["status"])
            rating = f" — {render.esc(row['rating'])}" if row.get("rating") else ""
            partner = f" — {render.esc(run.state.partner)}" if run.state.partner else ""
            started = str(row.get("started_at", ""))[:10]
            lines.append(texts.RUNS_LINE.format(id=run.id, title=render.esc(run.checklist.title),
                                                started=started, status=status,
                                                rating=rating, partner=partner))
            if row["status"] == "completed":
                buttons.append((Button(texts.RUNS_REPORT.format(id=run.id), f"r:{run.id}"),))
            elif row["status"] == "in_progress" and row.get("chat_id") == turn.user.chat_id:
                buttons.append((Button(texts.RUNS_RESUME.format(id=run.id),
                                       f"c:{run.id}:-:resume"),))
        return [Reply("\n".join(lines), tuple(buttons))]

    def _reports_again(self, turn: Turn, rest: str) -> list[Reply]:
        try:
            run_id = parse_row_id(rest, what="run id")
        except InputError:
            return stale()
        row = turn.ctx.store.run(run_id)
        if row is None or row["user_id"] != turn.user.id or row["status"] != "completed":
            return stale()
        return self._reports(turn, Run.of(row), row)

    # ---- trainers ------------------------------------------------------------------------

    def training(self, turn: Turn, args: str) -> list[Reply]:
        """`/training <checklist id> <cohort tag>` (bot/checklists/training.py)."""
        return training_link(turn, args, self.load(turn))
