"""Telegram edge: Update -> dialogue event -> replies. The only module importing `telegram`.

All wiring is in `build_application`; there is one error handler.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
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

from bot import render, texts
from bot.app import build_dialogue
from bot.dialogue.engine import Dialogue
from bot.settings import Settings
from bot.store import LogWriteError
from bot.tg.html import SPLIT_AT, split_message
from bot.types import ROLES, Command, Event, Press, Reply, Text, Unsupported, User
from index.errors import Problem

log = logging.getLogger(__name__)



_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?(?:\s+(.*))?$", re.DOTALL)
MESSAGE_KINDS = ("photo", "sticker", "voice", "video", "video_note", "audio", "document",
                 "location", "contact", "poll", "dice", "animation", "venue")


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
    """What the application keeps for the handlers: the dialogue."""

    def __init__(self) -> None:
        self._dialogue: Dialogue | None = None

    @property
    def dialogue(self) -> Dialogue:
        if self._dialogue is None:
            raise RuntimeError("build_application sets the dialogue before the bot starts")
        return self._dialogue

    @dialogue.setter
    def dialogue(self, value: Dialogue) -> None:
        self._dialogue = value


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = ContextTypes(context=CallbackContext, bot_data=BotData)


def _dialogue(context: Context) -> Dialogue:
    return context.bot_data.dialogue


def _user(update: Update) -> User | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    return User(id=user.id, chat_id=chat.id, username=user.username,
                first_name=user.first_name, language=user.language_code, chat_type=chat.type)


def _keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.data)
                                  for b in row] for row in reply.buttons])


async def _send_text(context: Context, chat_id: int, html: str,
                     markup: InlineKeyboardMarkup | None) -> None:
    pieces = split_message(html)
    for n, piece in enumerate(pieces):
        keyboard = markup if n == len(pieces) - 1 else None
        try:
            await context.bot.send_message(chat_id, piece, parse_mode=ParseMode.HTML,
                                           reply_markup=keyboard)
        except BadRequest as exc:
            if "parse entities" not in str(exc).lower():
                raise
            log.warning("HTML rejected, sending plain text: %s", exc)
            await context.bot.send_message(chat_id, render.to_plain(piece), reply_markup=keyboard)


async def deliver(context: Context, chat_id: int, replies: list[Reply]) -> None:
    """Send replies in order; a Bot API error on one reply is logged and the rest go on."""
    for reply in replies:
        target = reply.to if reply.to is not None else chat_id
        try:
            if reply.html:
                await _send_text(context, target, reply.html, _keyboard(reply))
            if reply.attachment is not None:
                await context.bot.send_document(
                    target, InputFile(reply.attachment.content, filename=reply.attachment.filename),
                    caption=reply.attachment.caption or None)
        except TelegramError as exc:
            log.error("sending to chat %s failed: %s", target, exc)


async def _run(update: Update, context: Context, event: Event,
               typing: asyncio.Task[None] | None = None) -> None:
    """Handle the event in a worker thread and send the replies (after `typing`, if any)."""
    user = _user(update)
    if user is None:
        return
    dialogue = _dialogue(context)
    loop = asyncio.get_running_loop()

    async def send(replies: list[Reply]) -> None:
        if typing is not None:
            await typing  # the chat action goes out before the first reply
        await deliver(context, user.chat_id, replies)

    def notify(reply: Reply) -> None:
        asyncio.run_coroutine_threadsafe(send([reply]), loop).result()

    replies = await asyncio.to_thread(dialogue.handle, user, event, notify)
    await send(replies)


async def _typing(context: Context, chat_id: int) -> None:
    """Show "typing..."; cosmetic, so a failure is logged and the answer still goes out."""
    try:
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
    except TelegramError as exc:
        log.warning("typing action in chat %s failed: %s", chat_id, exc)


def _addressed(update: Update, context: Context) -> str | None:
    """The text meant for the bot, or None in a group when the bot is not addressed."""
    message = update.effective_message
    if message is None or message.text is None:
        return None
    text = message.text
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
    """A /command, also `/cmd@bot` in groups."""
    message = update.effective_message
    match = _COMMAND.match(message.text or "") if message else None
    if match is None:
        return
    name, target, args = match.group(1), match.group(2), (match.group(3) or "").strip()
    if target and target.lower() != (context.bot.username or "").lower():
        return
    await _run(update, context, Command(name.lower(), args))


async def on_text(update: Update, context: Context) -> None:
    """Plain text is a question (or a checklist answer); in groups only when addressed."""
    text = _addressed(update, context)
    if text is None:
        await _log_only(update, context, "group_text")
        return
    typing = None
    if update.effective_chat is not None:  # sent while the question is being answered
        typing = asyncio.create_task(_typing(context, update.effective_chat.id))
    await _run(update, context, Text(text), typing)


async def on_press(update: Update, context: Context) -> None:
    """A button press: always answered, then handled."""
    query = update.callback_query
    if query is None:
        return
    user = _user(update)
    if user is None or query.message is None:
        await query.answer(texts.STALE_BUTTON)
        return
    replies = await asyncio.to_thread(_dialogue(context).handle, user, Press(query.data or ""))
    notice = next((r.notice for r in replies if r.notice), None)
    try:
        await query.answer(notice)
    except TelegramError as exc:  # an old query can no longer be answered
        log.info("callback query not answered: %s", exc)
    for reply in replies:
        if not (reply.html or reply.attachment):
            continue
        if reply.edit and reply.to is None and reply.attachment is None \
                and await _edit(query, reply):
            continue
        await deliver(context, user.chat_id, [reply])


async def _edit(query: CallbackQuery, reply: Reply) -> bool:
    """Replace the message whose button was pressed; False when it must be sent anew."""
    if len(reply.html) > SPLIT_AT:
        return False
    try:
        await query.edit_message_text(reply.html, parse_mode=ParseMode.HTML,
                                      reply_markup=_keyboard(reply))
    except BadRequest as exc:
        if "not modified" in str(exc).lower():  # a double tap: the message is already right
            return True
        log.info("message not edited, sending it anew: %s", exc)
        return False
    except TelegramError as exc:
        log.warning("message not edited, sending it anew: %s", exc)
        return False
    return True


async def on_other_message(update: Update, context: Context) -> None:
    """Photos, stickers, voice, ...: logged with their type, and a polite reply in private."""
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
    """Log an update nobody is answered for; a failed write is logged, never told to a group."""
    user = _user(update)
    dialogue = _dialogue(context)
    try:
        await asyncio.to_thread(
            dialogue.store.log_incoming, user_id=user.id if user else None,
            chat_id=user.chat_id if user else None, chat_type=user.chat_type if user else None,
            kind=kind, text=None, update_id=update.update_id, raw=update.to_dict(),
            front="telegram")
    except LogWriteError as exc:
        log.error("update %s not logged: %s", update.update_id, exc)


async def on_any_update(update: object, context: Context) -> None:
    """Updates no other handler takes (channel posts, member changes, ...): logged only."""
    if isinstance(update, Update) and not (update.message or update.callback_query
                                           or update.edited_message):
        await _log_only(update, context, "update")


async def on_error(update: object, context: Context) -> None:
    """The one error handler: log with the traceback; tell the user the message was kept."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, texts.INTERNAL_ERROR)
        except TelegramError:
            log.error("could not tell the user about the error")


