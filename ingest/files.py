"""Source files in and knowledge files out: type checks, reading and decoding, atomic writes."""

from __future__ import annotations

import os
import tempfile
import unicodedata
from pathlib import Path

from ingest.errors import IngestError

SUPPORTED = (".pdf", ".docx", ".html", ".htm", ".md", ".txt")
SUPPORTED_TEXT = ", ".join(SUPPORTED)


def read_file(path: Path) -> bytes:
    """The file's bytes, after the checks that need no parsing."""
    name = path.name
    if not path.exists():
        raise IngestError(f"{path} was not found. Check the path and the file name.")
    if path.is_dir():
        raise IngestError(f"{path} is a directory, not a file. Name one document file to add.")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise IngestError(_unsupported(name, suffix))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{name} could not be read ({exc.strerror or exc}). Check that the "
                          "file is readable, then try again.") from exc
    if not data.strip():
        raise IngestError(f"{name} is empty. Add a file that contains the document's text.")
    return data


def _unsupported(name: str, suffix: str) -> str:
    if suffix == ".doc":
        hint = "Open it in Word and save it as .docx (or PDF), then add that file."
    elif not suffix:
        hint = "Give the file the extension that matches its type, or export it as PDF."
    else:
        hint = "Save or export it as one of these (e.g. PDF or Word .docx), then add that."
    what = f"a '{suffix}' file" if suffix else "a file without an extension"
    return (f"{name} is {what}, which cannot be added. Supported types: {SUPPORTED_TEXT}. "
            f"{hint}")


def decode_text(data: bytes, name: str) -> tuple[str, list[str]]:
    """UTF-8 (with or without BOM, or UTF-16 with BOM); Windows-1252 as a warned fallback."""
    warnings: list[str] = []
    not_text = (f"{name} is not a text file (it contains binary data). Add the original "
                f"document instead, or save it as UTF-8 text. Supported types: {SUPPORTED_TEXT}.")
    if data.startswith(b"\xef\xbb\xbf"):
        text = data.decode("utf-8-sig", errors="replace")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise IngestError(not_text) from exc
    elif b"\x00" in data:
        raise IngestError(not_text)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError as exc:
                raise IngestError(f"{name} is not UTF-8 text and could not be read as "
                                  "Windows-1252 either. Save it as UTF-8 text and try again."
                                  ) from exc
            warnings.append(f"{name} is not UTF-8; it was read as Windows-1252. Check accented "
                            "characters in the result, or save the file as UTF-8 and add it again.")
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    if controls > max(2, len(text) // 100):
        raise IngestError(not_text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        raise IngestError(f"{name} is empty. Add a file that contains the document's text.")
    return text, warnings


def write_atomic(target: Path, text: str, *, overwrite: bool, exists: IngestError) -> None:
    """Write via a temporary file in the same directory; never clobber unless `overwrite`
    (`exists` is raised when the target is there, or appeared meanwhile)."""
    directory = target.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle_fd, temp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp",
                                                dir=directory)
    except OSError as exc:
        raise IngestError(f"could not write to {directory} ({exc.strerror or exc}). Check that "
                          "the knowledge directory is writable.") from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(handle_fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        if overwrite:
            os.replace(temp, target)
        else:
            _link_new(temp, target, exists)
    except OSError as exc:
        raise IngestError(f"could not write {target} ({exc.strerror or exc}). Check that the "
                          "knowledge directory is writable; nothing was changed.") from exc
    finally:
        temp.unlink(missing_ok=True)


def _link_new(temp: Path, target: Path, exists: IngestError) -> None:
    """Move `temp` to a `target` that must not exist yet."""
    try:
        os.link(temp, target)  # fails if the target appeared meanwhile
    except FileExistsError:
        raise exists from None
    except OSError:  # hard links unsupported here
        if target.exists():
            raise exists from None
        os.replace(temp, target)
