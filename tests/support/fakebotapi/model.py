"""The values the fake passes around: Bot API errors, uploaded files, logged calls, limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

JSON = dict[str, Any]
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
#: Successful calls of these methods in a chat count as the bot's reply to an update there.
REPLY_METHODS = frozenset(
    {"sendMessage", "sendDocument", "sendPhoto", "editMessageText", "editMessageReplyMarkup"}
)
SEND_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})


class ApiError(Exception):
    """A Bot API error answer: HTTP status = ``error_code``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after

    @classmethod
    def standard(
        cls, code: int, description: str | None = None, retry_after: int | None = None
    ) -> ApiError:
        """The error as Telegram words it: 429 says when to retry, others the HTTP phrase."""
        if code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if code == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                try:
                    description = HTTPStatus(code).phrase
                except ValueError:
                    description = "Error"
        return cls(code, description, retry_after)

    def answer(self) -> JSON:
        """The JSON body Telegram sends with this error."""
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


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


#: A Bot API method: ``handler(params, files) -> result``; raises ApiError for an error answer.
Handler = Callable[[JSON, dict[str, UploadedFile]], Any]


def chat_key(value: Any) -> int | str | None:
    """A ``chat_id`` parameter as the key the fake files chats under (None when absent)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return str(value)
