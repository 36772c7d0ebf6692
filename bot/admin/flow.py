"""Admin commands in the conversation: /stats, /reindex, /users, /allow, /revoke, and /join
for users without access.

Callback data: `j:<request id>:<1|0>` approves or denies a join request (admins only).

Who may change whose access is decided in the store (`bot.store.access`, `change_access`); this
flow and `partnerbot users` say what happened with `access_message` and `access_notice`.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot import i18n, render, texts
from bot.admin.ops import chart_png, reindex, stats_text
from bot.dialogue.flow import CommandSpec, Turn
from bot.inputs import InputError, clean_text, parse_row_id, parse_user_id
from bot.store.access import JOIN_WINDOW, JoinAttempt, RoleChange
from bot.types import ROLES, Attachment, Button, Reply, Text
from index.errors import IndexProblem


def _target(turn: Turn, args: str, usage: str) -> int | Reply:
    """The user id an admin typed first in `args`, or the reply saying what was wrong and
    what to send."""
    parts = args.split()
    if not parts:
        return Reply(usage)
    try:
        return parse_user_id(parts[0], bot_id=turn.ctx.settings.bot_id)
    except InputError as exc:
        return Reply(texts.PROBLEM.format(message=render.esc(exc.message)) + "\n\n" + usage)


def _actor(turn: Turn) -> int | str:
    """Who the store sees acting: the admin's id, or the server's console for the terminal
    chat's operator (audited as terminal:<os user>)."""
    if turn.ctx.local_role is not None:
        return f"terminal:{turn.user.username or turn.user.id}"
    return turn.user.id


def access_message(change: RoleChange, *, revoke: bool) -> str:
    """What an /allow or /revoke (or `partnerbot users allow|revoke`) changed, from what to
    what, or why nothing was done (Telegram HTML; the CLI prints it with render.to_plain)."""
    uid = change.user_id
    if change.refused == "self":
        return texts.REVOKE_SELF if revoke else texts.CHANGE_SELF
    if change.refused == "settings_admin":
        return texts.SETTINGS_ADMIN_FIXED.format(user_id=uid)
    if change.refused == "admins_only":
        return texts.ADMINS_ONLY_BY_SETTINGS
    if revoke:
        if change.changed:
            return texts.REVOKED.format(user_id=uid)
        return (texts.ALREADY_REVOKED if change.was_revoked
                else texts.NO_ACCESS_UNCHANGED).format(user_id=uid)
    if not change.changed:
        return texts.ROLE_UNCHANGED.format(user_id=uid, role=change.after)
    if change.before is None:
        return texts.ALLOWED.format(user_id=uid, role=change.after)
    return texts.ROLE_CHANGED.format(user_id=uid, role=change.after, before=change.before)


def access_notice(change: RoleChange, language: str = i18n.SOURCE_LANGUAGE) -> Reply | None:
    """The message to the user whose role was given or changed (none for a revoke), in their
    `language`."""
    if not change.changed or change.after is None:
        return None
    with i18n.speaking(language):
        if change.before is None:
            return Reply(texts.YOU_ARE_ALLOWED.format(role=change.after), to=change.user_id)
        return Reply(texts.YOUR_ROLE_CHANGED.format(role=change.after, before=change.before),
                     to=change.user_id)


def _until(attempt: JoinAttempt) -> str:
    """When a lockout ends, as HH:MM (UTC: the store's times are UTC)."""
    return attempt.locked_until.strftime("%H:%M") if attempt.locked_until else "?"


def _locked(attempt: JoinAttempt) -> str:
    return texts.JOIN_LOCKED.format(until=_until(attempt),
                                    minutes=max(1, math.ceil(attempt.seconds_left / 60)))


