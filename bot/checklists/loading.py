"""Loading checklist files: YAML with line numbers, validation, and `file:line: field: message`
problems; a broken file is reported and never loaded."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.checklists.checks import Finding, check
from bot.checklists.model import (
    Checklist,
    ChecklistError,
    HasPassage,
    LoadResult,
    Loc,
    PassageText,
)


def field_path(loc: Loc) -> str:
    """('sections', 0, 'questions', 2, 'type') -> 'sections[0].questions[2].type'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "checklist"


def _node_line(root: yaml.Node | None, loc: Loc) -> int | None:
    """Line (1-based) of the YAML node at `loc`, or of its nearest existing ancestor."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            hit = next(((k, v) for k, v in node.value
                        if isinstance(k, yaml.ScalarNode) and k.value == part), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _format(source: str, line: int | None, loc: Loc, message: str) -> str:
    where = f"{source}:{line}" if line is not None else source
    return f"{where}: {field_path(loc)}: {message}"


_MESSAGES = {
    "missing": "required field is missing", "extra_forbidden": "unknown field",
    "string_type": "expected text", "float_type": "expected a number",
    "bool_type": "expected true or false", "tuple_type": "expected a list",
    "model_type": "expected a mapping", "model_attributes_type": "expected a mapping",
    "too_short": "must not be empty", "string_too_short": "must not be empty",
    "int_type": "expected a whole number",
}


def _message(err: Any) -> str:
    """Pydantic's error in YAML words; a bare yes/no where text is expected gets a hint."""
    if err["type"] == "string_type" and isinstance(err.get("input"), bool):
        return 'expected text, got true/false (quote yes/no/on/off: "yes")'
    return _MESSAGES.get(err["type"], str(err["msg"]).removeprefix("Value error, "))


def _duplicate_keys(node: yaml.Node, loc: Loc = ()) -> Iterator[tuple[int, Loc, str]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            name = str(k.value)
            if name in seen:
                yield k.start_mark.line + 1, (*loc, name), f"duplicate key '{name}'"
            seen.add(name)
            yield from _duplicate_keys(v, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, i))


def _build(data: Any, source: str, root: yaml.Node | None, has_passage: HasPassage | None,
           passage_text: PassageText | None = None, *, snapshot: bool = False
           ) -> tuple[Checklist | None, list[str]]:
    if not isinstance(data, dict):
        kind = "nothing" if data is None else type(data).__name__
        line = _node_line(root, ()) if root is not None else 1
        return None, [_format(source, line, (), f"expected a mapping of fields, got {kind}")]
    try:
        checklist = Checklist.model_validate(data)
    except ValidationError as exc:
        found = exc.errors()
        nested = [e for e in found if e["type"] != "too_short"]  # "not empty" after bad items
        found = [e for e in found if e["type"] != "too_short" or not any(
            n["loc"][: len(e["loc"])] == e["loc"] for n in nested)]
        return None, _sorted(source, root, [(tuple(e["loc"]), _message(e)) for e in found])
    problems = check(checklist, has_passage, passage_text, snapshot=snapshot)
    return (None if problems else checklist), _sorted(source, root, problems)


def _sorted(source: str, root: yaml.Node | None, problems: list[Finding]) -> list[str]:
    """Formatted problems in line order (stable, so same-line problems keep their order)."""
    lines = [(_node_line(root, loc), loc, msg) for loc, msg in problems]
    lines.sort(key=lambda item: item[0] or 0)
    return [_format(source, line, loc, msg) for line, loc, msg in lines]


def _parse_file(path: Path, has_passage: HasPassage | None, passage_text: PassageText | None
                ) -> tuple[Checklist | None, list[str], yaml.Node | None]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{source}:1: checklist: cannot read the file ({exc})"], None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        context, where = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and where is not None:
            problem += f" ({context} on line {where.line + 1})"
        return None, [f"{source}:{line}: yaml: {problem}"], None
    finally:
        loader.dispose()
    if root is not None:
        dupes = [_format(source, line, loc, msg) for line, loc, msg in _duplicate_keys(root)]
        if dupes:
            return None, dupes, root
    checklist, errors = _build(data, source, root, has_passage, passage_text)
    return checklist, errors, root


def load_checklist(path: str | Path, has_passage: HasPassage | None = None, *,
                   passage_text: PassageText | None = None) -> Checklist:
    """Load and validate one YAML file; raise ChecklistError listing every problem."""
    checklist, errors, _ = _parse_file(Path(path), has_passage, passage_text)
    if checklist is None:
        raise ChecklistError(errors)
    return checklist


def checklist_from_dict(data: dict[str, Any], source: str = "<snapshot>") -> Checklist:
    """Validate a dict (such as a run's stored snapshot, which may predate rules added since);
    raise ChecklistError on problems."""
    checklist, errors = _build(data, source, None, None, snapshot=True)
    if checklist is None:
        raise ChecklistError(errors)
    return checklist


def _files(paths_or_dir: str | Path | Iterable[str | Path]) -> list[Path]:
    items = [paths_or_dir] if isinstance(paths_or_dir, str | Path) else list(paths_or_dir)
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            files += sorted(p for p in item.iterdir() if p.suffix in (".yaml", ".yml"))
        else:
            files.append(item)
    return files


def _load_many(files: list[Path], has_passage: HasPassage | None,
               passage_text: PassageText | None) -> LoadResult:
    result = LoadResult()
    origin: dict[str, Path] = {}
    for path in files:
        checklist, errors, root = _parse_file(path, has_passage, passage_text)
        if checklist is not None and checklist.id in origin:
            errors = [_format(str(path), _node_line(root, ("id",)), ("id",),
                              f"checklist id '{checklist.id}' is already used by "
                              f"{origin[checklist.id]}")]
            checklist = None
        result.errors += errors
        if checklist is not None:
            origin[checklist.id] = path
            result.checklists[checklist.id] = checklist
    return result


def load_checklists(directory: str | Path, has_passage: HasPassage | None = None, *,
                    passage_text: PassageText | None = None) -> LoadResult:
    """Load every *.yaml in `directory`; broken files are reported in `errors` and skipped."""
    return _load_many(_files(directory), has_passage, passage_text)


def validate_paths(paths_or_dir: str | Path | Iterable[str | Path],
                   has_passage: HasPassage | None = None, *,
                   passage_text: PassageText | None = None) -> list[str]:
    """Every problem in the given files or directories as `file:line: field: message`; with
    `passage_text` the quotes are checked against the passages too."""
    return _load_many(_files(paths_or_dir), has_passage, passage_text).errors
