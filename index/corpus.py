"""Reading knowledge documents: front matter checked by `index.format`, then the body chunked."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from index.chunks import Chunk, split_document
from index.errors import KnowledgeFileError
from index.format import read_front_matter


@dataclass(frozen=True)
class Document:
    """One knowledge file: its id (file stem), front matter and passages."""

    source: str
    path: Path
    title: str
    symbol: str | None
    label: str | None
    organization: str
    date: str
    kind: str
    original: str
    sha256: str
    chunks: tuple[Chunk, ...]


def read_document(path: Path) -> Document:
    """Read and chunk one knowledge file; raises KnowledgeFileError naming file and line."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise KnowledgeFileError([f"{name}:1: file: not UTF-8 text ({exc.reason})"]) from exc
    meta, body = read_front_matter(text, name)
    chunks = split_document(body, source=path.stem, title=meta.title, symbol=meta.symbol,
                            label=meta.label, organization=meta.organization)
    if not chunks:
        raise KnowledgeFileError([f"{name}:1: body: no text after the front matter"])
    return Document(
        source=path.stem, path=path, title=meta.title, symbol=meta.symbol, label=meta.label,
        organization=meta.organization, date=meta.date, kind=meta.kind, original=meta.source,
        sha256=hashlib.sha256(text.encode()).hexdigest(), chunks=tuple(chunks),
    )


def read_corpus(docs_dir: Path) -> list[Document]:
    """Every `*.md` in the directory, in name order; all problems reported together."""
    if not docs_dir.is_dir():
        raise KnowledgeFileError([f"{docs_dir}: directory: not found (documents go here)"])
    documents: list[Document] = []
    problems: list[str] = []
    for path in sorted(docs_dir.glob("*.md")):
        try:
            documents.append(read_document(path))
        except KnowledgeFileError as exc:
            problems.extend(exc.problems)
    if problems:
        raise KnowledgeFileError(problems)
    if not documents:
        raise KnowledgeFileError([f"{docs_dir}: directory: no *.md documents to index"])
    return documents
