"""Telegram edge: Update -> dialogue event -> replies. The only package importing `telegram`.

`build_application` wires the handlers (one error handler); `TelegramBot` (bot/tg/runner.py)
brings updates in through the store and replies out through the outbox (bot/tg/outbox.py);
`run_bot` runs it by long polling or webhook (bot/tg/webhook.py) until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from dataclasses import replace
from typing import Any

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackContext,
    CallbackQueryHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import i18n
from bot.app import build_dialogue
from bot.dialogue.engine import Dialogue
from bot.inputs import clean_text
from bot.settings import Settings
from bot.store import LogWriteError
from bot.tg.outbox import outgoing
from bot.tg.runner import TelegramBot, worker_name
from bot.tg.webhook import serve_webhook, webhook_secret
from bot.types import Command, Event, Press, Reply, Text, Unsupported, Upload, User
from index.errors import Problem

log = logging.getLogger(__name__)
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?(?:\s+(.*))?$", re.DOTALL)
_LOOSE_COMMAND = re.compile(r"^/([^\s@]*)(?:@(\S+))?(?:\s+(.*))?$", re.DOTALL)
MESSAGE_KINDS = ("photo", "sticker", "voice", "video", "video_note", "audio", "document",
                 "location", "contact", "poll", "dice", "animation", "venue")
TYPING_AFTER = 1.0  # seconds an answer may take before "typing..." is shown


class RedactToken(logging.Filter):
    """Keeps the bot token out of every log line (httpx logs request URLs)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        if record.exc_info and not record.exc_text:  # PTB's InvalidToken names the token
            trace = logging.Formatter().formatException(record.exc_info)
            if self.token in trace:
                record.exc_text = trace.replace(self.token, "<token>")
        elif record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "<token>")
        if record.stack_info and self.token in record.stack_info:
            record.stack_info = record.stack_info.replace(self.token, "<token>")
        return True


