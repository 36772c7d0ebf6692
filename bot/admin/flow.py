"""Admin commands in the dialogue: /stats, /reindex, /users, /allow, /revoke, /join.

Callback data: `j:<request id>:<1|0>` approves or denies a join request (admins only).
"""

from __future__ import annotations

import hmac

from bot import texts
from bot.admin import chart_png, reindex, stats_text
from bot.dialogue import ROLES, Attachment, Button, Dialogue, Notify, Reply, User
from index.errors import IndexProblem


def install(dialogue: Dialogue) -> None:
    """Register the admin commands (checked on the server: role admin)."""
    for name, handler in (("stats", stats), ("reindex", reindex_command), ("users", users),
                          ("allow", allow), ("revoke", revoke)):
        dialogue.extensions[f"/{name}"] = handler
        dialogue.command_roles[name] = "admin"
    dialogue.extensions["join"] = join
    dialogue.extensions["press:j"] = press_join


def _citation(dialogue: Dialogue, chunk_id: str) -> str:
    chunk = dialogue.searcher.current().by_id(chunk_id)
    return chunk.citation if chunk is not None else f"{chunk_id} (no longer indexed)"


def stats(dialogue: Dialogue, user: User, args: str, notify: Notify | None = None
          ) -> list[Reply]:
    """`/stats`: usage report and the questions-per-day chart."""
    figures = dialogue.sessions.stats()
    text = stats_text(figures, citation=lambda c: _citation(dialogue, c))
    return [Reply(f"<pre>{texts.esc(text)}</pre>"),
            Reply(attachment=Attachment("questions-per-day.png", chart_png(figures),
                                        texts.CHART_CAPTION))]


def reindex_command(dialogue: Dialogue, user: User, args: str, notify: Notify | None = None
                    ) -> list[Reply]:
    """`/reindex`: build and switch while the bot keeps answering; progress as messages."""
    def progress(message: str) -> None:
        if notify is not None:
            notify(Reply(texts.esc(message)))

    progress(texts.REINDEX_STARTED)
    try:
        result = reindex(dialogue.settings, dialogue.searcher.embedder, actor=user.id,
                         sessions=dialogue.sessions, progress=progress)
    except IndexProblem as exc:
        return [Reply(texts.REINDEX_FAILED.format(reason=texts.esc(exc)))]
    r = result.report
    html = texts.REINDEX_DONE.format(added=r.added, unchanged=r.unchanged, removed=r.removed,
                                     seconds=r.seconds, version=texts.esc(r.version),
                                     state="switched" if r.switched else "nothing changed")
    if result.checklist_problems:
        html += texts.REINDEX_CHECKLISTS.format(problems=texts.esc(
            "\n".join(result.checklist_problems[:10])))
    return [Reply(html)]


def users(dialogue: Dialogue, user: User, args: str, notify: Notify | None = None
          ) -> list[Reply]:
    """`/users`: everyone with a role, and pending join requests."""
    lines = ["<b>Users</b>"]
    for row in dialogue.sessions.users():
        if row.get("role"):
            name = row.get("username") or row.get("first_name") or ""
            lines.append(f"• <code>{row['id']}</code> {texts.esc(name)} — {texts.esc(row['role'])}")
    pending = dialogue.sessions.pending_requests()
    if pending:
        lines.append("\n<b>Waiting for approval</b>")
        lines += [f"• <code>{p['user_id']}</code> {texts.esc(p.get('username') or '')}"
                  for p in pending]
    return [Reply("\n".join(lines))]


def _target(args: str) -> tuple[int | None, str]:
    parts = args.split()
    if not parts or not parts[0].lstrip("-").isdigit():
        return None, ""
    return int(parts[0]), (parts[1].lower() if len(parts) > 1 else "staff")


def allow(dialogue: Dialogue, user: User, args: str, notify: Notify | None = None
          ) -> list[Reply]:
    """`/allow <user id> [staff|trainer|admin]`."""
    target, role = _target(args)
    if target is None or role not in ROLES:
        return [Reply(texts.ALLOW_USAGE)]
    dialogue.sessions.set_role(target, role, by=user.id)
    return [Reply(texts.ALLOWED.format(user_id=target, role=role)),
            Reply(texts.YOU_ARE_ALLOWED.format(role=role), to=target)]


def revoke(dialogue: Dialogue, user: User, args: str, notify: Notify | None = None
           ) -> list[Reply]:
    """`/revoke <user id>`."""
    target, _ = _target(args)
    if target is None:
        return [Reply(texts.REVOKE_USAGE)]
    if target == user.id:
        return [Reply(texts.REVOKE_SELF)]
    done = dialogue.sessions.revoke(target, by=user.id)
    return [Reply((texts.REVOKED if done else texts.NOT_A_USER).format(user_id=target))]


def join(dialogue: Dialogue, user: User, args: str) -> list[Reply]:
    """`/join CODE` from a user without access: a request the admins approve with one tap."""
    code = dialogue.settings.join_code
    if code is None or not hmac.compare_digest(args.strip(), code.get_secret_value()):
        return [Reply(texts.JOIN_WRONG_CODE)]
    request_id = dialogue.sessions.request_access(user.id, note=user.username)
    name = texts.esc(user.username or user.first_name or "")
    buttons = ((Button(texts.APPROVE, f"j:{request_id}:1"), Button(texts.DENY,
                                                                    f"j:{request_id}:0")),)
    alerts = [Reply(texts.JOIN_REQUEST.format(user_id=user.id, name=name), buttons, to=admin)
              for admin in sorted(dialogue.settings.admin_ids)]
    return [Reply(texts.JOIN_SENT), *alerts]


def press_join(dialogue: Dialogue, user: User, rest: str) -> list[Reply]:
    """An admin's Approve/Deny on a join request."""
    if dialogue.role(user) != "admin":
        return [Reply(texts.ADMIN_ONLY.format(command="join approval"))]
    request_text, _, decision = rest.partition(":")
    if not request_text.isdigit() or decision not in ("1", "0"):
        return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
    row = dialogue.sessions.resolve_request(int(request_text), approve=decision == "1",
                                            by=user.id)
    if row is None:
        return [Reply(texts.JOIN_ALREADY, notice=texts.JOIN_ALREADY)]
    target = int(row["user_id"])
    if decision == "1":
        return [Reply(texts.ALLOWED.format(user_id=target, role="staff")),
                Reply(texts.YOU_ARE_ALLOWED.format(role="staff"), to=target)]
    return [Reply(texts.JOIN_DENIED_ADMIN.format(user_id=target)),
            Reply(texts.JOIN_DENIED, to=target)]
