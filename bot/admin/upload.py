"""Admins add a document by sending the file in a private chat with the bot.

The file (PDF with a text layer, Word .docx, HTML, Markdown or text, at most 20 MB) is checked
before it is downloaded (role, chat, caption, type, size), then converted with `ingest` into a
staging directory (`<data dir>/uploads/<token>/`) and shown: title, symbol, sections,
paragraphs, the first paragraph. Add writes it into the knowledge directory with
`ingest.add_document` (never over another document) and re-indexes with `bot.admin.ops.reindex`,
its progress in one message edited in place; the searcher serves the new version for the next
question. Every outcome is audited (`upload_added`, `upload_refused`, `upload_cancelled`).

The caption may carry metadata, one `field: value` per line (title, symbol, label, date, kind,
organization), or be a bare title or a bare document symbol (`JIU/REP/2023/1`).

Callback data: `u:<token>:yes|no` adds or drops the staged file (untrusted: it must match the
pending row). Pending state (in the store): "upload" - the staged file, its token and caption
fields; it survives restarts with the staged file, for `UPLOAD_TTL` seconds.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from bot import render, texts
from bot.admin.ops import reindex
from bot.dialogue.flow import CommandSpec, Turn
from bot.types import Button, Reply, Text, Upload
from index.errors import IndexProblem, Problem
from index.format import FOOTNOTE, HEADING, split_front_matter
from ingest import SUPPORTED, IngestError, add_document, convert
from ingest.blocks import UN_SYMBOL
from ingest.document import Given

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # what the Telegram Bot API lets a bot download
UPLOAD_TTL = 60 * 60  # seconds a converted file waits for Add
FIRST_PARAGRAPH_CHARS = 400
_TOKEN = re.compile(r"^[0-9a-f]{12}$")
_FIELDS = ("title", "symbol", "label", "date", "kind", "organization")
_CAPTION_FIELD = re.compile(
    r"^\s*(title|symbol|label|date|kind|organi[sz]ation)\s*[:=]\s*(.*?)\s*$", re.IGNORECASE)
_MIME_SUFFIX = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "text/plain": ".txt",
}


class Refused(Exception):
    """An upload that is not added: the message (HTML), and the kind of refusal for the audit."""

    def __init__(self, html: str, reason: str) -> None:
        super().__init__(reason)
        self.html = html
        self.reason = reason


def parse_caption(caption: str) -> Given:
    """The metadata a caption gives: `field: value` lines, or a bare symbol or title.

    Raises Refused on a line that is not a field when other lines are."""
    lines = [line for line in caption.splitlines() if line.strip()]
    if not lines:
        return {}
    matches = [_CAPTION_FIELD.match(line) for line in lines]
    if not any(matches):
        text = " ".join(caption.split())
        return {"symbol": text} if UN_SYMBOL.match(text) else {"title": text}
    given: dict[str, str] = {}
    for line, match in zip(lines, matches, strict=True):
        if match is None or not match.group(2):
            raise Refused(texts.UPLOAD_BAD_CAPTION.format(line=render.esc(line.strip()[:120])),
                          "caption")
        key = match.group(1).lower().replace("organisation", "organization")
        given[key] = match.group(2)
    return cast(Given, {key: given[key] for key in _FIELDS if key in given})


def safe_name(filename: str, mime: str | None) -> str:
    """The file's own name without any directory, control characters or leading dots, with
    the extension its MIME type implies when it has none (the name becomes `source`)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED and not suffix:
        implied = _MIME_SUFFIX.get((mime or "").split(";")[0].strip().lower())
        if implied:
            name = (name or "document") + implied
    stem, suffix = Path(name).stem, Path(name).suffix
    return (stem[:100] or "document") + suffix


def chat_words(message: str) -> str:
    """Ingest's messages name command-line options; in the chat they are caption lines."""
    fields = "|".join(_FIELDS)
    message = re.sub(rf"--({fields}) '", r"the caption's \1 '", message)
    message = re.sub(r"--(kind) ([a-z0-9-]+)", r"a caption line '\1: \2'", message)
    message = re.sub(rf"\b[Pp]ass --({fields})\b",
                     r"send the file again with a caption line '\1: …'", message)
    message = re.sub(rf"--({fields})(?: NAME)?(?: --replace)?", r"a caption line '\1: …'",
                     message)
    return message


