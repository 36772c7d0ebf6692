"""Source files (PDF, Word, HTML, Markdown, text) -> knowledge documents for `index`.

The output follows `index.format` (described in docs/knowledge-format.md): front matter written
by its writer, `##` headings, numbered paragraphs kept as `N. text`, `Recommendation N`
headings and `[^N]` footnotes, so `partnerbot index` reads what `partnerbot add` writes.
Imports from `index` (format, errors), never from `bot`.
"""

from __future__ import annotations

from index.format import DocumentMeta, slugify
from ingest.document import (
    DEFAULT_KIND,
    UNKNOWN_ORGANIZATION,
    AddedDocument,
    Conversion,
    add_document,
    convert,
)
from ingest.errors import IngestError
from ingest.files import SUPPORTED

__all__ = [
    "DEFAULT_KIND",
    "SUPPORTED",
    "UNKNOWN_ORGANIZATION",
    "AddedDocument",
    "Conversion",
    "DocumentMeta",
    "IngestError",
    "add_document",
    "convert",
    "slugify",
]
