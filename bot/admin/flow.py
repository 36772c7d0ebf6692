"""Admin commands in the conversation: /stats, /reindex, /users, /allow, /revoke, and /join
for users without access.

Callback data: `j:<request id>:<1|0>` approves or denies a join request (admins only).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from bot import render, texts
from bot.admin.ops import chart_png, reindex, stats_text
from bot.dialogue.flow import CommandSpec, Turn
from bot.types import ROLES, Attachment, Button, Reply, Text
from index.errors import IndexProblem


def _target(args: str) -> tuple[int | None, str]:
    parts = args.split()
    if not parts or not parts[0].lstrip("-").isdigit():
        return None, ""
    return int(parts[0]), (parts[1].lower() if len(parts) > 1 else "staff")


@dataclass
class AdminFlow:
    """The commands admins use in the chat, and the join request of users without access."""

    prefixes: tuple[str, ...] = ("j",)
    pending_kinds: tuple[str, ...] = ()

    def commands(self) -> Sequence[CommandSpec]:
        return [
            CommandSpec("stats", texts.SUMMARY_STATS, self.stats, role="admin"),
            CommandSpec("reindex", texts.SUMMARY_REINDEX, self.reindex, role="admin"),
            CommandSpec("users", texts.SUMMARY_USERS, self.users, role="admin"),
            CommandSpec("allow", texts.SUMMARY_ALLOW, self.allow, role="admin",
                        usage="<user id> [staff|trainer|admin]"),
            CommandSpec("revoke", texts.SUMMARY_REVOKE, self.revoke, role="admin",
                        usage="<user id>"),
            CommandSpec("join", texts.SUMMARY_JOIN, self.join, role=None, usage="<code>",
                        menu=False),
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
        """`/reindex`: build and switch while the bot keeps answering; progress as messages."""
        def progress(message: str) -> None:
            turn.notify(Reply(render.esc(message)))

        progress(texts.REINDEX_STARTED)
        try:
            result = reindex(turn.ctx.settings, turn.ctx.searcher.embedder, actor=turn.user.id,
                             store=turn.ctx.store, progress=progress)
        except IndexProblem as exc:
            return [Reply(texts.REINDEX_FAILED.format(reason=render.esc(exc)))]
        r = result.report
        html = texts.REINDEX_DONE.format(added=r.added, unchanged=r.unchanged, removed=r.removed,
                                         seconds=r.seconds, version=render.esc(r.version),
                                         state="switched" if r.switched else "nothing changed")
        if result.checklist_problems:
            html += texts.REINDEX_CHECKLISTS.format(problems=render.esc(
                "\n".join(result.checklist_problems[:10])))
        return [Reply(html)]

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
        """`/allow <user id> [staff|trainer|admin]`."""
        target, role = _target(args)
        if target is None or role not in ROLES:
            return [Reply(texts.ALLOW_USAGE)]
        turn.ctx.store.set_role(target, role, by=turn.user.id)
        return [Reply(texts.ALLOWED.format(user_id=target, role=role)),
                Reply(texts.YOU_ARE_ALLOWED.format(role=role), to=target)]

    def revoke(self, turn: Turn, args: str) -> list[Reply]:
        """`/revoke <user id>`."""
        target, _ = _target(args)
        if target is None:
            return [Reply(texts.REVOKE_USAGE)]
        if target == turn.user.id:
            return [Reply(texts.REVOKE_SELF)]
        done = turn.ctx.store.revoke(target, by=turn.user.id)
        return [Reply((texts.REVOKED if done else texts.NOT_A_USER).format(user_id=target))]

    def join(self, turn: Turn, args: str) -> list[Reply]:
        """`/join CODE` from a user without access: a request the admins approve with a tap."""
        ctx, user = turn.ctx, turn.user
        code = ctx.settings.join_code
        if code is None or not hmac.compare_digest(args.strip(), code.get_secret_value()):
            return [Reply(texts.JOIN_WRONG_CODE)]
        request_id = ctx.store.request_access(user.id, note=user.username)
        name = render.esc(user.username or user.first_name or "")
        buttons = ((Button(texts.APPROVE, f"j:{request_id}:1"),
                    Button(texts.DENY, f"j:{request_id}:0")),)
        alerts = [Reply(texts.JOIN_REQUEST.format(user_id=user.id, name=name), buttons, to=admin)
                  for admin in sorted(ctx.settings.admin_ids)]
        return [Reply(texts.JOIN_SENT), *alerts]

    def on_press(self, turn: Turn, prefix: str, rest: str) -> list[Reply]:
        """An admin's Approve / Deny on a join request."""
        if not turn.ctx.allowed(turn.user, "admin"):
            return [Reply(texts.ADMIN_ONLY.format(command="join approval"))]
        request_text, _, decision = rest.partition(":")
        if not request_text.isdigit() or decision not in ("1", "0"):
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        row = turn.ctx.store.resolve_request(int(request_text), approve=decision == "1",
                                             by=turn.user.id)
        if row is None:
            return [Reply(texts.JOIN_ALREADY, notice=texts.JOIN_ALREADY)]
        target = int(row["user_id"])
        if decision == "1":
            return [Reply(texts.ALLOWED.format(user_id=target, role="staff")),
                    Reply(texts.YOU_ARE_ALLOWED.format(role="staff"), to=target)]
        return [Reply(texts.JOIN_DENIED_ADMIN.format(user_id=target)),
                Reply(texts.JOIN_DENIED, to=target)]

    def on_text(self, turn: Turn, message: Text) -> list[Reply] | None:
        return None

    def on_cancel(self, turn: Turn, kind: str) -> str | None:
        return None

    def on_start(self, turn: Turn, payload: str) -> list[Reply] | None:
        return None