async def post_init(application: Application) -> None:
    """Load the index and model, then set the command menus of each role (from the registry)."""
    dialogue = application.bot_data.dialogue
    try:
        await asyncio.to_thread(dialogue.searcher.load)
    except Exception as exc:  # the bot still starts and tells users the index is missing
        log.error("index not loaded at start: %s", exc)
    menus = {role: [BotCommand(n, d) for n, d in dialogue.commands.menu(role)] for role in ROLES}
    await application.bot.set_my_commands(menus["staff"], scope=BotCommandScopeDefault())
    for admin_id in sorted(dialogue.settings.admin_ids):
        try:
            await application.bot.set_my_commands(menus["admin"],
                                                   scope=BotCommandScopeChat(admin_id))
        except TelegramError as exc:  # the admin has not opened a chat with the bot yet
            log.warning("admin menu for %s not set: %s", admin_id, exc)


def build_application(dialogue: Dialogue, token: str, *, rate_limit: bool = True
                      ) -> Application[ExtBot[None], Context, dict[Any, Any], dict[Any, Any],
                                       BotData, Any]:
    """The python-telegram-bot Application with every handler wired."""
    settings = dialogue.settings
    builder = (ApplicationBuilder().token(token).base_url(settings.telegram_api_url)
               .base_file_url(settings.file_url()).context_types(CONTEXT_TYPES)
               .concurrent_updates(True).post_init(post_init))
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
    application = builder.build()
    application.bot_data.dialogue = dialogue
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND,
                                           on_command))
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, on_text))
    application.add_handler(CallbackQueryHandler(on_press))
    application.add_handler(MessageHandler(filters.ALL, on_other_message))
    application.add_handler(TypeHandler(Update, on_any_update), group=1)
    application.add_error_handler(on_error)
    return application  # type: ignore[return-value]


def run_bot(settings: Settings, token: str, *, webhook: bool = False, listen: str = "0.0.0.0",
            port: int = 8443, public_url: str | None = None,
            secret_token: str | None = None) -> None:
    """Run the bot until stopped: long polling, or a webhook at `public_url`/telegram.

    Raises `Problem` for a token Telegram rejects and a Bot API it cannot reach.
    """
    logging.getLogger().setLevel(settings.log_level)
    protect_token(token)
    application = build_application(build_dialogue(settings, front="telegram"), token)
    try:
        if webhook:
            application.run_webhook(listen=listen, port=port, url_path="telegram",
                                    webhook_url=(public_url or "").rstrip("/") + "/telegram",
                                    secret_token=secret_token)
        else:
            application.run_polling()
    except InvalidToken as exc:
        raise Problem("Telegram rejected the bot token (Unauthorized).",
                      "check PARTNERBOT_TELEGRAM_TOKEN (or the token file) against "
                      "@BotFather's /token") from exc
    except NetworkError as exc:
        raise Problem(f"Cannot reach the Bot API at {settings.telegram_api_url}: {exc}",
                      "check the network, or PARTNERBOT_TELEGRAM_API_URL") from exc
