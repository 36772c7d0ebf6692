"""Users and roles, requests to join, the join-code lockout, and the audit trail of admin
actions.

Who may change whose access (`change_access`, used by /allow, /revoke and `partnerbot users`):

- an admin listed in the settings (PARTNERBOT_ADMINS; role "admin" from source "settings") is
  changed only there: every change of such a user is refused ("settings_admin");
- nobody changes or revokes their own access ("self");
- only admins listed in the settings, and the server's console (an actor given as text, e.g.
  "cli:alice"), may make someone an admin or change or revoke another admin ("admins_only");
  admins made in the bot manage staff and trainers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from bot.inputs import clean_text
from bot.store.db import Row, Store, _decode, _insert, _iso, _since
from bot.store.sql import Connection
from bot.types import ROLES

JOIN_LIMIT = 5  # wrong join codes a user may send in JOIN_WINDOW before /join is locked
JOIN_WINDOW = timedelta(minutes=15)  # the counting window, and how long a lockout lasts
Refusal = Literal["self", "settings_admin", "admins_only"]


@dataclass(frozen=True)
class RoleChange:
    """What `change_access` did: the stored role before and after, or why it refused."""

    user_id: int
    before: str | None  # the stored role before (None: no role)
    after: str | None
    changed: bool
    was_revoked: bool = False  # an admin had already taken this user's access away
    refused: Refusal | None = None  # why nothing was done


@dataclass(frozen=True)
class JoinAttempt:
    """Whether a `/join` code may be compared now, and the lockout it is part of."""

    allowed: bool  # False: locked out, the code must not even be compared
    locked_until: datetime | None  # end of the lockout this attempt hit or (if wrong) starts
    locks: bool  # this attempt reaches the limit: if its code is wrong, the lockout starts
    failures: int  # wrong codes in the current window, this one counted as wrong
    seconds_left: float = 0.0  # until locked_until, from the store's clock


def _clean(value: str | None) -> str | None:
    return None if value is None else clean_text(value)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}")


class Access(Store):
    """Who may use the bot, and what admins did."""

    def touch_user(
        self, user_id: int, *, username: str | None, first_name: str | None,
        language: str | None, at: str | None = None,
    ) -> None:
        """Record that a user was seen; a field given as None keeps its stored value."""
        now = at or self._now()
        with self._write("users") as db:
            db.execute(
                """INSERT INTO users (id, username, first_name, language, first_seen, last_seen)
                VALUES (:id, :username, :first_name, :language, :now, :now)
                ON CONFLICT (id) DO UPDATE SET
                    username = coalesce(excluded.username, users.username),
                    first_name = coalesce(excluded.first_name, users.first_name),
                    language = coalesce(excluded.language, users.language),
                    first_seen = coalesce(users.first_seen, excluded.first_seen),
                    last_seen = excluded.last_seen""",
                {"id": user_id, "username": _clean(username), "first_name": _clean(first_name),
                 "language": _clean(language), "now": now},
            )

    def role(self, user_id: int) -> str | None:
        """The user's role, or None if they are not allowed."""
        rows = self._rows("SELECT role FROM users WHERE id = ?", [user_id])
        return rows[0]["role"] if rows else None

    def users(self) -> list[Row]:
        """Every known user, by id."""
        return self._rows("SELECT * FROM users ORDER BY id")

    def set_language(self, user_id: int, language: str | None) -> None:
        """Remember the language a user chose with /language (None: automatic again)."""
        with self._write("users") as db:
            db.execute(
                """INSERT INTO users (id, chosen_language) VALUES (?, ?)
                ON CONFLICT (id) DO UPDATE SET chosen_language = excluded.chosen_language""",
                [user_id, language],
            )

    def chosen_language(self, user_id: int, *, or_telegram: bool = False) -> str | None:
        """The language the user chose with /language, or None; with `or_telegram`, else the
        Telegram language_code recorded at their last message (for messages sent to them
        while someone else's message is handled)."""
        rows = self._rows("SELECT chosen_language, language FROM users WHERE id = ?", [user_id])
        if not rows:
            return None
        row = rows[0]
        return row["chosen_language"] or (row["language"] if or_telegram else None)

    def _set_role(
        self, db: Connection, user_id: int, role: str | None, *, source: str, actor: int | str,
        action: str,
    ) -> None:
        row = db.execute("SELECT role FROM users WHERE id = ?", [user_id]).fetchone()
        db.execute(
            """INSERT INTO users (id, role, role_source) VALUES (?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET role = excluded.role, role_source = excluded.role_source
            """,
            [user_id, role, source],
        )
        detail = {"user_id": user_id, "role": role, "previous": row[0] if row else None}
        self._audit(db, actor, action, detail)

    def set_role(self, user_id: int, role: str, *, by: int | str) -> None:
        """Give a user a role (audited); bootstrap_roles will not downgrade it."""
        _check_role(role)
        with self._write("users") as db:
            db.lock("access")
            self._set_role(db, user_id, role, source="admin", actor=by, action="set_role")

    def revoke(self, user_id: int, *, by: int | str) -> bool:
        """Take a user's access away (audited), also in an open pilot; False if already revoked."""
        with self._write("users") as db:
            db.lock("access")
            row = db.execute("SELECT role, role_source FROM users WHERE id = ?",
                             [user_id]).fetchone()
            if row is not None and row[0] is None and row[1] == "admin":
                return False
            self._set_role(db, user_id, None, source="admin", actor=by, action="revoke")
            return True

    def change_access(
        self, user_id: int, role: str | None, *, by: int | str, open_pilot: bool = False,
    ) -> RoleChange:
        """Give ``role`` to a user, or (None) take their access away, by the rules of the
        module docstring, in one transaction; audited when something changed.

        ``by`` is the admin's user id, or text for the server's console ("cli:alice").
        Revoking a user without a role records a deny only in an ``open_pilot`` (where they
        had access as staff); otherwise nothing changes ("had no access").
        """
        if role is not None:
            _check_role(role)
        with self._write("users") as db:
            db.lock("access")

            def stored(uid: int | str) -> tuple[str | None, str | None]:
                row = db.execute("SELECT role, role_source FROM users WHERE id = ?",
                                 [uid]).fetchone()
                return (row[0], row[1]) if row is not None else (None, None)

            before, source = stored(user_id)
            was_revoked = before is None and source == "admin"
            refused: Refusal | None = None
            console = isinstance(by, str)
            if not console and by == user_id:
                refused = "self"
            elif before == "admin" and source == "settings":
                refused = "settings_admin"
            elif not console and "admin" in (before, role) and stored(by) != ("admin",
                                                                               "settings"):
                refused = "admins_only"
            if refused is not None:
                return RoleChange(user_id, before, before, False, was_revoked, refused)
            if role is None:
                unchanged = was_revoked or (before is None and not open_pilot)
            else:
                unchanged = before == role
            if unchanged:
                return RoleChange(user_id, before, before, False, was_revoked)
            self._set_role(db, user_id, role, source="admin", actor=by,
                           action="set_role" if role is not None else "revoke")
            return RoleChange(user_id, before, role, True, was_revoked)

    def revoked(self, user_id: int) -> bool:
        """True when an admin took this user's access away (it outlives the settings)."""
        rows = self._rows("SELECT role, role_source FROM users WHERE id = ?", [user_id])
        return bool(rows) and rows[0]["role"] is None and rows[0]["role_source"] == "admin"

    def bootstrap_roles(self, *, admins: Iterable[int], allowed: Iterable[int]) -> None:
        """Apply the roles from settings at start-up; each change is audited by "settings".

        Settings admins become "admin". Other allowed users get "staff" unless an admin set
        or revoked their role in the bot: that decision stands. A role that came from settings
        is removed when the user is no longer listed there.
        """
        admin_ids = set(admins)
        allowed_ids = set(allowed) - admin_ids
        with self._write("users") as db:
            db.lock("access")
            current = {
                r["id"]: (r["role"], r["role_source"])
                for r in db.query("SELECT id, role, role_source FROM users")
            }
            from_settings = {uid for uid, (_, source) in current.items() if source == "settings"}
            for uid in sorted(admin_ids | allowed_ids | from_settings):
                role, source = current.get(uid, (None, None))
                if uid in admin_ids:
                    wanted: str | None = "admin"
                elif source == "admin":
                    continue
                else:
                    wanted = "staff" if uid in allowed_ids else None
                if wanted != role:
                    self._set_role(
                        db, uid, wanted, source="settings", actor="settings", action="bootstrap"
                    )

    def request_access(self, user_id: int, *, note: str | None = None) -> int:
        """Record a request to join and return its id; a pending request is reused."""
        with self._write("access_requests") as db:
            db.lock("access")
            row = db.execute(
                "SELECT id FROM access_requests WHERE user_id = ? AND status = 'pending'",
                [user_id],
            ).fetchone()
            if row is not None:
                if note is not None:
                    db.execute("UPDATE access_requests SET note = ? WHERE id = ?", [note, row[0]])
                return int(row[0])
            return _insert(
                db,
                "access_requests",
                {"user_id": user_id, "note": _clean(note), "status": "pending",
                 "requested_at": self._now()},
            )

    def claim_join_attempt(
        self, user_id: int, *, limit: int = JOIN_LIMIT, window: timedelta = JOIN_WINDOW,
    ) -> JoinAttempt:
        """Before a `/join` code is compared: refuse while the user is locked out, else count
        the attempt as wrong (undone by `join_succeeded`), all in one transaction, so that
        concurrent attempts cannot get past the limit.

        Wrong codes count from the first one in a window of ``window``; the ``limit``-th wrong
        code in it locks `/join` for ``window``; after a lockout the count starts again.
        Only the user id and times are kept, never the code.
        """
        now = datetime.fromisoformat(self._now())  # aware UTC, like the stored times
        with self._write("join_limits") as db:
            db.lock("access")
            row = db.execute(
                "SELECT window_start, failures, locked_until FROM join_limits WHERE user_id = ?",
                [user_id],
            ).fetchone()
            until = None if row is None or row[2] is None else datetime.fromisoformat(row[2])
            if until is not None and now < until:
                return JoinAttempt(False, until, False, int(row[1]),
                                   (until - now).total_seconds())
            fresh = (row is None or until is not None
                     or now >= datetime.fromisoformat(row[0]) + window)
            start, failures = (now, 1) if fresh else (datetime.fromisoformat(row[0]),
                                                      int(row[1]) + 1)
            locks = failures >= limit
            until = now + window if locks else None
            db.execute(
                """INSERT INTO join_limits (user_id, window_start, failures, locked_until)
                VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET
                    window_start = excluded.window_start, failures = excluded.failures,
                    locked_until = excluded.locked_until""",
                [user_id, _iso(start), failures, None if until is None else _iso(until)],
            )
            return JoinAttempt(True, until, locks, failures,
                               window.total_seconds() if locks else 0.0)

    def join_succeeded(self, user_id: int) -> None:
        """The code was right: the attempt claimed for it, and earlier wrong ones, are dropped."""
        with self._write("join_limits") as db:
            db.execute("DELETE FROM join_limits WHERE user_id = ?", [user_id])

    def pending_requests(self) -> list[Row]:
        """Open requests, oldest first, with the user's name where known."""
        return self._rows(
            """SELECT r.id, r.user_id, r.note, r.requested_at, u.username, u.first_name
            FROM access_requests r LEFT JOIN users u ON u.id = r.user_id
            WHERE r.status = 'pending' ORDER BY r.id"""
        )

    def resolve_request(
        self, request_id: int, *, approve: bool, by: int | str, role: str = "staff"
    ) -> Row | None:
        """Approve (giving ``role``) or deny a pending request, audited; None if not pending."""
        if approve:
            _check_role(role)
        with self._write("access_requests") as db:
            db.lock("access")
            row = db.execute(
                "SELECT user_id FROM access_requests WHERE id = ? AND status = 'pending'",
                [request_id],
            ).fetchone()
            if row is None:
                return None
            db.execute(
                """UPDATE access_requests SET status = ?, role = ?, resolved_at = ?,
                resolved_by = ? WHERE id = ?""",
                ["approved" if approve else "denied", role if approve else None, self._now(),
                 str(by), request_id],
            )
            if approve:
                self._set_role(db, row[0], role, source="admin", actor=by, action="approve")
            else:
                self._audit(db, by, "deny", {"request_id": request_id, "user_id": row[0]})
            return next(db.query("SELECT * FROM access_requests WHERE id = ?", [request_id]))

    def audit(self, *, actor: int | str, action: str, detail: dict[str, Any] | None = None,
              at: str | None = None) -> None:
        """Record an admin action; ``actor`` is a user id or a name such as "cli"."""
        with self._write("audit") as db:
            self._audit(db, actor, action, detail, at=at)

    def audit_log(self, since: date | None = None) -> list[Row]:
        """Audit rows since a date, oldest first, detail decoded."""
        rows = self._rows("SELECT * FROM audit WHERE at >= ? ORDER BY id", [_since(since)])
        return [_decode("audit", row) for row in rows]

