"""PDF files: text per page via pypdf, then the plain-text layout rules of `ingest.blocks`."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from ingest.blocks import UN_SYMBOL, Extracted, text_blocks
from ingest.errors import IngestError


def read_pdf(data: bytes, name: str) -> Extracted:
    """Blocks, header symbol, metadata title and creation date of a PDF with a text layer."""
    reader = _open(data, name)
    pages, failed = _page_texts(reader, name)
    if not any(ch.isalnum() for text in pages for ch in text):
        raise IngestError(f"{name} has no extractable text (it looks like a scanned image). Run "
                          "it through OCR first, or add a text version.")
    warnings: list[str] = []
    empty = [n for n, text in enumerate(pages, start=1)
             if not any(ch.isalnum() for ch in text) and n not in failed]
    if failed:
        warnings.append(f"text could not be read from page(s) {_ranges(failed)}; their content "
                        "is missing.")
    if empty:
        warnings.append(f"page(s) {_ranges(empty)} have no text (blank, or scanned images); "
                        "OCR them if they hold content.")
    blocks, header_symbol = text_blocks(pages, pdf=True)
    extracted = Extracted(blocks, symbol=header_symbol, warnings=warnings)
    _read_metadata(reader, extracted)
    return extracted


def _corrupt(name: str) -> IngestError:
    return IngestError(f"{name} could not be read as a PDF (the file is damaged or not really a "
                       "PDF). Open it in a PDF viewer and save or print it to a new PDF, then add "
                       "that copy.")


def _needs_crypto(name: str) -> IngestError:
    return IngestError(f"{name} is encrypted with AES, which this installation cannot decrypt "
                       "(the 'cryptography' package is missing). Save or print an unprotected "
                       "copy and add that, or ask the administrator to install pypdf[crypto].")


def _open(data: bytes, name: str) -> Any:
    """A pypdf reader, decrypted when the PDF only has an empty user password."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as exc:  # pypdf raises many exception types for broken files
        raise _corrupt(name) from exc
    if encrypted:
        try:
            opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
        except DependencyError as exc:
            raise _needs_crypto(name) from exc
        except Exception:
            opened = False
        if not opened:
            raise IngestError(f"{name} is password-protected (encrypted). Remove the protection "
                              "(open it with the password and save an unprotected copy), then "
                              "add that copy.")
    return reader


def _page_texts(reader: Any, name: str) -> tuple[list[str], list[int]]:
    """Each page's text, and the numbers of the pages whose text could not be extracted."""
    from pypdf.errors import DependencyError

    pages: list[str] = []
    failed: list[int] = []
    try:
        for number, page in enumerate(reader.pages, start=1):
            try:
                pages.append(page.extract_text() or "")
            except DependencyError:
                raise
            except Exception:
                pages.append("")
                failed.append(number)
    except DependencyError as exc:
        raise _needs_crypto(name) from exc
    except Exception as exc:
        raise _corrupt(name) from exc
    if not pages or len(failed) == len(pages):
        raise _corrupt(name)
    return pages, failed


def _read_metadata(reader: Any, extracted: Extracted) -> None:
    """The document-information title (or symbol, when the title is one) and creation date."""
    try:
        meta = reader.metadata
        meta_title = meta.title if meta is not None else None
        created = meta.creation_date if meta is not None else None
    except Exception:
        meta_title, created = None, None
    if isinstance(meta_title, str):
        extracted.title = meta_title
        if not extracted.symbol and UN_SYMBOL.match(meta_title.strip()):
            extracted.symbol = meta_title.strip()
    if isinstance(created, dt.datetime):
        extracted.date, extracted.date_origin = created.date().isoformat(), "PDF creation date"


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], 0]:
        if n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    return ", ".join(parts)
