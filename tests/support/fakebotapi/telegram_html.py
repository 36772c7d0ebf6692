"""Telegram's HTML parse mode and message entities, with the Bot API's error answers.

A validator rather than a lenient HTML parser: Telegram rejects what ``html.parser`` would accept
(unknown tags, unescaped ``&``, mismatched end tags) and words its errors with byte offsets.
"""

from __future__ import annotations

import html
import re

from .model import JSON, ApiError

_SPECIAL_RE = re.compile(r"[<&]")
_TAG_NAME_RE = re.compile(r"[^\s>]*")
_HTML_ENTITY_RE = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_ATTR_RE = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_EXPANDABLE_RE = re.compile(r"(?<![\w-])expandable(?![\w-])")
_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_SIMPLE_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "pre": "pre",
}
_TAGS = frozenset(_SIMPLE_TAGS) | {"span", "a", "code", "blockquote", "tg-emoji"}


def u16(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[JSON]:
    """bot_command entities, as Telegram adds them to users' messages."""
    return [{"type": "bot_command", "offset": u16(text[: m.start()]), "length": u16(m.group())}
            for m in _COMMAND_RE.finditer(text)]


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[JSON]]:
    """Parse Telegram HTML into (plain text, entities) or raise ApiError 400 like the Bot API.

    Supports the tags listed in the Bot API docs and the entities &lt; &gt; &amp; &quot; and
    numeric ones. A bare '&' is rejected when ``strict_ampersand`` (the docs require escaping).
    """
    return _HtmlParser(text, strict_ampersand).parse()


class _HtmlParser:
    """One pass over the text: plain text is copied, tags open and close entities."""

    def __init__(self, text: str, strict_ampersand: bool) -> None:
        self.text, self.strict_ampersand = text, strict_ampersand
        self.out: list[str] = []
        self.pos = 0  # UTF-16 offset in the plain text
        self.stack: list[tuple[str, int, JSON | None]] = []  # open tags: name, start, entity
        self.entities: list[JSON] = []

    def parse(self) -> tuple[str, list[JSON]]:
        text, i = self.text, 0
        while i < len(text):
            m = _SPECIAL_RE.search(text, i)
            j = m.start() if m else len(text)
            self._emit(text[i:j])
            if m is None:
                break
            if text[j] == "&":
                i = self._character_reference(j)
            elif text.startswith("</", j):
                i = self._end_tag(j)
            else:
                i = self._start_tag(j)
        if self.stack:
            raise ApiError(
                400, "Bad Request: can't parse entities: Can't find end tag corresponding to "
                f'start tag "{self.stack[-1][0]}"'
            )
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def _emit(self, chunk: str) -> None:
        if chunk:
            self.out.append(chunk)
            self.pos += u16(chunk)

    def _fail(self, message: str, at: int, tail: str = "") -> ApiError:
        where = f"at byte offset {len(self.text[:at].encode())}{tail}"
        return ApiError(400, f"Bad Request: can't parse entities: {message} {where}")

    def _character_reference(self, i: int) -> int:
        m = _HTML_ENTITY_RE.match(self.text, i)
        if m is None:
            if self.strict_ampersand:
                raise self._fail("Character '&' must be escaped as &amp;", i)
            self._emit("&")
            return i + 1
        self._emit(html.unescape(m.group()))
        return m.end()

    def _end_tag(self, i: int) -> int:
        if not self.stack:
            raise self._fail("Unexpected end tag", i)
        close = self.text.find(">", i)
        if close < 0:
            raise self._fail("Unclosed end tag", i)
        name = self.text[i + 2 : close].strip().lower()
        tag, start, opened = self.stack.pop()
        if name and name != tag:
            raise self._fail("Unmatched end tag", i, f', expected "</{tag}>", found "</{name}>"')
        if opened is not None and self.pos > start:
            self.entities.append({**opened, "offset": start, "length": self.pos - start})
        return close + 1

    def _start_tag(self, i: int) -> int:
        name_m = _TAG_NAME_RE.match(self.text, i + 1)
        assert name_m is not None  # the pattern matches the empty string
        name = name_m.group().lower()
        if name_m.end() >= len(self.text):
            raise self._fail("Unclosed start tag", i)
        if name not in _TAGS:
            raise self._fail(f'Unsupported start tag "{name}"', i)
        close = self.text.find(">", i)
        if close < 0:
            raise self._fail("Unclosed start tag", i)
        rest = self.text[name_m.end() : close]
        attrs = {k.lower(): html.unescape(a or b or c) for k, a, b, c in _ATTR_RE.findall(rest)}
        self.stack.append((name, self.pos, self._entity(name, attrs, rest, i)))
        return close + 1

    def _entity(self, name: str, attrs: dict[str, str], rest: str, i: int) -> JSON | None:
        """The entity a start tag opens (None: the tag adds none, e.g. <a> without href)."""
        if name in _SIMPLE_TAGS:
            return {"type": _SIMPLE_TAGS[name]}
        if name == "span":
            if attrs.get("class") != "tg-spoiler":
                raise self._fail('Tag "span" must have class "tg-spoiler"', i)
            return {"type": "spoiler"}
        if name == "a":
            return {"type": "text_link", "url": attrs["href"]} if attrs.get("href") else None
        if name == "code":
            pre = self.stack[-1][2] if self.stack and self.stack[-1][0] == "pre" else None
            if pre is not None and attrs.get("class", "").startswith("language-"):
                pre["language"] = attrs["class"][len("language-"):]
                return None
            return {"type": "code"}
        if name == "blockquote":
            expandable = _EXPANDABLE_RE.search(rest) is not None
            return {"type": "expandable_blockquote" if expandable else "blockquote"}
        return {"type": "custom_emoji", "custom_emoji_id": attrs.get("emoji-id", "")}  # tg-emoji
