"""The terminal chat: the dialogue engine on standard input and output, in the operator's
/language choice (English until one is made)."""

from __future__ import annotations

import getpass
import re
from pathlib import Path

from bot import i18n, render, texts
from bot.dialogue.engine import Dialogue
from bot.inputs import clean_text
from bot.types import Button, Command, Event, Press, Reply, Text, User

_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:\s+(.*))?$", re.DOTALL)
_BUTTON = re.compile(r"^/(\d{1,2})$")


def parse(line: str, buttons: list[Button]) -> Event:
    """`/3` presses the third button shown last; `/cmd args` is a command; else text."""
    pressed = _BUTTON.match(line.strip())
    if pressed and 1 <= int(pressed.group(1)) <= len(buttons):
        return Press(buttons[int(pressed.group(1)) - 1].data)
    command = _COMMAND.match(line.strip())
    if command:
        return Command(command.group(1).lower(), (command.group(2) or "").strip())
    return Text(line)


def render_replies(replies: list[Reply], exports: Path) -> tuple[str, list[Button]]:
    """Replies as terminal text, with their buttons numbered /1, /2, ..."""
    out: list[str] = []
    buttons: list[Button] = []
    for reply in replies:
        if reply.to is not None:  # meant for another user, whom the terminal cannot reach
            out.append(texts.TERMINAL_NOT_SENT.format(user_id=reply.to))
            continue
        if reply.notice and not reply.html:
            out.append(f"({reply.notice})")
        if reply.html:
            text = render.to_plain(reply.html)
            out.append(f"↻ {text}" if reply.edit else text)  # an update of a message above
        if reply.attachment is not None:
            exports.mkdir(parents=True, exist_ok=True)
            path = exports / reply.attachment.filename
            path.write_bytes(reply.attachment.content)
            out.append(f"[file saved: {path}]")
        labels = []
        for row in reply.buttons:
            for button in row:
                buttons.append(button)
                labels.append(f"/{len(buttons)} {button.label}")
        if labels:
            out.append("   ".join(labels))
    return "\n\n".join(out), buttons


def run_terminal_chat(dialogue: Dialogue, exports: Path) -> None:
    """Read lines until end of input or /quit; print each reply (and progress as it comes)."""
    user = User(id=0, chat_id=0, username=getpass.getuser(), first_name="terminal")
    dialogue.searcher.load()
    with i18n.speaking(dialogue.ctx.language_of(user.id)):
        print(render.to_plain(texts.WELCOME) + "\n\n" + texts.TERMINAL_QUIT)

    def notify(reply: Reply) -> None:
        print("\n" + render_replies([reply], exports)[0], flush=True)

    buttons: list[Button] = []
    prompt: str | None = None  # the key of a message that asked for a reply (a comment)
    while True:
        try:
            line = input("\nreply> " if prompt else "\nyou> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if line.strip() in ("/quit", "/exit"):
            return
        line = clean_text(line)  # undecodable input arrives as lone surrogates
        event = parse(line, buttons)
        if prompt is not None and isinstance(event, Text):
            event = Text(line, reply_key=prompt) if line.strip() else Command("cancel")
        replies = dialogue.handle(user, event, notify)
        with i18n.speaking(dialogue.ctx.language_of(user.id)):
            text, shown = render_replies(replies, exports)
            buttons = shown or buttons
            prompt = next((r.key for r in replies if r.force_reply and r.key), None)
            if prompt is not None:
                text += "\n\n" + texts.TERMINAL_REPLY
        print("\n" + text)
