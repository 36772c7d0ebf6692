"""Telegram message limits: long messages are split on paragraph boundaries, never inside an
HTML tag or entity."""

from __future__ import annotations

import re

MAX_MESSAGE = 4096
SPLIT_AT = 4000  # headroom below Telegram's 4096 characters


def split_message(message: str, limit: int = SPLIT_AT) -> list[str]:
    """Split at paragraph, then line, then sentence boundaries; never inside an HTML tag."""
    if len(message) <= limit:
        return [message]
    pieces: list[str] = []
    rest = message
    while len(rest) > limit:
        cut = -1
        for sep in ("\n\n", "\n", ". ", " "):
            cut = rest.rfind(sep, 0, limit)
            if cut > limit // 4:
                cut += len(sep)
                break
        if cut <= 0:
            cut = limit
        while rest.rfind("<", 0, cut) > rest.rfind(">", 0, cut):  # inside a tag
            cut = rest.rfind("<", 0, cut)
        amp = rest.rfind("&", max(0, cut - 10), cut)
        if amp != -1 and ";" not in rest[amp:cut]:  # inside an entity such as &amp;
            cut = amp
        open_tags = _open_tags(rest[:cut])
        head = rest[:cut].rstrip() + "".join(f"</{name}>" for name, _ in reversed(open_tags))
        pieces.append(head)
        rest = "".join(tag for _, tag in open_tags) + rest[cut:].lstrip()
    if rest.strip():
        pieces.append(rest)
    return pieces


def _open_tags(fragment: str) -> list[tuple[str, str]]:
    """Tags still open at the end of `fragment`: (name, the opening tag as written)."""
    stack: list[tuple[str, str]] = []
    for match in re.finditer(r"<(/?)([a-z][a-z0-9-]*)[^>]*>", fragment):
        closing, name = match.group(1), match.group(2)
        if closing and stack and stack[-1][0] == name:
            stack.pop()
        elif not closing:
            stack.append((name, match.group(0)))
    return stack
