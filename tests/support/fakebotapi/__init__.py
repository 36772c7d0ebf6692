"""A fake Telegram Bot API server for end-to-end tests and benchmarks.

Start it, build the real bot with ``.base_url(server.base_url)`` and
``.base_file_url(server.base_file_url)``, feed it updates with ``send_text``/``press``/...
and inspect what it did with ``requests``, ``calls``, ``messages`` and the ``wait_*`` helpers.
Make it fail like Telegram with ``fail``/``flood``/``unknown`` or ``flood_limits=FloodLimits()``.
Everything is in memory; one lock guards all state, so the driving API is thread-safe.

Modules, in the order a call meets them:

- ``server``: the HTTP server (tornado, on its own thread), routes and JSON error answers
- ``params``: a call's parameters and uploaded files from query string and body
- ``fake``: ``FakeBotAPI`` - life cycle, failure switches, dispatch, inspection and waiting
- ``faults``: injected errors and Telegram's flood limits (``FloodLimits``)
- ``methods``: the Bot API methods served (sendMessage, getUpdates, ...)
- ``state``: bot, users, chats, messages, files, command menus, webhook
- ``updates``: the update queue and long polling
- ``webhook``: updates POSTed to the bot's webhook (``deliver_webhooks``), retried until 2xx
- ``log``: the log of answered calls and the waiters on it
- ``users``: what users do (``send_text``, ``press_button``, ...), mixed into FakeBotAPI
- ``telegram_html``: Telegram's HTML parse mode (``parse_html``) and command entities
- ``model``: ``ApiError``, ``UploadedFile``, ``Request`` and the limits of the Bot API
"""

from .fake import FakeBotAPI
from .faults import FLOOD_METHODS, FloodLimits
from .model import (
    JSON,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    REPLY_METHODS,
    SEND_METHODS,
    ApiError,
    Handler,
    Request,
    UploadedFile,
)
from .telegram_html import parse_html

__all__ = [
    "FLOOD_METHODS",
    "JSON",
    "MAX_CAPTION_LENGTH",
    "MAX_TEXT_LENGTH",
    "REPLY_METHODS",
    "SEND_METHODS",
    "ApiError",
    "FakeBotAPI",
    "FloodLimits",
    "Handler",
    "Request",
    "UploadedFile",
    "parse_html",
]