def protect_token(token: str) -> None:
    """Install the redaction filter on every handler of the root logger."""
    redact = RedactToken(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    logging.getLogger("httpx").setLevel(logging.WARNING)


class BotData:
    """What the application keeps for the handlers: the dialogue and the running bot."""

    def __init__(self) -> None:
        self._dialogue: Dialogue | None = None
        self._bot: TelegramBot | None = None

    @property
    def dialogue(self) -> Dialogue:
        if self._dialogue is None:
            raise RuntimeError("build_application sets the dialogue before the bot starts")
        return self._dialogue

    @dialogue.setter
    def dialogue(self, value: Dialogue) -> None:
        self._dialogue = value

    @property
    def bot(self) -> TelegramBot:
        if self._bot is None:
            raise RuntimeError("TelegramBot(application, ...) sets itself before it starts")
        return self._bot

    @bot.setter
    def bot(self, value: TelegramBot) -> None:
        self._bot = value


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = ContextTypes(context=CallbackContext, bot_data=BotData)


def _user(update: Update) -> User | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    username = clean_text(user.username) if user.username else None
    first_name = clean_text(user.first_name) if user.first_name else None
    return User(id=user.id, chat_id=chat.id, username=username, first_name=first_name,
                language=user.language_code, chat_type=chat.type)


def _text(name: str, update: object) -> str:
    """A text said outside the dialogue (an error), in the language of the user's app."""
    user = update.effective_user if isinstance(update, Update) else None
    language = i18n.from_telegram(user.language_code if user else None)
    return str(i18n.text_in(name, language or i18n.SOURCE_LANGUAGE))


def _thread(update: Update) -> int | None:
    """The message replies answer in a group (threaded), None in a private chat."""
    message = update.effective_message
    if message is None or message.chat.type == ChatType.PRIVATE:
        return None
    return message.message_id


async def _run(update: Update, context: Context, event: Event, *,
               query: CallbackQuery | None = None) -> list[Reply]:
    """Handle the event in a worker thread (progress queued as it comes), queue the replies;
    "typing" is shown only when the answer takes longer than TYPING_AFTER seconds."""
    user = _user(update)
    if user is None:
        await context.bot_data.bot.reply(update, [])
        return []
    runner = context.bot_data.bot
    dialogue = context.bot_data.dialogue
    loop = asyncio.get_running_loop()
    thread = _thread(update)
    pressed = query.message.message_id if query is not None and query.message else None

    def notify(reply: Reply) -> None:
        rows = outgoing(reply, chat_id=user.chat_id, pressed=pressed, thread=thread)
        asyncio.run_coroutine_threadsafe(
            runner.queue(update.update_id, rows, handled=False), loop).result()

    def work() -> list[Reply]:
        handled = event
        if isinstance(event, Text) and event.reply_to is not None:
            try:
                key = dialogue.store.message_key(user.chat_id, event.reply_to)
            except LogWriteError:
                key = None
            handled = replace(event, reply_key=key)
        return dialogue.handle(user, handled, notify)

    typing = None
    if isinstance(event, Text | Upload):
        typing = asyncio.create_task(_typing_later(context, user.chat_id))
    try:
        replies = await asyncio.to_thread(work)
    except BaseException:
        if query is not None:
            await _answer(query, _text("INTERNAL_ERROR_SHORT", update))
        raise
    finally:
        if typing is not None:
            typing.cancel()
    if query is not None:  # before the replies: the button stops spinning at once
        await _answer(query, next((r.notice for r in replies if r.notice), None))
    await runner.reply(update, replies, pressed=pressed, thread=thread)
    return replies


async def _typing_later(context: Context, chat_id: int) -> None:
    """Show "typing..." if the answer is not ready in a moment; cosmetic, so a failure is
    logged and the answer still goes out."""
    await asyncio.sleep(TYPING_AFTER)
    try:
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
    except TelegramError as exc:
        log.warning("typing action in chat %s failed: %s", chat_id, exc)


def _text_of(message: Message) -> str:
    return clean_text(message.text or message.caption or "")


def _addressed(update: Update, context: Context) -> str | None:
    """The text meant for the bot, or None in a group when the bot is not addressed."""
    message = update.effective_message
    if message is None or (message.text is None and message.caption is None):
        return None
    text = _text_of(message)
    if message.chat.type == ChatType.PRIVATE:
        return text
    mention = f"@{context.bot.username}"
    replied = message.reply_to_message
    if mention.lower() in text.lower():
        return re.sub(re.escape(mention), "", text, flags=re.IGNORECASE).strip()
    if replied is not None and replied.from_user is not None:
        return text if replied.from_user.id == context.bot.id else None
    return None


async def on_command(update: Update, context: Context) -> None:
    """A /command, also `/cmd@bot` in groups; one for another bot is logged, not answered."""
    message = update.effective_message
    text = _text_of(message) if message else ""
    match = _COMMAND.match(text) or _LOOSE_COMMAND.match(text)
    if match is None:
        await _log_only(update, context, "command")
        return
    name, target, args = match.group(1), match.group(2), (match.group(3) or "").strip()
    if target and target.lower() != (context.bot.username or "").lower():
        await _log_only(update, context, "command_for_another_bot")
        return
    await _run(update, context, Command(name.lower()[:64], args))


async def on_text(update: Update, context: Context) -> None:
    """Plain text (or a photo's caption) is a question or a checklist answer; in groups only
    when the bot is addressed."""
    text = _addressed(update, context)
    if text is None:
        await _log_only(update, context, "group_text")
        return
    if text.startswith("/"):  # "/hélp", a 40-letter command: Telegram marks no command
        await on_command(update, context)
        return
    message = update.effective_message
    replied = message.reply_to_message if message else None
    reply_to = replied.message_id if replied is not None and replied.from_user is not None \
        and replied.from_user.id == context.bot.id else None
    await _run(update, context, Text(text, reply_to=reply_to))


async def on_press(update: Update, context: Context) -> None:
    """A button press: handled, then always answered (with the flow's notice, if any)."""
    query = update.callback_query
    if query is None:
        await context.bot_data.bot.reply(update, [])
        return
    user = _user(update)
    if user is None or query.message is None:
        await _answer(query, _text("STALE_BUTTON", update))
        await context.bot_data.bot.reply(update, [])
        return
    await _run(update, context, Press(clean_text(query.data or "")), query=query)


async def _answer(query: CallbackQuery, notice: str | None) -> None:
    try:
        await query.answer(notice)
    except TelegramError as exc:  # an old query can no longer be answered
        log.info("callback query not answered: %s", exc)


async def on_document(update: Update, context: Context) -> None:
    """A file: an upload (admins add documents in a private chat); in groups logged only."""
    message = update.effective_message
    if message is None or message.document is None:
        return
    if message.chat.type != ChatType.PRIVATE:
        await _log_only(update, context, "document")
        return
    document = message.document
    loop = asyncio.get_running_loop()

    def fetch() -> bytes:
        async def download() -> bytes:
            file = await context.bot.get_file(document.file_id)
            return bytes(await file.download_as_bytearray())
        try:
            return asyncio.run_coroutine_threadsafe(download(), loop).result(120)
        except (TelegramError, TimeoutError, OSError) as exc:
            raise Problem(f"The file could not be downloaded from Telegram: {exc}",
                          "send it again in a moment") from exc

    upload = Upload(filename=clean_text(document.file_name or "document"),
                    size=document.file_size, mime=document.mime_type,
                    caption=clean_text(message.caption or ""), fetch=fetch)
    await _run(update, context, upload)


async def on_other_message(update: Update, context: Context) -> None:
    """Photos without caption, stickers, voice, ...: logged with their type, and a polite
    reply in private."""
    message = update.effective_message
    if update.edited_message is not None:
        kind = "edited_message"
    else:
        kind = next((k for k in MESSAGE_KINDS if message is not None and getattr(message, k)),
                    "other")
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await _log_only(update, context, kind)
        return
    await _run(update, context, Unsupported(kind, update.to_dict()))


async def _log_only(update: Update, context: Context, kind: str) -> None:
    """Log an update nobody is answered for; only admins hear of a failed log."""
    message = update.effective_message
    text = _text_of(message) if message is not None and kind.startswith("command") else None
    alerts = await asyncio.to_thread(context.bot_data.dialogue.log_only, _user(update),
                                     kind=kind, text=text, update_id=update.update_id,
                                     raw=update.to_dict())
    await context.bot_data.bot.reply(update, alerts)


async def on_any_update(update: object, context: Context) -> None:
    """Updates no handler above takes (channel posts, member changes, ...): logged once."""
    if isinstance(update, Update) and not (update.message or update.callback_query
                                           or update.edited_message):
        chat = update.effective_chat
        kind = "channel_post" if update.channel_post or update.edited_channel_post else "update"
        if chat is not None and chat.type == ChatType.CHANNEL:
            kind = "channel_post"
        await _log_only(update, context, kind)


async def on_error(update: object, context: Context) -> None:
    """The one error handler: log with the traceback; tell the user what happened (the
    message is in the session log, so the team can look at it)."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update):
        chat = update.effective_chat
        replies = [Reply(_text("INTERNAL_ERROR", update))] if chat is not None else []
        await context.bot_data.bot.reply(update, replies, thread=_thread(update))


def build_application(dialogue: Dialogue, token: str, *, rate_limit: bool = True
                      ) -> Application[ExtBot[None], Context, dict[Any, Any], dict[Any, Any],
                                       BotData, Any]:
    """The python-telegram-bot Application with every handler wired (no updater: updates
    come through `TelegramBot`)."""
    settings = dialogue.settings
    builder = (ApplicationBuilder().token(token).base_url(settings.telegram_api_url)
               .base_file_url(settings.file_url()).context_types(CONTEXT_TYPES).updater(None))
    if rate_limit:  # Telegram's overall limit; a 429 is retried by the outbox, per chat
        builder = builder.rate_limiter(AIORateLimiter(max_retries=0))  # type: ignore[arg-type]
    application = builder.build()
    application.bot_data.dialogue = dialogue
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND,
                                           on_command))
    application.add_handler(MessageHandler(
        filters.UpdateType.MESSAGE & (filters.TEXT | filters.CAPTION), on_text))
    application.add_handler(CallbackQueryHandler(on_press))
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.Document.ALL,
                                           on_document))
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGES, on_other_message))
    application.add_handler(TypeHandler(Update, on_any_update), group=1)
    application.add_error_handler(on_error)
    return application  # type: ignore[return-value]


def run_bot(settings: Settings, token: str, *, webhook: bool = False, listen: str = "127.0.0.1",
            port: int = 8443, public_url: str | None = None,
            secret_token: str | None = None) -> None:
    """Run the bot until SIGTERM or SIGINT: long polling, or a webhook at `public_url`/telegram.

    Raises `Problem` for a token Telegram rejects, a Bot API it cannot reach, a port it
    cannot listen on.
    """
    logging.getLogger().setLevel(settings.log_level)
    protect_token(token)
    secret = where = None
    if webhook:
        secret, where = webhook_secret(settings.data_dir, secret_token)
    dialogue = build_dialogue(settings, front="telegram")

    async def main() -> None:
        # a webhook worker's claims carry its port: several workers on one host are
        # distinct, and each takes its own claims back when it restarts
        runner = TelegramBot(build_application(dialogue, token), dialogue,
                             worker=worker_name(port if webhook else None))
        await runner.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runner.stopping.set)
        try:
            if webhook:
                assert secret is not None and public_url is not None
                log.info("webhook secret token from %s", where)
                await serve_webhook(runner, listen=listen, port=port, public_url=public_url,
                                    secret=secret)
            else:
                await runner.poll()
        finally:
            await runner.stop()
            dialogue.store.close()

    asyncio.run(main())