def first_paragraph(markdown: str, name: str) -> str:
    """The first text block of a converted document, cut to a readable length."""
    body = split_front_matter(markdown, name).body
    for block in re.split(r"\n\s*\n", body):
        text = " ".join(block.split())
        if text and not HEADING.match(block.strip()) and not FOOTNOTE.match(block.strip()):
            if len(text) > FIRST_PARAGRAPH_CHARS:
                text = text[:FIRST_PARAGRAPH_CHARS].rsplit(" ", 1)[0] + " …"
            return text
    return ""


def conflict(docs_dir: Path, source_id: str, symbol: str | None, source: str) -> str | None:
    """What adding would replace: a document of the same id, symbol or source file name."""
    def described(template: str, path: Path, title: str, **more: str) -> str:
        return template.format(id=render.esc(path.stem), title=render.esc(title),
                               **{k: render.esc(v) for k, v in more.items()})

    target = docs_dir / f"{source_id}.md"
    for path in sorted(docs_dir.glob("*.md")) if docs_dir.is_dir() else []:
        try:
            values = split_front_matter(path.read_text(encoding="utf-8"), path.name).values
        except (Problem, OSError, UnicodeDecodeError):
            values = {}
        title = str(values.get("title") or path.stem)
        if path == target:
            return described(texts.UPLOAD_SAME_ID, path, title)
        other = values.get("symbol")
        if symbol and other and str(other).strip().upper() == symbol.strip().upper():
            return described(texts.UPLOAD_SAME_SYMBOL, path, title, symbol=symbol)
        if str(values.get("source") or "").strip().lower() == source.lower():
            return described(texts.UPLOAD_SAME_SOURCE, path, title)
    if target.exists():  # not a regular Markdown file name, but there all the same
        return described(texts.UPLOAD_SAME_ID, target, source_id)
    return None


def _reason(message: str) -> str:
    """The kind of a conversion refusal, for the audit."""
    if "OCR" in message:
        return "scanned"
    if "password-protected" in message or "encrypted" in message:
        return "protected"
    return "conversion"


