"""The Bot API methods the fake serves, each ``handler(params, files) -> result``.

They run under the fake's lock and raise ApiError for Telegram's error answers.
"""

from __future__ import annotations

import copy
import json
import mimetypes
import re
import time

from .model import JSON, ApiError, Handler, UploadedFile, chat_key
from .state import BotState, inline_markup
from .updates import UpdateQueue

Files = dict[str, UploadedFile]

_BOT_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
})
_NOT_MODIFIED = "Bad Request: message is not modified: specified new message content and reply " \
    "markup are exactly the same as a current content and reply markup of the message"


class BotMethods:
    """Telegram's side of each method, over the state and the update queue."""

    def __init__(self, state: BotState, updates: UpdateQueue) -> None:
        self.state, self.updates = state, updates

    def table(self) -> dict[str, Handler]:
        """Method name -> handler, for ``FakeBotAPI.register_method``."""
        return {
            "getMe": lambda p, f: copy.deepcopy(self.state.me),
            "logOut": lambda p, f: True, "close": lambda p, f: True,
            "getUpdates": self.get_updates, "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook, "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message, "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message, "answerCallbackQuery": self.answer_callback,
            "setMyCommands": self.set_my_commands, "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands, "sendChatAction": self.chat_action,
            "sendDocument": self.send_document, "sendPhoto": self.send_photo,
            "getFile": self.get_file,
        }

    # ----------------------------------------------------------------- updates and webhook

    def get_updates(self, p: JSON, files: Files) -> list[JSON]:
        if self.state.webhook:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        limit = max(1, min(100, int(p.get("limit") or 100)))
        timeout = max(0.0, float(p.get("timeout") or 0))
        return self.updates.poll(int(p.get("offset") or 0), limit, timeout,
                                 p.get("allowed_updates"))

    def set_webhook(self, p: JSON, files: Files) -> bool:
        url = str(p.get("url") or "")
        if url and not url.startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for "
                                "webhook")
        self.state.webhook = dict(p) if url else None
        if url and p.get("drop_pending_updates"):
            self.updates.drop_pending()
        return True

    def delete_webhook(self, p: JSON, files: Files) -> bool:
        self.state.webhook = None
        if p.get("drop_pending_updates"):
            self.updates.drop_pending()
        return True

    def get_webhook_info(self, p: JSON, files: Files) -> JSON:
        info: JSON = {"url": "", "has_custom_certificate": False,
                      "pending_update_count": len(self.updates)}
        if self.state.webhook:
            info["url"] = self.state.webhook["url"]
            for key in ("max_connections", "allowed_updates", "ip_address"):
                if key in self.state.webhook:
                    info[key] = self.state.webhook[key]
        return info

    # ----------------------------------------------------------------- messages

    def send_message(self, p: JSON, files: Files) -> JSON:
        chat = self.state.target_chat(p)
        text, entities = self.state.formatted(p, "text", "entities")
        return self.state.bot_message(chat, p, {"text": text, **({"entities": entities}
                                                                 if entities else {})})

    def edit_message_text(self, p: JSON, files: Files) -> JSON:
        msg = self.state.bot_message_to_edit(p)
        if "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = self.state.formatted(p, "text", "entities")
        markup = inline_markup(p)
        old = (msg.get("text"), msg.get("entities") or [], msg.get("reply_markup"))
        if old == (text, entities, markup):
            raise ApiError(400, _NOT_MODIFIED)
        msg["text"], msg["edit_date"] = text, int(time.time())
        for key, value in (("entities", entities), ("reply_markup", markup)):
            if value:
                msg[key] = value
            else:
                msg.pop(key, None)  # an edit without reply_markup removes the keyboard
        return copy.deepcopy(msg)

    def edit_message_reply_markup(self, p: JSON, files: Files) -> JSON:
        msg = self.state.bot_message_to_edit(p)
        markup = inline_markup(p)
        if markup == msg.get("reply_markup"):
            raise ApiError(400, _NOT_MODIFIED)
        if markup:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)
        msg["edit_date"] = int(time.time())
        return copy.deepcopy(msg)

    def delete_message(self, p: JSON, files: Files) -> bool:
        chat = self.state.msgs.get(chat_key(p.get("chat_id")) or 0, {})
        if chat.pop(int(p.get("message_id") or 0), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    def answer_callback(self, p: JSON, files: Files) -> bool:
        query_id = str(p.get("callback_query_id") or "")
        if self.state.callbacks.get(query_id, True):
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                "or query ID is invalid")
        self.state.callbacks[query_id] = True
        return True

    def chat_action(self, p: JSON, files: Files) -> bool:
        self.state.target_chat(p)
        if p.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    # ----------------------------------------------------------------- command menus

    def set_my_commands(self, p: JSON, files: Files) -> bool:
        commands = p.get("commands")
        if isinstance(commands, str):
            commands = json.loads(commands)
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 commands")
        for command in commands:
            if not _BOT_COMMAND_RE.match(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = self.state.scope_key(p.get("scope"), p.get("language_code"))
        self.state.commands[key] = [{"command": c["command"], "description": c["description"]}
                                    for c in commands]
        return True

    def get_my_commands(self, p: JSON, files: Files) -> list[JSON]:
        key = self.state.scope_key(p.get("scope"), p.get("language_code"))
        return copy.deepcopy(self.state.commands.get(key, []))

    def delete_my_commands(self, p: JSON, files: Files) -> bool:
        self.state.commands.pop(self.state.scope_key(p.get("scope"), p.get("language_code")),
                                None)
        return True

    # ----------------------------------------------------------------- files

    def send_document(self, p: JSON, files: Files) -> JSON:
        chat = self.state.target_chat(p)
        file = self._input_file(p, files, "document")
        mime = file.content_type if file.content_type != "application/octet-stream" else (
            mimetypes.guess_type(file.filename)[0] or file.content_type)
        document = {**self.state.register_file(file, "documents"), "file_name": file.filename,
                    "mime_type": mime}
        return self.state.bot_message(chat, p, {"document": document, **self._caption(p)})

    def send_photo(self, p: JSON, files: Files) -> JSON:
        chat = self.state.target_chat(p)
        ref = self.state.register_file(self._input_file(p, files, "photo"), "photos")
        photo = [{**ref, "width": 1280, "height": 720}]
        return self.state.bot_message(chat, p, {"photo": photo, **self._caption(p)})

    def get_file(self, p: JSON, files: Files) -> JSON:
        entry = self.state.files.get(str(p.get("file_id") or ""))
        if entry is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        file, path, unique = entry
        return {"file_id": p["file_id"], "file_unique_id": unique,
                "file_size": len(file.content), "file_path": path}

    def _input_file(self, p: JSON, files: Files, name: str) -> UploadedFile:
        """An upload, attach://name, a known file_id or an URL, as the Bot API accepts them."""
        value = p.get(name)
        if name in files:
            file = files[name]
        elif isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
            file = files[value[9:]]
        elif isinstance(value, str) and value in self.state.files:
            return self.state.files[value][0]
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            return UploadedFile(value.rsplit("/", 1)[-1] or "file", b"")
        elif not value:
            raise ApiError(400, f"Bad Request: there is no {name} in the request")
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if not file.content:
            raise ApiError(400, "Bad Request: file must be non-empty")
        return file

    def _caption(self, p: JSON) -> JSON:
        if p.get("caption") is None:
            return {}
        caption, entities = self.state.formatted(p, "caption", "caption_entities")
        return {"caption": caption, **({"caption_entities": entities} if entities else {})}
