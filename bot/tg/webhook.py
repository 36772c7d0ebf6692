"""The webhook: Telegram POSTs updates to `<public url>/telegram`; each must carry the secret
token (header X-Telegram-Bot-Api-Secret-Token), which is required: given, or generated once and
kept in the data directory. An update is stored before the 200 answer, so Telegram delivers
it again if we fail; a replayed update id is answered 200 and not handled twice.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tornado.web
from telegram import Update
from tornado.httpserver import HTTPServer

from index.errors import Problem

if TYPE_CHECKING:
    from bot.tg.runner import TelegramBot

log = logging.getLogger(__name__)
SECRET_FILE = "webhook-secret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what Telegram accepts as secret_token
MAX_BODY = 1_000_000  # bytes; an update is a few kilobytes


def webhook_secret(data_dir: Path, given: str | None) -> tuple[str, str]:
    """The secret token and where it came from: the one given, or the one kept in the data
    directory (generated on first use, readable by its owner only)."""
    if given:
        if not _SECRET.match(given):
            raise Problem("The webhook secret token may hold only A-Z, a-z, 0-9, _ and -, "
                          "1 to 256 characters.", "choose another --secret-token")
        return given, "--secret-token"
    path = data_dir / SECRET_FILE
    try:
        if path.exists():
            kept = path.read_text(encoding="utf-8").strip()
            if _SECRET.match(kept):
                return kept, str(path)
            log.warning("%s does not hold a valid secret; generating a new one", path)
        data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secret + "\n")
    except OSError as exc:
        raise Problem(f"Cannot keep the webhook secret in {path}: {exc}",
                      "make the data directory writable, or pass --secret-token") from exc
    return secret, str(path)


class _Updates(tornado.web.RequestHandler):
    """POST /telegram: one update, authenticated by the secret token."""

    def initialize(self, runner: TelegramBot, secret: str) -> None:
        self.runner = runner
        self.secret = secret

    def check_xsrf_cookie(self) -> None:  # Telegram sends no cookie: the secret is the check
        return None

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self.secret.encode()):
            log.warning("webhook: a request without the right secret token from %s refused",
                        self.request.remote_ip)
            self.set_status(403)
            return
        try:
            raw = json.loads(self.request.body)
            if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(raw, self.runner.bot)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("webhook: a body that is not an update refused: %s", exc)
            self.set_status(400)
            return
        await self.runner.accept([update])
        self.set_status(200)


async def serve_webhook(runner: TelegramBot, *, listen: str, port: int, public_url: str,
                        secret: str) -> None:
    """Listen for updates until the bot stops; register the webhook in the background."""
    app = tornado.web.Application([(r"/telegram", _Updates, {"runner": runner,
                                                            "secret": secret})])
    server = HTTPServer(app, max_body_size=MAX_BODY)
    try:
        server.listen(port, address=listen)
    except OSError as exc:
        raise Problem(f"Cannot listen on {listen}:{port}: {exc}",
                      "choose a free port with --port, or stop what uses it") from exc
    url = public_url.rstrip("/") + "/telegram"
    log.info("webhook listening on %s:%s for %s", listen, port, url)
    bot: Any = runner.bot
    registered = asyncio.create_task(runner.retry_call("registering the webhook", lambda: (
        bot.set_webhook(url, secret_token=secret, allowed_updates=Update.ALL_TYPES))))
    try:
        await runner.stopping.wait()
    finally:
        registered.cancel()
        server.stop()
        await server.close_all_connections()