@dataclass
class AdminFlow:
    """The commands admins use in the chat, and the join request of users without access."""

    prefixes: tuple[str, ...] = ("j",)
    groups: bool = False  # private chats only
    pending_kinds: tuple[str, ...] = ()

    def commands(self) -> Sequence[CommandSpec]:
        return [
            CommandSpec("stats", texts.SUMMARY_STATS, self.stats, role="admin"),
            CommandSpec("reindex", texts.SUMMARY_REINDEX, self.reindex, role="admin"),
            CommandSpec("users", texts.SUMMARY_USERS, self.users, role="admin"),
            CommandSpec("allow", texts.SUMMARY_ALLOW, self.allow, role="admin",
                        usage=texts.USAGE_ALLOW),
            CommandSpec("revoke", texts.SUMMARY_REVOKE, self.revoke, role="admin",
                        usage=texts.USAGE_REVOKE),
            CommandSpec("join", texts.SUMMARY_JOIN, self.join, role=None, usage=texts.USAGE_JOIN,
                        menu=False, secret_args=True),
        ]

    def stats(self, turn: Turn, args: str) -> list[Reply]:
        """`/stats`: usage report and the questions-per-day chart."""
        figures = turn.ctx.store.stats()
        index = turn.ctx.searcher.current()

        def citation(chunk_id: str) -> str:
            chunk = index.by_id(chunk_id)
            if chunk is None:
                return texts.NO_LONGER_INDEXED.format(chunk_id=chunk_id)
            return render.citation(chunk)

        text = stats_text(figures, citation=citation)
        return [Reply(f"<pre>{render.esc(text)}</pre>"),
                Reply(attachment=Attachment("questions-per-day.png", chart_png(figures),
                                            texts.CHART_CAPTION))]

    def reindex(self, turn: Turn, args: str) -> list[Reply]:
        """`/reindex`: build and switch while the bot keeps answering; the progress in one
        message edited in place (`Reply.key`), which ends as the result."""
        import secrets

        key = f"reindex:{secrets.token_hex(4)}"

        def progress(message: str) -> None:
            turn.notify(Reply(f"{texts.REINDEX_STARTED}\n\n<i>{render.esc(message)}</i>",
                              key=key, edit=True))

        turn.notify(Reply(texts.REINDEX_STARTED, key=key))
        try:
            result = reindex(turn.ctx.settings, turn.ctx.searcher.embedder, actor=turn.user.id,
                             store=turn.ctx.store, progress=progress)
        except IndexProblem as exc:
            return [Reply(texts.REINDEX_FAILED.format(reason=render.esc(exc)), key=key,
                          edit=True)]
        r = result.report
        html = texts.REINDEX_DONE.format(added=r.added, unchanged=r.unchanged, removed=r.removed,
                                         seconds=r.seconds, version=render.esc(r.version),
                                         state=texts.REINDEX_SWITCHED if r.switched
                                         else texts.REINDEX_UNCHANGED)
        if result.checklist_problems:
            html += texts.REINDEX_CHECKLISTS.format(problems=render.esc(
                "\n".join(result.checklist_problems[:10])))
        return [Reply(html, key=key, edit=True)]

    def users(self, turn: Turn, args: str) -> list[Reply]:
        """`/users`: everyone with a role, and pending join requests."""
        store = turn.ctx.store
        lines = [texts.USERS_HEADING]
        for row in store.users():
            if row.get("role"):
                name = row.get("username") or row.get("first_name") or ""
                lines.append(f"• <code>{row['id']}</code> {render.esc(name)} — "
                             f"{render.esc(row['role'])}")
        pending = store.pending_requests()
        if pending:
            lines.append(texts.USERS_WAITING)
            lines += [f"• <code>{p['user_id']}</code> {render.esc(p.get('username') or '')}"
                      for p in pending]
        return [Reply("\n".join(lines))]

    def allow(self, turn: Turn, args: str) -> list[Reply]:
        """`/allow <user id> [staff|trainer|admin]`: says what changed, from what to what."""
        target = _target(turn, args, texts.ALLOW_USAGE)
        if isinstance(target, Reply):
            return [target]
        parts = args.split()
        role = parts[1].lower() if len(parts) > 1 else "staff"
        if role not in ROLES or len(parts) > 2:
            return [Reply(texts.NOT_A_ROLE.format(role=render.esc(" ".join(parts[1:]))))]
        change = turn.ctx.store.change_access(target, role, by=_actor(turn))
        notice = access_notice(change, turn.ctx.language_of(target))
        return [Reply(access_message(change, revoke=False)), *([notice] if notice else [])]

    def revoke(self, turn: Turn, args: str) -> list[Reply]:
        """`/revoke <user id>`: says whether access was taken away, or why not."""
        target = _target(turn, args, texts.REVOKE_USAGE)
        if isinstance(target, Reply):
            return [target]
        if len(args.split()) > 1:
            return [Reply(texts.REVOKE_USAGE)]
        change = turn.ctx.store.change_access(target, None, by=_actor(turn),
                                              open_pilot=turn.ctx.settings.open_pilot)
        return [Reply(access_message(change, revoke=True))]

    def join(self, turn: Turn, args: str) -> list[Reply]:
        """`/join CODE` from a user without access: a request the admins approve with a tap.

        At most JOIN_LIMIT wrong codes per JOIN_WINDOW (kept in the store): then /join is
        refused until the window has passed, and the admins get one alert per lockout. The
        code is never logged (`secret_args`).
        """
        ctx, user = turn.ctx, turn.user
        code = ctx.settings.join_code
        if code is None:
            return [Reply(texts.JOIN_WRONG_CODE)]
        typed = clean_text(args.strip())
        if not typed:
            return [Reply(texts.JOIN_USAGE)]
        role = turn.role
        if role is not None:
            return [Reply(texts.JOIN_HAS_ACCESS.format(role=role))]
        attempt = ctx.store.claim_join_attempt(user.id)
        if not attempt.allowed:
            return [Reply(_locked(attempt))]
        if not hmac.compare_digest(typed.encode("utf-8"),
                                   clean_text(code.get_secret_value()).encode("utf-8")):
            if not attempt.locks:
                return [Reply(texts.JOIN_WRONG_CODE)]
            alerts = []
            for admin in sorted(ctx.settings.admin_ids):
                with i18n.speaking(ctx.language_of(admin)):
                    alerts.append(Reply(texts.JOIN_LOCKED_ADMIN.format(
                        user_id=user.id, name=render.esc(user.username or user.first_name or ""),
                        count=attempt.failures, window=int(JOIN_WINDOW.total_seconds() // 60),
                        until=_until(attempt)), to=admin))
            return [Reply(_locked(attempt)), *alerts]
        ctx.store.join_succeeded(user.id)
        if any(r["user_id"] == user.id for r in ctx.store.pending_requests()):
            return [Reply(texts.JOIN_ALREADY_SENT)]  # the admins were told once
        request_id = ctx.store.request_access(user.id, note=user.username)
        name = render.esc(user.username or user.first_name or "")
        alerts = []
        for admin in sorted(ctx.settings.admin_ids):
            with i18n.speaking(ctx.language_of(admin)):
                buttons = ((Button(texts.APPROVE, f"j:{request_id}:1"),
                            Button(texts.DENY, f"j:{request_id}:0")),)
                alerts.append(Reply(texts.JOIN_REQUEST.format(user_id=user.id, name=name),
                                    buttons, to=admin))
        return [Reply(texts.JOIN_SENT), *alerts]

    def on_press(self, turn: Turn, prefix: str, rest: str) -> list[Reply]:
        """An admin's Approve / Deny on a join request."""
        if not turn.ctx.allowed(turn.user, "admin"):
            return [Reply(texts.ADMIN_ONLY.format(command="join approval"))]
        request_text, _, decision = rest.partition(":")
        try:
            request_id = parse_row_id(request_text)  # forged data: no OverflowError in SQLite
        except InputError:
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        if decision not in ("1", "0"):
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        row = turn.ctx.store.resolve_request(request_id, approve=decision == "1",
                                             by=turn.user.id)
        if row is None:
            return [Reply(texts.JOIN_ALREADY, notice=texts.JOIN_ALREADY)]
        target = int(row["user_id"])
        with i18n.speaking(turn.ctx.language_of(target)):
            told = texts.YOU_ARE_ALLOWED.format(role="staff") if decision == "1" \
                else texts.JOIN_DENIED
        if decision == "1":
            return [Reply(texts.ALLOWED.format(user_id=target, role="staff")),
                    Reply(told, to=target)]
        return [Reply(texts.JOIN_DENIED_ADMIN.format(user_id=target)), Reply(told, to=target)]

    def on_text(self, turn: Turn, message: Text) -> list[Reply] | None:
        return None

    def on_cancel(self, turn: Turn, kind: str) -> str | None:
        return None

    def on_start(self, turn: Turn, payload: str) -> list[Reply] | None:
        return None
