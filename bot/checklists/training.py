"""The trainers' commands: `/training` makes the deep link that opens a checklist in training
mode for a cohort (which the trainer then owns), `/cohort` shows the trainer's cohorts (admins:
all) or the runs, ratings and answers across one of them."""

from __future__ import annotations

from bot import i18n, render, texts
from bot.checklists.cohorts import cohort_summary
from bot.checklists.model import LoadResult
from bot.dialogue.flow import Turn
from bot.inputs import InputError, parse_cohort_tag
from bot.types import Reply


def training_link(turn: Turn, args: str, loaded: LoadResult) -> list[Reply]:
    """`/training <checklist id> <cohort tag>`: the deep link that opens the checklist in
    training mode for a cohort, which the trainer then owns."""
    parts = args.split()
    if len(parts) != 2:
        return [Reply(texts.TRAINING_USAGE.format(ids=render.esc(", ".join(loaded.checklists))))]
    checklist_id, tag_text = parts
    if checklist_id not in loaded.checklists:
        return [Reply(texts.CHECKLIST_UNKNOWN.format(id=render.esc(checklist_id)))]
    try:
        tag = parse_cohort_tag(tag_text)
    except InputError as exc:
        return [Reply(render.problem(exc))]
    payload = f"training-{checklist_id}_{tag}"
    if len(payload) > 64:
        return [Reply(texts.TRAINING_TOO_LONG.format(length=len(payload)))]
    if not turn.ctx.store.create_cohort(tag, created_by=turn.user.id,
                                        checklist_id=checklist_id):
        return [Reply(texts.COHORT_TAKEN.format(tag=render.esc(tag)))]
    name = turn.ctx.bot_username
    link = f"https://t.me/{name}?start={payload}" if name else f"/start {payload}"
    return [Reply(texts.TRAINING_LINK.format(
        title=render.esc(loaded.checklists[checklist_id].localized(i18n.current()).title),
        tag=render.esc(tag),
        link=render.esc(link)))]

def cohort_command(turn: Turn, args: str) -> list[Reply]:
    """`/cohort`: the trainer's cohorts (admins: all); `/cohort <tag>`: runs, ratings and
    answers across one of them."""
    store = turn.ctx.store
    admin = turn.role == "admin"
    tag = args.strip()
    if not tag:
        cohorts = store.cohorts(created_by=None if admin else turn.user.id)
        if not cohorts:
            return [Reply(texts.COHORTS_NONE)]
        lines = [texts.COHORTS_HEADING] + [
            texts.COHORTS_LINE.format(tag=render.esc(c["tag"]), runs=c["runs"],
                                      checklist=render.esc(c["checklist_id"] or ""))
            for c in cohorts]
        return [Reply("\n".join(lines))]
    try:
        tag = parse_cohort_tag(tag)
    except InputError as exc:
        return [Reply(render.problem(exc))]
    owner = store.cohort(tag)
    if not admin and (owner is None or owner["created_by"] != turn.user.id):
        return [Reply(texts.COHORT_NOT_YOURS.format(tag=render.esc(tag)))]
    return [Reply(render.cohort_message(tag, cohort_summary(store, tag)))]
