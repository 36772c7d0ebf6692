"""A fake Telegram Bot API server for end-to-end tests and benchmarks.

Start it, build the real bot with ``.base_url(server.base_url)`` and
``.base_file_url(server.base_file_url)``, feed it updates with ``send_text``/``press``/...
and inspect what it did with ``requests``, ``calls``, ``messages`` and the ``wait_*`` helpers.
Everything is in memory; one lock guards all state, so the driving API is thread-safe.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import html
import json
import mimetypes
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, cast
from urllib.parse import parse_qsl, unquote, urlsplit

JSON = dict[str, Any]
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
#: Successful calls of these methods in a chat count as the bot's reply to an update there.
REPLY_METHODS = frozenset(
    {"sendMessage", "sendDocument", "sendPhoto", "editMessageText", "editMessageReplyMarkup"}
)
SEND_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})
_NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
})
# Form/multipart values are JSON-decoded ("123" -> 123, '{"a":1}' -> dict) except these.
_STRING_KEYS = frozenset({
    "text", "caption", "parse_mode", "callback_query_id", "inline_message_id", "url",
    "secret_token", "ip_address", "action", "language_code", "description", "short_description",
    "name", "title", "emoji", "query", "data", "file_id", "document", "photo", "voice", "audio",
    "video", "animation", "sticker", "thumbnail", "business_connection_id", "message_effect_id",
    "first_name", "last_name", "phone_number", "address",
})
_NOT_FOUND = b'{"ok":false,"error_code":404,"description":"Not Found"}'
_TOKEN_RE = re.compile(r"^\d+:[\w-]+$")
_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_BOT_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot " \
    "instance is running"
_NOT_MODIFIED = "Bad Request: message is not modified: specified new message content and reply " \
    "markup are exactly the same as a current content and reply markup of the message"


class ApiError(Exception):
    """A Bot API error answer: HTTP status = ``error_code``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (or a file the fake stores for getFile)."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass
class Request:
    """One API call as received; ``at`` is ``time.monotonic()`` on arrival."""

    method: str
    params: JSON
    files: dict[str, UploadedFile]
    at: float
    chat_id: int | str | None = None
    ok: bool = True
    result: Any = None
    error_code: int | None = None
    description: str | None = None


@dataclass(eq=False)
class _Waiter:
    """A blocked wait_* call: ``wake`` is called once ``n`` requests matched."""

    match: Callable[[Request], bool]
    n: int
    start: int
    since: int | None
    wake: Callable[[], None]
    found: list[int] = field(default_factory=list)  # indices into the request log

    def matches(self, request: Request) -> bool:
        try:
            return self.match(request)
        except Exception:  # a predicate that cannot judge this call does not match it
            return False


@dataclass
class _UpdateMeta:
    available_at: float
    index: int  # len(requests) when queued: replies are requests from here on
    chat: int | str | None
    delivered_at: float | None = None


Handler = Callable[[JSON, dict[str, UploadedFile]], Any]

# --------------------------------------------------------------------------- HTML parse mode

_SPECIAL_RE = re.compile(r"[<&]")
_TAG_NAME_RE = re.compile(r"[^\s>]*")
_HTML_ENTITY_RE = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_ATTR_RE = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_SIMPLE_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "pre": "pre",
}
_TAGS = frozenset(_SIMPLE_TAGS) | {"span", "a", "code", "blockquote", "tg-emoji"}


