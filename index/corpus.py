"""Reading knowledge documents: front matter checked field by field, then the body chunked."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from index.chunks import Chunk, split_document
from index.errors import KnowledgeFileError

REQUIRED = ("title", "organization", "date", "kind", "source")
OPTIONAL = ("symbol", "label")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


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


def _front_matter(text: str, name: str) -> tuple[dict[str, object], str, list[str]]:
    """Split `---` front matter from the body; problems come as `file:line: field: message`."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text, [f"{name}:1: front matter: missing (the file must start with '---')"]
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        return {}, text, [f"{name}:1: front matter: no closing '---' line"]
    raw = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1 :])
    try:
        node = yaml.compose(raw)
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 2) if mark is not None else 2
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return {}, body, [f"{name}:{line}: front matter: invalid YAML: {problem}"]
    if not isinstance(data, dict):
        return {}, body, [f"{name}:2: front matter: must be a mapping of field: value"]
    lines_of: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            lines_of[str(key.value)] = key.start_mark.line + 2
    problems: list[str] = []
    for key, value in data.items():
        line = lines_of.get(str(key), 2)
        if key not in REQUIRED and key not in OPTIONAL:
            allowed = ", ".join(REQUIRED + OPTIONAL)
            problems.append(f"{name}:{line}: {key}: unknown field (allowed: {allowed})")
        elif key == "date":
            if isinstance(value, dt.date):
                data[key] = value.isoformat()
            elif not isinstance(value, (str, int)) or not _DATE.match(str(value)):
                problems.append(f"{name}:{line}: date: {value!r} is not a date "
                                "(use YYYY-MM-DD, YYYY-MM or YYYY)")
        elif value is None or not str(value).strip():
            problems.append(f"{name}:{line}: {key}: must not be empty")
    for key in REQUIRED:
        if key not in data:
            problems.append(f"{name}:{end + 1}: {key}: missing required field")
    return data, body, problems


def read_document(path: Path) -> Document:
    """Read and chunk one knowledge file; raises KnowledgeFileError naming file and line."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise KnowledgeFileError([f"{name}:1: file: not UTF-8 text ({exc.reason})"]) from exc
    meta, body, problems = _front_matter(text, name)
    if problems:
        raise KnowledgeFileError(problems)
    title, symbol, label = str(meta["title"]).strip(), meta.get("symbol"), meta.get("label")
    symbol_text = str(symbol).strip() if symbol else None
    label_text = str(label).strip() if label else None
    chunks = split_document(body, source=path.stem, title=title, symbol=symbol_text,
                            label=label_text, organization=str(meta["organization"]).strip())
    if not chunks:
        raise KnowledgeFileError([f"{name}:1: body: no text after the front matter"])
    return Document(
        source=path.stem, path=path, title=title, symbol=symbol_text, label=label_text,
        organization=str(meta["organization"]), date=str(meta["date"]), kind=str(meta["kind"]),
        original=str(meta["source"]), sha256=hashlib.sha256(text.encode()).hexdigest(),
        chunks=tuple(chunks),
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