@dataclass
class UploadFlow:
    """Documents sent by admins: checked, converted, previewed, added and indexed."""

    prefixes: tuple[str, ...] = ("u",)
    groups: bool = False  # private chats only
    pending_kinds: tuple[str, ...] = ("upload",)

    def commands(self) -> Sequence[CommandSpec]:
        return []

    # ---- the file arrives ----------------------------------------------------------------

    def on_upload(self, turn: Turn, upload: Upload) -> list[Reply]:
        """Check, download, convert and preview; or refuse with what to do, audited."""
        name = safe_name(upload.filename, upload.mime)
        try:
            return self._preview(turn, upload, name)
        except Refused as exc:
            self._audit(turn, "upload_refused", file=name, size=upload.size, reason=exc.reason,
                        message=render.to_plain(exc.html))
            return [Reply(exc.html)]

    def _preview(self, turn: Turn, upload: Upload, name: str) -> list[Reply]:
        shown = render.esc(name)
        if not turn.ctx.allowed(turn.user, "admin"):
            raise Refused(texts.UPLOAD_ADMIN_ONLY, "not_admin")
        if not turn.user.private:
            raise Refused(texts.UPLOAD_PRIVATE_ONLY, "group")
        given = parse_caption(upload.caption or "")
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED:
            what = (texts.UPLOAD_TYPE_SUFFIX.format(suffix=render.esc(suffix)) if suffix
                    else texts.UPLOAD_TYPE_NONE)
            raise Refused(texts.UPLOAD_UNKNOWN_TYPE.format(name=shown, what=what), "type")
        if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
            raise Refused(self._too_large(shown, upload.size), "too_large")
        try:
            data = upload.fetch()
        except Problem as exc:
            raise Refused(texts.UPLOAD_NOT_DOWNLOADED.format(
                name=shown, reason=render.esc(exc.message)), "download") from exc
        if len(data) > MAX_UPLOAD_BYTES:
            raise Refused(self._too_large(shown, len(data)), "too_large")
        root = self._root(turn)
        self._sweep(root)
        token = secrets.token_hex(6)
        staged = root / token / name
        try:
            staged.parent.mkdir(parents=True)
            staged.write_bytes(data)
        except OSError as exc:
            shutil.rmtree(staged.parent, ignore_errors=True)
            raise Refused(texts.UPLOAD_NOT_STAGED.format(
                name=shown, reason=render.esc(exc.strerror or exc)), "staging") from exc
        try:
            markdown, summary = convert(staged, **given)
            replaces = conflict(turn.ctx.settings.docs_dir, summary.source_id,
                                summary.metadata.symbol, name)
        except IngestError as exc:
            shutil.rmtree(staged.parent, ignore_errors=True)
            raise Refused(texts.UPLOAD_NOT_CONVERTED.format(
                name=shown, reason=render.esc(chat_words(exc.message))),
                _reason(exc.message)) from exc
        if replaces is not None:
            shutil.rmtree(staged.parent, ignore_errors=True)
            raise Refused(texts.UPLOAD_REPLACES.format(name=shown, what=replaces), "replaces")
        self._drop(turn)  # a newer file replaces the one waiting for Add
        turn.ctx.store.set_pending(
            turn.user.id, turn.user.chat_id, "upload",
            {"token": token, "file": name, "given": dict(given), "source_id": summary.source_id,
             "symbol": summary.metadata.symbol, "title": summary.title}, ttl_seconds=UPLOAD_TTL)
        html = render.upload_preview(name, summary, first_paragraph(markdown, name),
                                     [chat_words(w) for w in summary.warnings])
        buttons = ((Button(texts.UPLOAD_ADD, f"u:{token}:yes"),
                    Button(texts.CANCEL, f"u:{token}:no")),)
        return [Reply(html, buttons, key=f"upload:{token}")]

    @staticmethod
    def _too_large(shown: str, size: int) -> str:
        return texts.UPLOAD_TOO_LARGE.format(name=shown, size=f"{size / 1024 / 1024:.1f}",
                                             limit=MAX_UPLOAD_BYTES // 1024 // 1024)

    # ---- Add / Cancel --------------------------------------------------------------------

    def on_press(self, turn: Turn, prefix: str, rest: str) -> list[Reply]:
        token, _, decision = rest.partition(":")
        if not _TOKEN.match(token) or decision not in ("yes", "no"):
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        if not turn.ctx.allowed(turn.user, "admin"):
            return [Reply(texts.UPLOAD_ADMIN_ONLY, notice=texts.UPLOAD_ADMIN_ONLY)]
        store, user = turn.ctx.store, turn.user
        rows = store.pending(user.id, user.chat_id, "upload")
        data = rows[0]["data"] if rows else None
        if not isinstance(data, dict) or data.get("token") != token:
            return [Reply(texts.UPLOAD_STALE, notice=texts.UPLOAD_STALE)]
        if not store.drop_pending(user.id, user.chat_id, "upload"):  # a second tap meanwhile
            return [Reply(texts.UPLOAD_STALE, notice=texts.UPLOAD_STALE)]
        staged = self._root(turn) / token / safe_name(str(data.get("file", "")), None)
        if decision == "no":
            shutil.rmtree(staged.parent, ignore_errors=True)
            self._audit(turn, "upload_cancelled", file=staged.name)
            return [Reply(texts.UPLOAD_DROPPED.format(name=render.esc(staged.name)), edit=True)]
        try:
            return self._add(turn, token, staged, data)
        except Refused as exc:
            self._audit(turn, "upload_refused", file=staged.name, reason=exc.reason,
                        message=render.to_plain(exc.html))
            return [Reply(exc.html)]
        finally:
            shutil.rmtree(staged.parent, ignore_errors=True)

    def _add(self, turn: Turn, token: str, staged: Path, data: dict[str, Any]) -> list[Reply]:
        settings, shown = turn.ctx.settings, render.esc(staged.name)
        if not staged.is_file():
            raise Refused(texts.UPLOAD_GONE.format(name=shown), "staging")
        given = cast(Given, {k: str(v) for k, v in (data.get("given") or {}).items()
                             if k in _FIELDS})
        docs_dir, source_id = settings.docs_dir, str(data.get("source_id", ""))
        previewed = data.get("symbol")
        replaces = conflict(docs_dir, source_id,
                            previewed if isinstance(previewed, str) else None, staged.name)
        if replaces is not None:  # added meanwhile, by another admin or on the server
            raise Refused(texts.UPLOAD_REPLACES.format(name=shown, what=replaces), "replaces")
        try:
            added = add_document(staged, docs_dir, **given)
        except IngestError as exc:
            if (docs_dir / f"{source_id}.md").exists():  # it appeared since the check
                raise Refused(texts.UPLOAD_REPLACES.format(name=shown, what=conflict(
                    docs_dir, source_id, None, staged.name)), "replaces") from exc
            raise Refused(texts.UPLOAD_NOT_CONVERTED.format(
                name=shown, reason=render.esc(chat_words(exc.message))),
                _reason(exc.message)) from exc
        key = f"upload-index:{token}"
        head = texts.UPLOAD_ADDING.format(title=render.esc(added.title))
        turn.notify(Reply(head, key=key))

        def progress(message: str) -> None:
            turn.notify(Reply(f"{head}\n\n<i>{render.esc(message)}</i>", key=key, edit=True))

        try:
            result = reindex(settings, turn.ctx.searcher.embedder, actor=turn.user.id,
                             store=turn.ctx.store, progress=progress)
        except IndexProblem as exc:
            added.path.unlink(missing_ok=True)  # written just now, without replacing anything
            self._audit(turn, "upload_refused", file=staged.name, document=added.source_id,
                        reason="reindex", message=exc.message)
            return [Reply(texts.UPLOAD_INDEX_FAILED.format(title=render.esc(added.title),
                                                           reason=render.esc(exc)),
                          key=key, edit=True)]
        index = turn.ctx.searcher.current()  # the new version, for the very next question
        passages = next((d.get("passages", 0) for d in index.manifest.get("documents", [])
                         if d.get("source") == added.source_id), 0)
        self._audit(turn, "upload_added", file=staged.name, document=added.source_id,
                    title=added.title, symbol=added.metadata.symbol, passages=passages,
                    version=result.report.version)
        symbol = f" ({render.esc(added.metadata.symbol)})" if added.metadata.symbol else ""
        html = texts.UPLOAD_ADDED.format(title=render.esc(added.title), symbol=symbol,
                                         source_id=render.esc(added.source_id),
                                         passages=passages,
                                         version=render.esc(result.report.version))
        if result.checklist_problems:
            html += texts.REINDEX_CHECKLISTS.format(problems=render.esc(
                "\n".join(result.checklist_problems[:10])))
        return [Reply(html, key=key, edit=True)]

    # ---- the rest of a flow --------------------------------------------------------------

    def on_text(self, turn: Turn, message: Text) -> list[Reply] | None:
        return None

    def on_cancel(self, turn: Turn, kind: str) -> str | None:
        name = self._drop(turn)
        if name is None:
            return None
        self._audit(turn, "upload_cancelled", file=name)
        return texts.UPLOAD_CANCELLED_WHAT.format(name=render.esc(name))

    def on_start(self, turn: Turn, payload: str) -> list[Reply] | None:
        return None

    # ---- staging -------------------------------------------------------------------------

    @staticmethod
    def _root(turn: Turn) -> Path:
        return turn.ctx.settings.data_dir / "uploads"

    def _drop(self, turn: Turn) -> str | None:
        """Forget the file waiting for Add in this chat, and its staged copy: its name."""
        store, user = turn.ctx.store, turn.user
        rows = store.pending(user.id, user.chat_id, "upload")
        store.drop_pending(user.id, user.chat_id, "upload")
        data = rows[0]["data"] if rows else None
        if not isinstance(data, dict):
            return None
        token = str(data.get("token", ""))
        if _TOKEN.match(token):
            shutil.rmtree(self._root(turn) / token, ignore_errors=True)
        return str(data.get("file", ""))

    @staticmethod
    def _sweep(root: Path) -> None:
        """Remove staged files older than the pending rows that pointed at them."""
        if not root.is_dir():
            return
        cutoff = time.time() - UPLOAD_TTL - 60
        for folder in root.iterdir():
            try:
                if folder.is_dir() and _TOKEN.match(folder.name) \
                        and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError as exc:
                log.warning("could not remove the old upload %s: %s", folder, exc)

    @staticmethod
    def _audit(turn: Turn, action: str, **detail: object) -> None:
        turn.safe(turn.ctx.store.audit, actor=turn.user.id, action=action,
                  detail={k: v for k, v in detail.items() if v is not None})


__all__ = ["MAX_UPLOAD_BYTES", "UPLOAD_TTL", "UploadFlow", "parse_caption"]
