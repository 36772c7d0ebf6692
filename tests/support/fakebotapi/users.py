"""The users' side of the driving API: they write, press buttons, send files (queue updates)."""

from __future__ import annotations

import copy
import mimetypes
import threading
import time
from typing import Any

from .log import RequestLog
from .model import JSON, UploadedFile
from .state import BotState
from .telegram_html import command_entities
from .updates import UpdateQueue


class UserActions:
    """Mixed into FakeBotAPI; every method is thread-safe and returns the queued update's id."""

    _lock: threading.RLock
    _state: BotState
    _updates: UpdateQueue
    _log: RequestLog

    def send_update(self, update: JSON) -> int:
        """Queue a raw update (``update_id`` is assigned when missing); returns its id."""
        update = copy.deepcopy(update)
        with self._lock:
            return self._updates.push(update, len(self._log))

    def send_text(
        self, user_id: int, text: str, *, chat_id: int | None = None,
        chat_type: str = "private", username: str | None = None, first_name: str = "Test",
        language_code: str = "en", reply_to: int | None = None,
        entities: list[JSON] | None = None,
    ) -> int:
        """A user writes ``text``; commands get bot_command entities. Returns the update id."""
        if chat_type != "private" and chat_id is None:
            raise ValueError(f"a {chat_type} chat needs a chat_id (negative, as on Telegram)")
        if entities is None:
            entities = command_entities(text)
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        with self._lock:
            self._state.users[user_id] = user
            fields: JSON = {"text": text, **({"entities": entities} if entities else {})}
            return self._user_message(user_id, fields, chat_id, chat_type, reply_to)

    def send_photo(
        self, user_id: int, content: bytes = b"\x89PNG fake", *, caption: str | None = None,
        chat_id: int | None = None,
    ) -> int:
        """A user sends a photo (one 1280x720 size, downloadable through getFile)."""
        with self._lock:
            photo = UploadedFile("photo.jpg", content, "image/jpeg")
            ref = self._state.register_file(photo, "photos")
            fields: JSON = {"photo": [{**ref, "width": 1280, "height": 720}]}
            if caption:
                fields["caption"] = caption
            return self._user_message(user_id, fields, chat_id)

    def send_document(
        self, user_id: int, file_name: str = "document.pdf", content: bytes = b"%PDF-1.4 fake",
        *, mime_type: str | None = None, caption: str | None = None, chat_id: int | None = None,
    ) -> int:
        """A user sends a document (downloadable through getFile)."""
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        with self._lock:
            ref = self._state.register_file(UploadedFile(file_name, content, mime), "documents")
            fields: JSON = {"document": {**ref, "file_name": file_name, "mime_type": mime}}
            if caption:
                fields["caption"] = caption
            return self._user_message(user_id, fields, chat_id)

    def send_voice(
        self, user_id: int, content: bytes = b"OggS fake", *, duration: int = 2,
        chat_id: int | None = None,
    ) -> int:
        """A user sends a voice note."""
        with self._lock:
            voice = UploadedFile("voice.ogg", content, "audio/ogg")
            ref = self._state.register_file(voice, "voice")
            fields = {"voice": {**ref, "duration": duration, "mime_type": "audio/ogg"}}
            return self._user_message(user_id, fields, chat_id)

    def send_sticker(self, user_id: int, emoji: str = "👍", *, chat_id: int | None = None) -> int:
        """A user sends a (static, regular) sticker."""
        with self._lock:
            webp = UploadedFile("sticker.webp", b"RIFF", "image/webp")
            ref = self._state.register_file(webp, "stickers")
            sticker = {**ref, "type": "regular", "width": 512, "height": 512,
                       "is_animated": False, "is_video": False, "emoji": emoji}
            return self._user_message(user_id, {"sticker": sticker}, chat_id)

    def send_location(
        self, user_id: int, latitude: float, longitude: float, *, chat_id: int | None = None
    ) -> int:
        """A user shares a location."""
        with self._lock:
            fields = {"location": {"latitude": latitude, "longitude": longitude}}
            return self._user_message(user_id, fields, chat_id)

    def edit_text(
        self, user_id: int, message_id: int, new_text: str, *, chat_id: int | None = None
    ) -> int:
        """A user edits their text message: queues an ``edited_message`` update."""
        key = user_id if chat_id is None else chat_id
        with self._lock:
            msg = self._state.message(key, message_id)
            if msg is None or msg["from"]["id"] != user_id:
                raise ValueError(f"user {user_id} has no message {message_id} in chat {key}")
            msg["text"], msg["edit_date"] = new_text, int(time.time())
            msg.pop("entities", None)
            if entities := command_entities(new_text):
                msg["entities"] = entities
            return self.send_update({"edited_message": copy.deepcopy(msg)})

    def press(
        self, user_id: int, message_id: int, callback_data: str, *, chat_id: int | None = None
    ) -> int:
        """A user presses an inline button carrying ``callback_data`` under a message."""
        key = user_id if chat_id is None else chat_id
        with self._lock:
            msg = self._state.message(key, message_id)
            if msg is None:
                raise ValueError(f"no message {message_id} in chat {key}")
            query_id = str(4_000_000_000_000 + len(self._state.callbacks))
            self._state.callbacks[query_id] = False
            user = self._state.users.get(
                user_id, {"id": user_id, "is_bot": False, "first_name": "Test"})
            return self.send_update({"callback_query": {
                "id": query_id, "from": user, "message": copy.deepcopy(msg),
                "chat_instance": str(abs(hash(key)) % 10**18), "data": callback_data,
            }})

    def press_button(
        self, user_id: int, text_of_button: str, *, message: int | JSON | None = None,
        chat_id: int | None = None,
    ) -> int:
        """Press the button labelled ``text_of_button`` on the newest bot message having it."""
        key = user_id if chat_id is None else chat_id
        with self._lock:
            candidates = list(reversed(self._state.messages(key)))
            if message is not None:
                wanted = message if isinstance(message, int) else message["message_id"]
                candidates = [m for m in candidates if m["message_id"] == wanted]
            seen = []
            for msg in candidates:
                for button in _buttons(msg):
                    seen.append(button.get("text"))
                    if button.get("text") != text_of_button:
                        continue
                    if "callback_data" not in button:
                        raise AssertionError(f"button {text_of_button!r} has no callback_data")
                    return self.press(user_id, msg["message_id"], button["callback_data"],
                                      chat_id=key)
        raise AssertionError(f"no inline button {text_of_button!r} in chat {key}; saw {seen}")

    def _user_message(
        self, user_id: int, fields: JSON, chat_id: int | None, chat_type: str = "private",
        reply_to: int | None = None,
    ) -> int:
        chat = self._state.user_chat(user_id, chat_id, chat_type)
        if reply_to is not None:
            fields["reply_to_message"] = self._state.reply_copy(chat["id"], reply_to)
        msg = self._state.store_message(chat, self._state.user(user_id), fields)
        return self.send_update({"message": copy.deepcopy(msg)})


def _buttons(msg: JSON) -> list[Any]:
    return [button for row in msg.get("reply_markup", {}).get("inline_keyboard", [])
            for button in row]