def _u16(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[JSON]]:
    """Parse Telegram HTML into (plain text, entities) or raise ApiError 400 like the Bot API.

    Supports the tags listed in the Bot API docs and the entities &lt; &gt; &amp; &quot; and
    numeric ones. A bare '&' is rejected when ``strict_ampersand`` (the docs require escaping).
    """
    out: list[str] = []
    pos = 0  # UTF-16 offset in the plain text
    stack: list[tuple[str, int, JSON | None]] = []
    entities: list[JSON] = []

    def fail(message: str, at: int, tail: str = "") -> ApiError:
        where = f"at byte offset {len(text[:at].encode())}{tail}"
        return ApiError(400, f"Bad Request: can't parse entities: {message} {where}")

    i, n = 0, len(text)
    while i < n:
        m = _SPECIAL_RE.search(text, i)
        j = m.start() if m else n
        if j > i:
            out.append(text[i:j])
            pos += _u16(text[i:j])
        if m is None:
            break
        i = j
        if text[i] == "&":
            em = _HTML_ENTITY_RE.match(text, i)
            if em is None and strict_ampersand:
                raise fail("Character '&' must be escaped as &amp;", i)
            chunk = html.unescape(em.group()) if em else "&"
            out.append(chunk)
            pos += _u16(chunk)
            i = em.end() if em else i + 1
            continue
        close = text.find(">", i)
        if text.startswith("</", i):
            if not stack:
                raise fail("Unexpected end tag", i)
            if close < 0:
                raise fail("Unclosed end tag", i)
            name = text[i + 2 : close].strip().lower()
            tag, start, opened = stack.pop()
            if name and name != tag:
                raise fail("Unmatched end tag", i, f', expected "</{tag}>", found "</{name}>"')
            if opened is not None and pos > start:
                entities.append({**opened, "offset": start, "length": pos - start})
            i = close + 1
            continue
        name_m = _TAG_NAME_RE.match(text, i + 1)
        assert name_m is not None
        name = name_m.group().lower()
        if name_m.end() >= n:
            raise fail("Unclosed start tag", i)
        if name not in _TAGS:
            raise fail(f'Unsupported start tag "{name}"', i)
        if close < 0:
            raise fail("Unclosed start tag", i)
        rest = text[name_m.end() : close]
        attrs = {k.lower(): html.unescape(a or b or c) for k, a, b, c in _ATTR_RE.findall(rest)}
        entity: JSON | None
        if name in _SIMPLE_TAGS:
            entity = {"type": _SIMPLE_TAGS[name]}
        elif name == "span":
            if attrs.get("class") != "tg-spoiler":
                raise fail('Tag "span" must have class "tg-spoiler"', i)
            entity = {"type": "spoiler"}
        elif name == "a":
            entity = {"type": "text_link", "url": attrs["href"]} if attrs.get("href") else None
        elif name == "code" and stack and stack[-1][0] == "pre" and stack[-1][2] is not None \
                and attrs.get("class", "").startswith("language-"):
            stack[-1][2]["language"] = attrs["class"][len("language-"):]
            entity = None
        elif name == "code":
            entity = {"type": "code"}
        elif name == "blockquote":
            expandable = re.search(r"(?<![\w-])expandable(?![\w-])", rest) is not None
            entity = {"type": "expandable_blockquote" if expandable else "blockquote"}
        else:  # tg-emoji
            entity = {"type": "custom_emoji", "custom_emoji_id": attrs.get("emoji-id", "")}
        stack.append((name, pos, entity))
        i = close + 1
    if stack:
        raise ApiError(
            400, "Bad Request: can't parse entities: Can't find end tag corresponding to start "
            f'tag "{stack[-1][0]}"'
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


# --------------------------------------------------------------------------- request parsing

def _command_entities(text: str) -> list[JSON]:
    """bot_command entities, as Telegram adds them to users' messages."""
    return [{"type": "bot_command", "offset": _u16(text[: m.start()]), "length": _u16(m.group())}
            for m in _COMMAND_RE.finditer(text)]


def _chat_key(value: Any) -> int | str | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return str(value)


def _decode_form(pairs: Iterable[tuple[str, str]]) -> JSON:
    out: JSON = {}
    for key, value in pairs:
        if key in _STRING_KEYS:
            out[key] = value
            continue
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _disposition_param(header: str, key: str) -> str | None:
    m = re.search(rf'(?:^|;)\s*{key}="((?:[^"\\]|\\.)*)"', header)
    return m.group(1).replace("%22", '"').replace('\\"', '"') if m else None


def _parse_multipart(body: bytes, boundary: str) -> tuple[JSON, dict[str, UploadedFile]]:
    fields: list[tuple[str, str]] = []
    files: dict[str, UploadedFile] = {}
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, sep, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            continue
        content = content.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _disposition_param(disposition, "name") or ""
        filename = _disposition_param(disposition, "filename")
        if filename is None:
            fields.append((name, content.decode("utf-8", "replace")))
        else:
            ctype = headers.get("content-type", "application/octet-stream")
            files[name] = UploadedFile(filename, content, ctype)
    return _decode_form(fields), files


def _parse_body(ctype: str, body: bytes, query: str) -> tuple[JSON, dict[str, UploadedFile]]:
    """Parameters from query string + JSON, urlencoded or multipart body (ValueError if bad)."""
    params = _decode_form(parse_qsl(query, keep_blank_values=True))
    files: dict[str, UploadedFile] = {}
    kind = ctype.split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        m = re.search(r'boundary="?([^";]+)"?', ctype)
        if m is None:
            raise ValueError("multipart body without boundary")
        fields, files = _parse_multipart(body, m.group(1))
        params.update(fields)
    elif kind == "application/x-www-form-urlencoded":
        params.update(_decode_form(parse_qsl(body.decode(), keep_blank_values=True)))
    elif body.strip():
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("a JSON object was expected")
        params.update(data)
    return params, files


def _ensure_not_in_loop(name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"FakeBotAPI.{name}() blocks its thread; inside a coroutine use "
        f"`await server.{name}_async(...)` so the bot's event loop keeps running"
    )


# --------------------------------------------------------------------------- the fake


class FakeBotAPI:
    """In-memory Telegram Bot API served over HTTP on 127.0.0.1, plus a driving API for tests."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        username: str = "partner_guide_bot",
        first_name: str = "Partner Guide",
        strict_ampersand: bool = True,
    ) -> None:
        self.token, self.host, self.port = token, host, port
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
        self._lock = threading.RLock()  # guards everything below
        self._updates_cond = threading.Condition(self._lock)  # notified when updates queue
        self._waiters: list[_Waiter] = []
        self._requests: list[Request] = []
        self._by_chat: dict[int | str, list[int]] = {}  # chat -> indices into _requests
        self._mark = 0
        self._updates: list[JSON] = []  # queued and not yet confirmed
        self._meta: dict[int, _UpdateMeta] = {}
        self._chat_updates: dict[int | str, list[int]] = {}
        self._next_update_id = 1
        self._allowed: set[str] | None = None
        self._poll_generation = 0
        self._closing = False
        self._users: dict[int, JSON] = {}
        self._chats: dict[int | str, JSON] = {}
        self._msgs: dict[int | str, dict[int, JSON]] = {}
        self._last_msg_id: dict[int | str, int] = {}
        self._callbacks: dict[str, bool] = {}  # callback query id -> answered
        self._files: dict[str, tuple[UploadedFile, str, str]] = {}  # id -> (file, path, uniq)
        self._paths: dict[str, str] = {}  # file_path -> file_id
        self._failures: dict[str, list[ApiError]] = {}
        self._methods: dict[str, tuple[str, Handler]] = {}
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        for name, handler in {
            "getMe": lambda p, f: copy.deepcopy(self.me),
            "logOut": lambda p, f: True, "close": lambda p, f: True,
            "getUpdates": self._get_updates, "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook, "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message, "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message, "answerCallbackQuery": self._answer_callback,
            "setMyCommands": self._set_my_commands, "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands, "sendChatAction": self._chat_action,
            "sendDocument": self._send_document, "sendPhoto": self._send_photo,
            "getFile": self._get_file,
        }.items():
            self.register_method(name, handler)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Listen on host:port (0 = a free port) in a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("FakeBotAPI already started")
        self._closing = False
        self._httpd = _Server((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"FakeBotAPI:{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: pending long polls return [], open connections are closed."""
        if self._httpd is None:
            return
        with self._lock:
            self._closing = True
            self._updates_cond.notify_all()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``; PTB appends the token."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``."""
        return f"http://{self.host}:{self.port}/file/bot"

    # ----------------------------------------------------------------- configuration

    def register_method(self, name: str, handler: Handler) -> None:
        """Serve (or override) method ``name`` with ``handler(params, files) -> result``.

        The handler runs under the server lock; raise ApiError for an error answer.
        """
        self._methods[name.lower()] = (name, handler)

    def fail_next(
        self, method: str, error_code: int = 400, description: str | None = None,
        retry_after: int | None = None, times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error instead of running it."""
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                try:
                    description = HTTPStatus(error_code).phrase
                except ValueError:
                    description = "Error"
        with self._lock:
            queue = self._failures.setdefault(method.lower(), [])
            queue.extend(ApiError(error_code, description, retry_after) for _ in range(times))

    # ----------------------------------------------------------------- users send updates

    def send_update(self, update: JSON) -> int:
        """Queue a raw update (``update_id`` is assigned when missing); returns its id."""
        update = copy.deepcopy(update)
        payload: Any = next((v for k, v in update.items() if k != "update_id"), {})
        message = payload.get("message", payload) if isinstance(payload, dict) else {}
        chat = _chat_key((message.get("chat") or {}).get("id"))
        with self._lock:
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            uid = int(update["update_id"])
            self._next_update_id = max(self._next_update_id, uid + 1)
            self._updates.append(update)
            self._updates.sort(key=lambda u: int(u["update_id"]))
            self._meta[uid] = _UpdateMeta(time.monotonic(), len(self._requests), chat)
            if chat is not None:
                self._chat_updates.setdefault(chat, []).append(uid)
            self._updates_cond.notify_all()
            return uid

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
            entities = _command_entities(text)
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        with self._lock:
            self._users[user_id] = user
            fields: JSON = {"text": text, **({"entities": entities} if entities else {})}
            return self._user_message(user_id, fields, chat_id, chat_type, reply_to)

    def send_photo(
        self, user_id: int, content: bytes = b"\x89PNG fake", *, caption: str | None = None,
        chat_id: int | None = None,
    ) -> int:
        """A user sends a photo (one 1280x720 size, downloadable through getFile)."""
        with self._lock:
            ref = self._register_file(UploadedFile("photo.jpg", content, "image/jpeg"), "photos")
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
            ref = self._register_file(UploadedFile(file_name, content, mime), "documents")
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
            ref = self._register_file(UploadedFile("voice.ogg", content, "audio/ogg"), "voice")
            fields = {"voice": {**ref, "duration": duration, "mime_type": "audio/ogg"}}
            return self._user_message(user_id, fields, chat_id)

    def send_sticker(self, user_id: int, emoji: str = "👍", *, chat_id: int | None = None) -> int:
        """A user sends a (static, regular) sticker."""
        with self._lock:
            webp = UploadedFile("sticker.webp", b"RIFF", "image/webp")
            ref = self._register_file(webp, "stickers")
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
            msg = self._msgs.get(key, {}).get(message_id)
            if msg is None or msg["from"]["id"] != user_id:
                raise ValueError(f"user {user_id} has no message {message_id} in chat {key}")
            msg["text"], msg["edit_date"] = new_text, int(time.time())
            msg.pop("entities", None)
            if entities := _command_entities(new_text):
                msg["entities"] = entities
            return self.send_update({"edited_message": copy.deepcopy(msg)})

    def press(
        self, user_id: int, message_id: int, callback_data: str, *, chat_id: int | None = None
    ) -> int:
        """A user presses an inline button carrying ``callback_data`` under a message."""
        key = user_id if chat_id is None else chat_id
        with self._lock:
            msg = self._msgs.get(key, {}).get(message_id)
            if msg is None:
                raise ValueError(f"no message {message_id} in chat {key}")
            query_id = str(4_000_000_000_000 + len(self._callbacks))
            self._callbacks[query_id] = False
            user = self._users.get(user_id, {"id": user_id, "is_bot": False, "first_name": "Test"})
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
            candidates = list(reversed(self.messages(key)))
            if message is not None:
                wanted = message if isinstance(message, int) else message["message_id"]
                candidates = [m for m in candidates if m["message_id"] == wanted]
            seen = []
            for msg in candidates:
                for row in msg.get("reply_markup", {}).get("inline_keyboard", []):
                    for button in row:
                        seen.append(button.get("text"))
                        if button.get("text") != text_of_button:
                            continue
                        if "callback_data" not in button:
                            raise AssertionError(f"button {text_of_button!r} has no callback_data")
                        return self.press(user_id, msg["message_id"], button["callback_data"],
                                          chat_id=key)
        raise AssertionError(f"no inline button {text_of_button!r} in chat {key}; saw {seen}")

    # ----------------------------------------------------------------- inspection

    @property
    def requests(self) -> list[Request]:
        """A snapshot of every API call so far, in the order they were answered."""
        with self._lock:
            return list(self._requests)

    @property
    def pending_update_count(self) -> int:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        with self._lock:
            return len(self._updates)

    def calls(self, method: str) -> list[JSON]:
        """Params of every call of ``method`` (successful or not)."""
        return [r.params for r in self.requests if r.method.lower() == method.lower()]

    def mark(self) -> int:
        """Move the mark to "now": wait_for/wait_for_messages only see later calls."""
        with self._lock:
            self._mark = len(self._requests)
            return self._mark

    def messages(self, chat_id: int | str, *, include_user: bool = False) -> list[JSON]:
        """The bot's messages in the chat as they are now (after edits and deletions);
        with ``include_user`` also the users' messages."""
        with self._lock:
            chat = self._msgs.get(_chat_key(chat_id) or 0, {})
            return copy.deepcopy([m for _, m in sorted(chat.items())
                                  if include_user or m["from"]["id"] == self.bot_id])

    def my_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The command list set for a scope (default scope when None) and language."""
        with self._lock:
            return copy.deepcopy(self.commands.get(self._scope_key(scope, language_code), []))

    def update_available_at(self, update_id: int) -> float:
        """``time.monotonic()`` when the update was queued."""
        with self._lock:
            return self._meta[update_id].available_at

    def update_delivered_at(self, update_id: int) -> float | None:
        """``time.monotonic()`` when getUpdates first returned the update (None: not yet)."""
        with self._lock:
            return self._meta[update_id].delivered_at

    def replies_to(
        self, update_id: int, methods: Iterable[str] = REPLY_METHODS
    ) -> list[Request]:
        """Successful REPLY_METHODS calls in the update's chat after it was queued and
        before the next update in that chat was queued."""
        wanted = set(methods)
        with self._lock:
            meta = self._meta[update_id]
            if meta.chat is None:
                return []
            later = [u for u in self._chat_updates.get(meta.chat, []) if u > update_id]
            end = self._meta[later[0]].index if later else len(self._requests)
            indices = self._by_chat.get(meta.chat, [])
            return [
                self._requests[i] for i in indices[bisect.bisect_left(indices, meta.index):]
                if i < end and self._requests[i].ok and self._requests[i].method in wanted
            ]

    def reply_latency(self, update_id: int) -> float | None:
        """Seconds from the update being queued to the first reply (None: no reply)."""
        replies = self.replies_to(update_id)
        return replies[0].at - self.update_available_at(update_id) if replies else None

    # ----------------------------------------------------------------- waiting

    def wait_for(
        self, method: str, predicate: Callable[[JSON], bool] | None = None,
        timeout: float = 10.0, *, since: int | None = None, include_failed: bool = False,
    ) -> JSON:
        """Wait for the next successful call of ``method`` (after the mark, or ``since``) whose
        params satisfy ``predicate``; returns its params and, without ``since``, moves the
        mark past it. Raises AssertionError listing recent calls on timeout."""
        _ensure_not_in_loop("wait_for")
        match = self._method_matcher(method, predicate, include_failed)
        return self._wait(match, f"a {method} call", 1, timeout, since)[0].params

    async def wait_for_async(
        self, method: str, predicate: Callable[[JSON], bool] | None = None,
        timeout: float = 10.0, *, since: int | None = None, include_failed: bool = False,
    ) -> JSON:
        """``wait_for`` for coroutines: awaits without blocking the event loop."""
        match = self._method_matcher(method, predicate, include_failed)
        return (await self._wait_async(match, f"a {method} call", 1, timeout, since))[0].params

    def wait_for_messages(
        self, chat_id: int | str, n: int = 1, timeout: float = 10.0, *, since: int | None = None
    ) -> list[JSON]:
        """Wait for the next ``n`` messages the bot sends (sendMessage/sendDocument/sendPhoto)
        in the chat after the mark (or ``since``); returns the Message dicts as sent and,
        without ``since``, moves the mark past the last one."""
        _ensure_not_in_loop("wait_for_messages")
        match, what = self._message_matcher(chat_id, n)
        return [copy.deepcopy(r.result) for r in self._wait(match, what, n, timeout, since)]

    async def wait_for_messages_async(
        self, chat_id: int | str, n: int = 1, timeout: float = 10.0, *, since: int | None = None
    ) -> list[JSON]:
        """``wait_for_messages`` for coroutines."""
        match, what = self._message_matcher(chat_id, n)
        found = await self._wait_async(match, what, n, timeout, since)
        return [copy.deepcopy(r.result) for r in found]

    def wait_reply(self, update_id: int, timeout: float = 10.0) -> Request:
        """Wait for the first reply (see REPLY_METHODS) in the update's chat after it was
        queued. Does not move the mark, so concurrent users can each wait for their own."""
        _ensure_not_in_loop("wait_reply")
        match, since = self._reply_matcher(update_id)
        return self._wait(match, f"a reply to update {update_id}", 1, timeout, since)[0]

    async def wait_reply_async(self, update_id: int, timeout: float = 10.0) -> Request:
        """``wait_reply`` for coroutines."""
        match, since = self._reply_matcher(update_id)
        what = f"a reply to update {update_id}"
        return (await self._wait_async(match, what, 1, timeout, since))[0]

    @staticmethod
    def _method_matcher(
        method: str, predicate: Callable[[JSON], bool] | None, include_failed: bool
    ) -> Callable[[Request], bool]:
        def match(r: Request) -> bool:
            return r.method.lower() == method.lower() and (r.ok or include_failed) \
                and (predicate is None or predicate(r.params))
        return match

    @staticmethod
    def _message_matcher(chat_id: int | str, n: int) -> tuple[Callable[[Request], bool], str]:
        key = _chat_key(chat_id)

        def match(r: Request) -> bool:
            return r.ok and r.method in SEND_METHODS and r.chat_id == key
        return match, f"{n} bot message(s) in chat {key}"

    def _reply_matcher(self, update_id: int) -> tuple[Callable[[Request], bool], int]:
        with self._lock:
            meta = self._meta[update_id]

        def match(r: Request) -> bool:
            return r.ok and r.method in REPLY_METHODS and r.chat_id == meta.chat
        return match, meta.index

    def _wait(
        self, match: Callable[[Request], bool], what: str, n: int, timeout: float,
        since: int | None,
    ) -> list[Request]:
        event = threading.Event()
        waiter = self._begin_wait(match, n, since, event.set)
        if len(waiter.found) < n:
            event.wait(timeout)
        return self._end_wait(waiter, what, timeout)

    async def _wait_async(
        self, match: Callable[[Request], bool], what: str, n: int, timeout: float,
        since: int | None,
    ) -> list[Request]:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def wake() -> None:  # called from an HTTP thread
            with contextlib.suppress(RuntimeError):  # the loop may be closed by now
                loop.call_soon_threadsafe(done.set)

        waiter = self._begin_wait(match, n, since, wake)
        if len(waiter.found) < n:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout)
        return self._end_wait(waiter, what, timeout)

    def _begin_wait(
        self, match: Callable[[Request], bool], n: int, since: int | None,
        wake: Callable[[], None],
    ) -> _Waiter:
        with self._lock:
            waiter = _Waiter(match, n, self._mark if since is None else since, since, wake)
            for i in range(waiter.start, len(self._requests)):
                if len(waiter.found) >= n:
                    break
                if waiter.matches(self._requests[i]):
                    waiter.found.append(i)
            if len(waiter.found) < n:
                self._waiters.append(waiter)
            return waiter

    def _end_wait(self, waiter: _Waiter, what: str, timeout: float) -> list[Request]:
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if len(waiter.found) < waiter.n:
                raise AssertionError(self._dump(f"timed out after {timeout}s waiting for {what} "
                                                f"(found {len(waiter.found)})", waiter.start))
            indices = waiter.found[: waiter.n]
            if waiter.since is None:
                self._mark = max(self._mark, indices[-1] + 1)
            return [self._requests[i] for i in indices]

    def _dump(self, headline: str, start: int) -> str:
        lines = [headline, f"calls since #{start} (empty getUpdates omitted):"]
        for i, r in enumerate(self._requests[start:], start):
            if r.method == "getUpdates" and r.ok and not r.result:
                continue
            status = "ok" if r.ok else f"ERROR {r.error_code} {r.description}"
            params = json.dumps(r.params, ensure_ascii=False, default=str)
            lines.append(f"  #{i} {r.method} chat={r.chat_id} {status} {params[:300]}")
        lines.append(f"pending updates: {len(self._updates)}")
        return "\n".join(lines[:2] + lines[2:][-40:])

    # ----------------------------------------------------------------- dispatch (HTTP threads)

    def _dispatch(
        self, token: str, method: str, params: JSON, files: dict[str, UploadedFile]
    ) -> tuple[int, JSON]:
        at = time.monotonic()
        entry = self._methods.get(method.lower())
        name = entry[0] if entry else method
        req = Request(name, params, files, at, chat_id=_chat_key(params.get("chat_id")))
        with self._lock:
            try:
                if token != self.token:
                    raise ApiError(401, "Unauthorized") if _TOKEN_RE.match(token) \
                        else ApiError(404, "Not Found")
                if entry is None:
                    raise ApiError(404, "Not Found")
                queued = self._failures.get(name.lower())
                if queued:
                    raise queued.pop(0)
                req.result = entry[1](params, files)
                body: JSON = {"ok": True, "result": req.result}
                status = 200
            except ApiError as exc:
                req.ok, req.error_code, req.description = False, exc.code, exc.description
                body = {"ok": False, "error_code": exc.code, "description": exc.description}
                if exc.retry_after is not None:
                    body["parameters"] = {"retry_after": exc.retry_after}
                status = exc.code
            except Exception as exc:  # a handler bug becomes Telegram's 500
                req.ok, req.error_code, req.description = False, 500, repr(exc)
                body = {"ok": False, "error_code": 500, "description": f"Internal Server Error: "
                        f"{exc!r}"}
                status = 500
            self._requests.append(req)
            index = len(self._requests) - 1
            if req.chat_id is not None:
                self._by_chat.setdefault(req.chat_id, []).append(index)
            for waiter in self._waiters:
                if len(waiter.found) < waiter.n and waiter.matches(req):
                    waiter.found.append(index)
                    if len(waiter.found) == waiter.n:
                        waiter.wake()
            return status, body

    def _serve_file(self, rest: str) -> tuple[int, str, bytes]:
        token, _, path = rest.partition("/")
        with self._lock:
            file_id = self._paths.get(path) if token == self.token else None
            if file_id is None:
                return 404, "application/json", _NOT_FOUND
            file = self._files[file_id][0]
            return 200, file.content_type, file.content

    # ----------------------------------------------------------------- state helpers (locked)

    def _user_message(
        self, user_id: int, fields: JSON, chat_id: int | None, chat_type: str = "private",
        reply_to: int | None = None,
    ) -> int:
        user = self._users.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": "Test"}
        )
        key = user_id if chat_id is None else chat_id
        chat = self._chats.get(key)
        if chat is None or chat["type"] != chat_type or chat_type == "private":
            chat = {"id": key, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = user["first_name"]
                if "username" in user:
                    chat["username"] = user["username"]
            else:
                chat["title"] = f"Test {chat_type} {key}"
            self._chats[key] = chat
        if reply_to is not None:
            fields["reply_to_message"] = self._reply_copy(key, reply_to)
        msg = self._store_message(chat, user, fields)
        return self.send_update({"message": copy.deepcopy(msg)})

    def _store_message(self, chat: JSON, sender: JSON, fields: JSON) -> JSON:
        key = chat["id"]
        message_id = self._last_msg_id.get(key, 0) + 1
        self._last_msg_id[key] = message_id
        msg = {"message_id": message_id, "from": sender, "chat": chat,
               "date": int(time.time()), **fields}
        self._msgs.setdefault(key, {})[message_id] = msg
        return msg

    def _reply_copy(self, key: int | str, message_id: int) -> JSON:
        target = self._msgs.get(key, {}).get(message_id)
        if target is None:
            raise ApiError(400, "Bad Request: message to be replied not found")
        return copy.deepcopy({k: v for k, v in target.items() if k != "reply_to_message"})

    def _register_file(self, file: UploadedFile, folder: str) -> JSON:
        n = len(self._files) + 1
        file_id = f"FAKE-{folder}-{n:06d}"
        suffix = re.search(r"\.[\w]{1,8}$", file.filename)
        path = f"{folder}/file_{n}{suffix.group() if suffix else ''}"
        unique = f"U{n:06d}"
        self._files[file_id] = (file, path, unique)
        self._paths[path] = file_id
        return {"file_id": file_id, "file_unique_id": unique, "file_size": len(file.content)}

    def _target_chat(self, p: JSON) -> JSON:
        key = _chat_key(p.get("chat_id"))
        if key is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self._chats.get(key)
        if chat is None:
            if isinstance(key, str):
                raise ApiError(400, "Bad Request: chat not found")
            chat = {"id": key, "type": "private", "first_name": "User"} if key > 0 \
                else {"id": key, "type": "supergroup", "title": f"Group {key}"}
            self._chats[key] = chat
        return chat

    def _formatted(self, p: JSON, key: str, entities_key: str) -> tuple[str, list[JSON]]:
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

    @staticmethod
    def _inline_markup(p: JSON) -> JSON | None:
        markup = p.get("reply_markup")
        try:
            if isinstance(markup, str):
                markup = json.loads(markup)
            if not isinstance(markup, dict) or "inline_keyboard" not in markup:
                return None  # Telegram echoes only inline keyboards in Message.reply_markup
            data = [button.get("callback_data") for row in markup["inline_keyboard"]
                    for button in row]
        except (ValueError, TypeError, AttributeError) as exc:
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object") \
                from exc
        if any(d is not None and not 1 <= len(str(d).encode()) <= 64 for d in data):
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _bot_message(self, chat: JSON, p: JSON, fields: JSON) -> JSON:
        markup = self._inline_markup(p)
        if markup is not None:
            fields["reply_markup"] = markup
        reply = p.get("reply_parameters") or (
            {"message_id": p["reply_to_message_id"]} if p.get("reply_to_message_id") else None
        )
        if isinstance(reply, dict):
            try:
                fields["reply_to_message"] = self._reply_copy(chat["id"], int(reply["message_id"]))
            except ApiError:
                if not (reply.get("allow_sending_without_reply")
                        or p.get("allow_sending_without_reply")):
                    raise
        return copy.deepcopy(self._store_message(chat, self.bot_user, fields))

    def _bot_message_to_edit(self, p: JSON) -> JSON:
        if p.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not modelled by FakeBotAPI")
        msg = self._msgs.get(_chat_key(p.get("chat_id")) or 0, {}).get(
            int(p.get("message_id") or 0))
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if msg["from"]["id"] != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return msg

    @staticmethod
    def _scope_key(scope: Any, language_code: Any) -> tuple[str, str]:
        if isinstance(scope, str):
            scope = json.loads(scope)
        return json.dumps(scope or {"type": "default"}, sort_keys=True), str(language_code or "")

    # ----------------------------------------------------------------- API methods

    def _get_updates(self, p: JSON, files: dict[str, UploadedFile]) -> list[JSON]:
        if self.webhook:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = int(p.get("offset") or 0)
        limit = max(1, min(100, int(p.get("limit") or 100)))
        timeout = max(0.0, float(p.get("timeout") or 0))
        if p.get("allowed_updates") is not None:
            self._allowed = set(p["allowed_updates"]) or None
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_cond.notify_all()  # an older long poll answers 409, as on Telegram
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, _CONFLICT)
            batch = [u for u in self._updates if self._is_allowed(u)][:limit]
            remaining = deadline - time.monotonic()
            if batch or self._closing or remaining <= 0:
                break
            self._updates_cond.wait(remaining)
        now = time.monotonic()
        for update in batch:
            meta = self._meta.get(update["update_id"])
            if meta is not None and meta.delivered_at is None:
                meta.delivered_at = now
        return batch

    def _is_allowed(self, update: JSON) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        return kind in self._allowed if self._allowed else kind not in _NOT_DEFAULT_UPDATES

    def _set_webhook(self, p: JSON, files: dict[str, UploadedFile]) -> bool:
        url = str(p.get("url") or "")
        if url and not url.startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for "
                                "webhook")
        self.webhook = dict(p) if url else None
        if url and p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _delete_webhook(self, p: JSON, files: dict[str, UploadedFile]) -> bool:
        self.webhook = None
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, p: JSON, files: dict[str, UploadedFile]) -> JSON:
        info: JSON = {"url": "", "has_custom_certificate": False,
                      "pending_update_count": len(self._updates)}
        if self.webhook:
            info["url"] = self.webhook["url"]
            for key in ("max_connections", "allowed_updates", "ip_address"):
                if key in self.webhook:
                    info[key] = self.webhook[key]
        return info

    def _send_message(self, p: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._target_chat(p)
        text, entities = self._formatted(p, "text", "entities")
        return self._bot_message(chat, p, {"text": text, **({"entities": entities} if entities
                                                              else {})})

    def _edit_message_text(self, p: JSON, files: dict[str, UploadedFile]) -> JSON:
        msg = self._bot_message_to_edit(p)
        if "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = self._formatted(p, "text", "entities")
        markup = self._inline_markup(p)
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

    def _edit_message_reply_markup(self, p: JSON, files: dict[str, UploadedFile]) -> JSON:
        msg = self._bot_message_to_edit(p)
        markup = self._inline_markup(p)
        if markup == msg.get("reply_markup"):
            raise ApiError(400, _NOT_MODIFIED)
        if markup:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)
        msg["edit_date"] = int(time.time())
        return copy.deepcopy(msg)

    def _delete_message(self, p: JSON, files: dict[str, UploadedFile]) -> bool:
        chat = self._msgs.get(_chat_key(p.get("chat_id")) or 0, {})
        if chat.pop(int(p.get("message_id") or 0), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    def _answer_callback(self, p: JSON, files: dict[str, UploadedFile]) -> bool:
        query_id = str(p.get("callback_query_id") or "")
        if self._callbacks.get(query_id, True):
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                "or query ID is invalid")
        self._callbacks[query_id] = True
        return True

    def _set_my_commands(self, p: JSON, files: dict[str, UploadedFile]) -> bool:
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
        key = self._scope_key(p.get("scope"), p.get("language_code"))
        self.commands[key] = [{"command": c["command"], "description": c["description"]}
                              for c in commands]
        return True

    def _get_my_commands(self, p: JSON, files: dict[str, UploadedFile]) -> list[JSON]:
        key = self._scope_key(p.get("scope"), p.get("language_code"))
        return copy.deepcopy(self.commands.get(key, []))

    def _delete_my_commands(self, p: JSON, files: dict[str, UploadedFile]) -> bool:
        self.commands.pop(self._scope_key(p.get("scope"), p.get("language_code")), None)
        return True

    def _chat_action(self, p: JSON, files: dict[str, UploadedFile]) -> bool:
        self._target_chat(p)
        if p.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _input_file(self, p: JSON, files: dict[str, UploadedFile], name: str) -> UploadedFile:
        value = p.get(name)
        if name in files:
            file = files[name]
        elif isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
            file = files[value[9:]]
        elif isinstance(value, str) and value in self._files:
            return self._files[value][0]
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            return UploadedFile(value.rsplit("/", 1)[-1] or "file", b"")
        elif not value:
            raise ApiError(400, f"Bad Request: there is no {name} in the request")
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if not file.content:
            raise ApiError(400, "Bad Request: file must be non-empty")
        return file

    def _caption_fields(self, p: JSON) -> JSON:
        if p.get("caption") is None:
            return {}
        caption, entities = self._formatted(p, "caption", "caption_entities")
        return {"caption": caption, **({"caption_entities": entities} if entities else {})}

    def _send_document(self, p: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._target_chat(p)
        file = self._input_file(p, files, "document")
        mime = file.content_type if file.content_type != "application/octet-stream" else (
            mimetypes.guess_type(file.filename)[0] or file.content_type)
        document = {**self._register_file(file, "documents"), "file_name": file.filename,
                    "mime_type": mime}
        return self._bot_message(chat, p, {"document": document, **self._caption_fields(p)})

    def _send_photo(self, p: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._target_chat(p)
        ref = self._register_file(self._input_file(p, files, "photo"), "photos")
        photo = [{**ref, "width": 1280, "height": 720}]
        return self._bot_message(chat, p, {"photo": photo, **self._caption_fields(p)})

    def _get_file(self, p: JSON, files: dict[str, UploadedFile]) -> JSON:
        entry = self._files.get(str(p.get("file_id") or ""))
        if entry is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        file, path, unique = entry
        return {"file_id": p["file_id"], "file_unique_id": unique,
                "file_size": len(file.content), "file_path": path}


# --------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeBotAPI) -> None:
        self.fake = fake
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_chunked(self) -> bytes:
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline().strip():  # trailers
            pass
        return b"".join(chunks)

    def _serve(self) -> None:
        fake = cast(_Server, self.server).fake
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        path = unquote(url.path)
        if path.startswith("/file/bot"):
            status, ctype, data = fake._serve_file(path[len("/file/bot"):])
        else:
            ctype = "application/json"
            if path.startswith("/bot"):
                token, _, method = path[len("/bot"):].partition("/")
                try:
                    params, files = _parse_body(self.headers.get("Content-Type", ""), body,
                                                url.query)
                except ValueError as exc:
                    status, answer = 400, {"ok": False, "error_code": 400,
                                           "description": f"Bad Request: {exc}"}
                else:
                    status, answer = fake._dispatch(token, method, params, files)
            else:
                status, answer = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            data = json.dumps(answer, ensure_ascii=False).encode()
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        head = f"HTTP/1.1 {status} {phrase}\r\nContent-Type: {ctype}\r\n" \
            f"Content-Length: {len(data)}\r\n\r\n"
        try:
            self.wfile.write(head.encode() + data)
        except OSError:
            self.close_connection = True
