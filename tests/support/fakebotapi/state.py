"""What Telegram knows: the bot, users, chats, their messages, files, buttons and settings.

Plain data and the rules that keep it consistent; callers hold the fake's lock.
"""

from __future__ import annotations

import copy
import json
import re
import time
from typing import Any

from .model import JSON, MAX_CAPTION_LENGTH, MAX_TEXT_LENGTH, ApiError, UploadedFile, chat_key
from .telegram_html import parse_html


class BotState:
    """The in-memory Telegram world one bot sees."""

    def __init__(self, token: str, username: str, first_name: str,
                 strict_ampersand: bool) -> None:
        self.token = token
        self.strict_ampersand = strict_ampersand
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else 123456
        self.bot_user: JSON = {
            "id": self.bot_id, "is_bot": True, "first_name": first_name, "username": username,
        }
        self.me: JSON = {
            **self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False, "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.webhook: JSON | None = None
        self.commands: dict[tuple[str, str], list[JSON]] = {}  # (scope JSON, language) -> list
        self.users: dict[int, JSON] = {}
        self.chats: dict[int | str, JSON] = {}
        self.msgs: dict[int | str, dict[int, JSON]] = {}
        self.last_msg_id: dict[int | str, int] = {}
        self.callbacks: dict[str, bool] = {}  # callback query id -> answered
        self.files: dict[str, tuple[UploadedFile, str, str]] = {}  # id -> (file, path, uniq)
        self.paths: dict[str, str] = {}  # file_path -> file_id

    # ----------------------------------------------------------------- reading

    def messages(self, chat_id: int | str, *, include_user: bool = False) -> list[JSON]:
        """Copies of the bot's (and with ``include_user`` the users') messages in a chat."""
        chat = self.msgs.get(chat_key(chat_id) or 0, {})
        return copy.deepcopy([m for _, m in sorted(chat.items())
                              if include_user or m["from"]["id"] == self.bot_id])

    def message(self, chat: int | str, message_id: int) -> JSON | None:
        return self.msgs.get(chat, {}).get(message_id)

    def file_at(self, token: str, path: str) -> UploadedFile | None:
        """The file served at /file/bot<token>/<path> (None: no such file or wrong token)."""
        file_id = self.paths.get(path) if token == self.token else None
        return self.files[file_id][0] if file_id is not None else None

    @staticmethod
    def scope_key(scope: Any, language_code: Any) -> tuple[str, str]:
        if isinstance(scope, str):
            scope = json.loads(scope)
        return json.dumps(scope or {"type": "default"}, sort_keys=True), str(language_code or "")

    # ----------------------------------------------------------------- users and chats

    def user(self, user_id: int) -> JSON:
        return self.users.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": "Test"})

    def user_chat(self, user_id: int, chat_id: int | None, chat_type: str = "private") -> JSON:
        """The chat a user writes in: their private chat, or a group with ``chat_id``."""
        user = self.user(user_id)
        key = user_id if chat_id is None else chat_id
        chat = self.chats.get(key)
        if chat is None or chat["type"] != chat_type or chat_type == "private":
            chat = {"id": key, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = user["first_name"]
                if "username" in user:
                    chat["username"] = user["username"]
            else:
                chat["title"] = f"Test {chat_type} {key}"
            self.chats[key] = chat
        return chat

    def target_chat(self, p: JSON) -> JSON:
        """The chat a bot call's ``chat_id`` names; unseen numeric ids become new chats."""
        key = chat_key(p.get("chat_id"))
        if key is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self.chats.get(key)
        if chat is None:
            if isinstance(key, str):
                raise ApiError(400, "Bad Request: chat not found")
            chat = {"id": key, "type": "private", "first_name": "User"} if key > 0 \
                else {"id": key, "type": "supergroup", "title": f"Group {key}"}
            self.chats[key] = chat
        return chat

    # ----------------------------------------------------------------- messages and files

    def store_message(self, chat: JSON, sender: JSON, fields: JSON) -> JSON:
        key = chat["id"]
        message_id = self.last_msg_id.get(key, 0) + 1
        self.last_msg_id[key] = message_id
        msg = {"message_id": message_id, "from": sender, "chat": chat,
               "date": int(time.time()), **fields}
        self.msgs.setdefault(key, {})[message_id] = msg
        return msg

    def reply_copy(self, key: int | str, message_id: int) -> JSON:
        """The message replied to, as Telegram nests it (without its own reply)."""
        target = self.message(key, message_id)
        if target is None:
            raise ApiError(400, "Bad Request: message to be replied not found")
        return copy.deepcopy({k: v for k, v in target.items() if k != "reply_to_message"})

    def register_file(self, file: UploadedFile, folder: str) -> JSON:
        """Store a file for getFile and downloads; returns its file_id/file_unique_id/size."""
        n = len(self.files) + 1
        file_id = f"FAKE-{folder}-{n:06d}"
        suffix = re.search(r"\.[\w]{1,8}$", file.filename)
        path = f"{folder}/file_{n}{suffix.group() if suffix else ''}"
        unique = f"U{n:06d}"
        self.files[file_id] = (file, path, unique)
        self.paths[path] = file_id
        return {"file_id": file_id, "file_unique_id": unique, "file_size": len(file.content)}

    def bot_message(self, chat: JSON, p: JSON, fields: JSON) -> JSON:
        """Store a message the bot sends, with its inline keyboard and reply; returns a copy."""
        markup = inline_markup(p)
        if markup is not None:
            fields["reply_markup"] = markup
        reply = p.get("reply_parameters") or (
            {"message_id": p["reply_to_message_id"]} if p.get("reply_to_message_id") else None
        )
        if isinstance(reply, dict):
            try:
                fields["reply_to_message"] = self.reply_copy(chat["id"], int(reply["message_id"]))
            except ApiError:
                if not (reply.get("allow_sending_without_reply")
                        or p.get("allow_sending_without_reply")):
                    raise
        return copy.deepcopy(self.store_message(chat, self.bot_user, fields))

    def bot_message_to_edit(self, p: JSON) -> JSON:
        if p.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not modelled by FakeBotAPI")
        msg = self.message(chat_key(p.get("chat_id")) or 0, int(p.get("message_id") or 0))
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if msg["from"]["id"] != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return msg

    def formatted(self, p: JSON, key: str, entities_key: str) -> tuple[str, list[JSON]]:
        """Text (or caption) and entities of a call, after its parse_mode; checks lengths."""
        raw = p.get(key)
        raw = "" if raw is None else str(raw)
        if str(p.get("parse_mode") or "").upper() == "HTML":
            text, entities = parse_html(raw, strict_ampersand=self.strict_ampersand)
        else:
            text, entities = raw, list(p.get(entities_key) or [])
        if key == "text" and not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if key == "text" and len(text) > MAX_TEXT_LENGTH:
            raise ApiError(400, "Bad Request: message is too long")
        if key == "caption" and len(text) > MAX_CAPTION_LENGTH:
            raise ApiError(400, "Bad Request: message caption is too long")
        return text, entities


def inline_markup(p: JSON) -> JSON | None:
    """The inline keyboard of a call (None: none; Telegram echoes only inline keyboards)."""
    markup = p.get("reply_markup")
    try:
        if isinstance(markup, str):
            markup = json.loads(markup)
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return None
        data = [button.get("callback_data") for row in markup["inline_keyboard"]
                for button in row]
    except (ValueError, TypeError, AttributeError) as exc:
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object") \
            from exc
    if any(d is not None and not 1 <= len(str(d).encode()) <= 64 for d in data):
        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup
