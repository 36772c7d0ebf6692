"""A Bot API call's parameters from the query string and a JSON, urlencoded or multipart body.

tornado has already split query string, form and multipart parts (``HTTPServerRequest``
``query_arguments``, ``body_arguments``, ``files``); this module turns their values into what
the Bot API means by them: JSON-encoded values decoded, the text-like ones kept as strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tornado.httputil import HTTPFile, HTTPServerRequest

from .model import JSON, UploadedFile

# Form/multipart values are JSON-decoded ("123" -> 123, '{"a":1}' -> dict) except these.
_STRING_KEYS = frozenset({
    "text", "caption", "parse_mode", "callback_query_id", "inline_message_id", "url",
    "secret_token", "ip_address", "action", "language_code", "description", "short_description",
    "name", "title", "emoji", "query", "data", "file_id", "document", "photo", "voice", "audio",
    "video", "animation", "sticker", "thumbnail", "business_connection_id", "message_effect_id",
    "first_name", "last_name", "phone_number", "address",
})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def request_params(request: HTTPServerRequest) -> tuple[JSON, dict[str, UploadedFile]]:
    """Parameters (the body's win over the query string's) and uploaded files of a call.

    Raises ValueError for a body that is neither a form nor a JSON object.
    """
    params = _decode_fields(request.query_arguments)
    ctype = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype in _FORM_TYPES:
        params.update(_decode_fields(request.body_arguments))
    elif request.body.strip():
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise ValueError("a JSON object was expected")
        params.update(data)
    return params, {name: _uploaded(parts[-1]) for name, parts in request.files.items()}


def _decode_fields(fields: Mapping[str, list[bytes]]) -> JSON:
    """The last value of each field, decoded (see ``_STRING_KEYS``)."""
    return {key: _decode(key, values[-1].decode("utf-8", "replace"))
            for key, values in fields.items() if values}


def _decode(key: str, value: str) -> Any:
    if key in _STRING_KEYS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _uploaded(part: HTTPFile) -> UploadedFile:
    # httpx escapes '"' in file names as %22 (the HTML form encoding); tornado's default content
    # type for a part without one is application/unknown, the Bot API's is octet-stream.
    ctype = part.content_type
    if ctype == "application/unknown":
        ctype = "application/octet-stream"
    return UploadedFile(part.filename.replace("%22", '"'), part.body, ctype)
