"""Checklist models, loading and validation for the YAML format in docs/checklist-format.md."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictStr,
    ValidationError,
    model_validator,
)

Risk = Literal["low", "medium", "high"]
QuestionType = Literal["yes_no", "single", "multi", "number", "text"]
RISK_LEVEL: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
CHOICE_TYPES = ("yes_no", "single", "multi")
YES_NO_VALUES = ("yes", "no", "na")
HasPassage = Callable[[str, str], bool]
Loc = tuple[str | int, ...]


def _plain_value(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError('expected text or a number (quote yes/no values: "yes")')
    return value


Text = Annotated[StrictStr, Field(min_length=1)]
Number = StrictFloat
Value = Annotated[str | float, BeforeValidator(_plain_value)]
QuestionId = Annotated[StrictStr, Field(pattern=r"^[a-z0-9_]+$")]
Slug = Annotated[StrictStr, Field(pattern=r"^[a-z0-9_-]+$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cite(_Model):
    """A passage in knowledge/docs: document id (file name without .md) and locator."""

    doc: Text
    locator: Text


class Condition(_Model):
    """One condition form: `question` with one test, or exactly one of all / any / not."""

    question: QuestionId | None = None
    is_: Value | None = Field(None, alias="is")
    is_not: Value | None = None
    in_: tuple[Value, ...] | None = Field(None, alias="in", min_length=1)
    includes: Text | None = None
    at_least: Number | None = None
    below: Number | None = None
    answered: Literal[True] | None = None
    all_: tuple[Condition, ...] | None = Field(None, alias="all", min_length=1)
    any_: tuple[Condition, ...] | None = Field(None, alias="any", min_length=1)
    not_: Condition | None = Field(None, alias="not")

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        tests = [name for name, _ in self._tests()]
        combos = [n for n in ("all_", "any_", "not_") if getattr(self, n) is not None]
        ok = (len(tests) == 1 and not combos) if self.question else (not tests and len(combos) == 1)
        if not ok:
            raise ValueError(
                "expected 'question' with exactly one of is, is_not, in, includes, at_least, "
                "below, answered; or exactly one of all, any, not"
            )
        return self

    def _tests(self) -> Iterator[tuple[str, Any]]:
        for name in ("is_", "is_not", "in_", "includes", "at_least", "below", "answered"):
            value = getattr(self, name)
            if value is not None:
                yield name.rstrip("_"), value

    @property
    def test(self) -> tuple[str, Any]:
        """The (test name, operand) of a question condition, e.g. ("is", "yes")."""
        return next(self._tests())


class Option(_Model):
    """An answer option with its score (None: N/A), risk, rationale and mitigation."""

    value: Text
    label: Text
    score: Number | None = None
    risk: Risk | None = None
    rationale: StrictStr | None = None
    mitigation: StrictStr | None = None


class Question(_Model):
    """One question; `show_if` may only name earlier questions."""

    id: QuestionId
    type: QuestionType
    text: Text
    help: StrictStr | None = None
    weight: Annotated[Number, Field(ge=0)] = 1.0
    key: StrictBool = False
    skippable: StrictBool = False
    show_if: Condition | None = None
    options: tuple[Option, ...] = ()
    min: Number | None = None
    max: Number | None = None
    unit: StrictStr | None = None
    cites: tuple[Cite, ...] = ()

    @property
    def scored(self) -> bool:
        """True when some option carries a score."""
        return any(o.score is not None for o in self.options)

    def option(self, value: str) -> Option | None:
        """The option with this value, if any."""
        return next((o for o in self.options if o.value == value), None)

    def max_points(self) -> float:
        """Weighted maximum: best option score (multi: sum of positive scores)."""
        scores = [o.score for o in self.options if o.score is not None]
        if not scores:
            return 0.0
        best = sum(s for s in scores if s > 0) if self.type == "multi" else max(scores)
        return best * self.weight


class Section(_Model):
    id: Slug
    title: Text
    questions: tuple[Question, ...] = Field(min_length=1)


class Gate(_Model):
    """An exclusion gate: when its condition holds the run ends with `outcome` (a rating id)."""

    id: Slug
    when: Condition
    outcome: Slug
    message: Text
    cites: tuple[Cite, ...] = ()


class Band(_Model):
    """Percent range [from, to) mapped to a rating; the last band includes 100."""

    from_: Number = Field(alias="from")
    to: Number
    rating: Slug


class Scoring(_Model):
    bands: tuple[Band, ...] = Field(min_length=1)


class Action(_Model):
    text: Text
    cites: tuple[Cite, ...] = ()


class Rating(_Model):
    id: Slug
    label: Text
    risk: Risk
    actions: tuple[Action, ...] = ()


class Checklist(_Model):
    """A whole checklist file."""

    id: Annotated[StrictStr, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    version: Text
    title: Text
    audience: tuple[Literal["staff", "trainer"], ...] = ("staff",)
    description: StrictStr = ""
    sections: tuple[Section, ...] = Field(min_length=1)
    gates: tuple[Gate, ...] = ()
    scoring: Scoring
    ratings: tuple[Rating, ...] = Field(min_length=1)

    def questions(self) -> tuple[Question, ...]:
        """All questions in checklist order."""
        return tuple(q for s in self.sections for q in s.questions)

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions() if q.id == question_id), None)

    def rating(self, rating_id: str) -> Rating | None:
        return next((r for r in self.ratings if r.id == rating_id), None)

    def to_snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable dict that `checklist_from_dict` turns back into this checklist."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ChecklistError(ValueError):
    """A checklist that did not validate; `problems` holds the formatted messages."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class LoadResult:
    checklists: dict[str, Checklist] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


# --- semantic checks ------------------------------------------------------------------------

Problem = tuple[Loc, str]


def _dupes(kind: str, items: Iterable[tuple[Loc, str]]) -> list[Problem]:
    seen: set[str] = set()
    out: list[Problem] = []
    for loc, ident in items:
        if ident in seen:
            out.append((loc, f"duplicate {kind} id '{ident}'"))
        seen.add(ident)
    return out


def _check_condition(
    cond: Condition, loc: Loc, by_id: dict[str, Question], earlier: set[str] | None
) -> list[Problem]:
    """Check one condition; `earlier` (for show_if) is the set of ids it may name."""
    if cond.question is None:
        subs = cond.all_ or cond.any_ or ()
        name = "all" if cond.all_ else "any"
        out = [p for i, c in enumerate(subs) for p in _check_condition(c, (*loc, name, i), by_id,
                                                                        earlier)]
        if cond.not_ is not None:
            out += _check_condition(cond.not_, (*loc, "not"), by_id, earlier)
        return out
    qid = cond.question
    target = by_id.get(qid)
    if target is None:
        return [((*loc, "question"), f"unknown question '{qid}'")]
    if earlier is not None and qid not in earlier:
        return [((*loc, "question"), f"question '{qid}' does not come before this question")]
    test, operand = cond.test
    tloc: Loc = (*loc, test)
    if test == "answered":
        return []
    if test in ("at_least", "below"):
        if target.type != "number":
            return [(tloc, f"'{test}' needs a number question, '{qid}' is {target.type}")]
        if test == "at_least" and target.max is not None and operand > target.max:
            return [(tloc, f"question '{qid}' is at most {target.max:g}, so this is never true")]
        if test == "below" and target.min is not None and operand <= target.min:
            return [(tloc, f"question '{qid}' is at least {target.min:g}, so this is never true")]
        return []
    if test == "includes":
        if target.type != "multi":
            return [(tloc, f"'includes' needs a multi question, '{qid}' is {target.type}")]
        if target.option(operand) is None:
            return [(tloc, f"question '{qid}' has no option '{operand}'")]
        return []
    if target.type == "multi":
        return [(tloc, f"'{test}' cannot test multi question '{qid}': use 'includes'")]
    values = list(enumerate(operand)) if test == "in" else [(None, operand)]
    out = []
    for i, value in values:
        vloc = tloc if i is None else (*tloc, i)
        if target.type == "number" and isinstance(value, str):
            out.append((vloc, f"question '{qid}' takes a number, not '{value}'"))
        elif target.type == "text" and not isinstance(value, str):
            out.append((vloc, f"question '{qid}' takes text, not a number"))
        elif target.type in CHOICE_TYPES and not (isinstance(value, str) and target.option(value)):
            shown = value if isinstance(value, str) else f"{value:g}"
            out.append((vloc, f"question '{qid}' has no option '{shown}'"))
    return out


def _check_question(q: Question, loc: Loc, by_id: dict[str, Question], earlier: set[str],
                    rating_risks: set[str]) -> list[Problem]:
    out: list[Problem] = []
    if q.type in CHOICE_TYPES:
        if len(q.options) < 2:
            out.append(((*loc, "options"), f"a {q.type} question needs at least 2 options"))
        seen: set[str] = set()
        for k, o in enumerate(q.options):
            if o.value in seen:
                out.append(((*loc, "options", k, "value"), f"duplicate option value '{o.value}'"))
            seen.add(o.value)
            if q.type == "yes_no" and o.value not in YES_NO_VALUES:
                out.append(((*loc, "options", k, "value"),
                            f"a yes_no option value must be yes, no or na, not '{o.value}'"))
        if q.type == "yes_no" and len(q.options) >= 2 and not {"yes", "no"} <= seen:
            out.append(((*loc, "options"), "a yes_no question needs both 'yes' and 'no' options"))
    elif q.options:
        message = "options are only allowed on yes_no, single and multi questions"
        out.append(((*loc, "options"), message))
    if q.type != "number":
        for name in ("min", "max", "unit"):
            if getattr(q, name) is not None:
                out.append(((*loc, name), f"only number questions take '{name}'"))
    elif q.min is not None and q.max is not None and q.max < q.min:
        out.append(((*loc, "max"), f"'max' ({q.max:g}) is below 'min' ({q.min:g})"))
    if q.weight != 1 and not q.scored:
        out.append(((*loc, "weight"), "weight only applies to questions with scored options"))
    if q.key:
        if not any(o.risk for o in q.options):
            out.append(((*loc, "key"), "a key question needs options with a risk"))
        for k, o in enumerate(q.options):
            if o.risk in ("medium", "high") and o.risk not in rating_risks:
                message = f"no rating has risk '{o.risk}', so this key question cannot raise it"
                out.append(((*loc, "options", k, "risk"), message))
    if not q.cites:
        out.append(((*loc, "cites"), "every question needs at least one citation"))
    if q.show_if is not None:
        out += _check_condition(q.show_if, (*loc, "show_if"), by_id, earlier)
    return out


def _check_bands(bands: tuple[Band, ...]) -> list[Problem]:
    out: list[Problem] = []
    order = sorted(range(len(bands)), key=lambda i: (bands[i].from_, bands[i].to))
    prev: Band | None = None
    for i in order:
        b, loc = bands[i], ("scoring", "bands", i)
        if b.from_ >= b.to:
            out.append((loc, f"'from' ({b.from_:g}) must be below 'to' ({b.to:g})"))
            continue
        if prev is None and b.from_ != 0:
            out.append(((*loc, "from"), f"bands must start at 0, this one starts at {b.from_:g}"))
        elif prev is not None and b.from_ > prev.to:
            out.append(((*loc, "from"), f"gap: no band covers {prev.to:g} to {b.from_:g}"))
        elif prev is not None and b.from_ < prev.to:
            out.append(((*loc, "from"), f"overlaps the band {prev.from_:g}-{prev.to:g}"))
        prev = b
    if prev is not None and prev.to != 100:
        last = bands.index(prev)
        out.append((("scoring", "bands", last, "to"),
                    f"bands must end at 100, the last one ends at {prev.to:g}"))
    return out


def _cite_problems(cites: tuple[Cite, ...], loc: Loc, has_passage: HasPassage) -> list[Problem]:
    return [((*loc, "cites", k), f"no passage '{c.locator}' in document '{c.doc}'")
            for k, c in enumerate(cites) if not has_passage(c.doc, c.locator)]


def check(checklist: Checklist, has_passage: HasPassage | None = None) -> list[Problem]:
    """Every semantic problem of a structurally valid checklist, as (location, message)."""
    questions = [((("sections", si, "questions", qi)), q)
                 for si, s in enumerate(checklist.sections) for qi, q in enumerate(s.questions)]
    by_id: dict[str, Question] = {}
    for _, q in questions:
        by_id.setdefault(q.id, q)
    out = _dupes("section", ((("sections", i, "id"), s.id) for i, s in enumerate(
        checklist.sections)))
    out += _dupes("question", (((*loc, "id"), q.id) for loc, q in questions))
    out += _dupes("rating", ((("ratings", i, "id"), r.id) for i, r in enumerate(checklist.ratings)))
    out += _dupes("gate", ((("gates", i, "id"), g.id) for i, g in enumerate(checklist.gates)))
    rating_ids = {r.id for r in checklist.ratings}
    for i in range(1, len(checklist.ratings)):
        before, after = checklist.ratings[i - 1], checklist.ratings[i]
        if RISK_LEVEL[after.risk] > RISK_LEVEL[before.risk]:
            message = (f"ratings must go from most to least severe: '{after.id}' ({after.risk}) "
                       f"comes after '{before.id}' ({before.risk})")
            out.append((("ratings", i, "risk"), message))
    earlier: set[str] = set()
    risks: set[str] = {r.risk for r in checklist.ratings}
    for loc, q in questions:
        out += _check_question(q, loc, by_id, earlier, risks)
        earlier.add(q.id)
    for i, g in enumerate(checklist.gates):
        out += _check_condition(g.when, ("gates", i, "when"), by_id, None)
        if g.outcome not in rating_ids:
            out.append((("gates", i, "outcome"), f"rating '{g.outcome}' is not defined"))
    for i, b in enumerate(checklist.scoring.bands):
        if b.rating not in rating_ids:
            out.append((("scoring", "bands", i, "rating"), f"rating '{b.rating}' is not defined"))
    out += _check_bands(checklist.scoring.bands)
    if has_passage is not None:
        for loc, q in questions:
            out += _cite_problems(q.cites, loc, has_passage)
        for i, g in enumerate(checklist.gates):
            out += _cite_problems(g.cites, ("gates", i), has_passage)
        for i, r in enumerate(checklist.ratings):
            for k, a in enumerate(r.actions):
                out += _cite_problems(a.cites, ("ratings", i, "actions", k), has_passage)
    return out


# --- YAML, locations and messages -----------------------------------------------------------


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


def _build(data: Any, source: str, root: yaml.Node | None,
           has_passage: HasPassage | None) -> tuple[Checklist | None, list[str]]:
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
    problems = check(checklist, has_passage)
    return (None if problems else checklist), _sorted(source, root, problems)


def _sorted(source: str, root: yaml.Node | None, problems: list[Problem]) -> list[str]:
    """Formatted problems in line order (stable, so same-line problems keep their order)."""
    lines = [(_node_line(root, loc), loc, msg) for loc, msg in problems]
    lines.sort(key=lambda item: item[0] or 0)
    return [_format(source, line, loc, msg) for line, loc, msg in lines]


def _parse_file(path: Path, has_passage: HasPassage | None) -> tuple[Checklist | None, list[str],
                                                                       yaml.Node | None]:
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
    checklist, errors = _build(data, source, root, has_passage)
    return checklist, errors, root


def load_checklist(path: str | Path, has_passage: HasPassage | None = None) -> Checklist:
    """Load and validate one YAML file; raise ChecklistError listing every problem."""
    checklist, errors, _ = _parse_file(Path(path), has_passage)
    if checklist is None:
        raise ChecklistError(errors)
    return checklist


def checklist_from_dict(data: dict[str, Any], source: str = "<snapshot>") -> Checklist:
    """Validate a dict (such as a run's stored snapshot); raise ChecklistError on problems."""
    checklist, errors = _build(data, source, None, None)
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


def _load_many(files: list[Path], has_passage: HasPassage | None) -> LoadResult:
    result = LoadResult()
    origin: dict[str, Path] = {}
    for path in files:
        checklist, errors, root = _parse_file(path, has_passage)
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


def load_checklists(directory: str | Path, has_passage: HasPassage | None = None) -> LoadResult:
    """Load every *.yaml in `directory`; broken files are reported in `errors` and skipped."""
    return _load_many(_files(directory), has_passage)


def validate_paths(paths_or_dir: str | Path | Iterable[str | Path],
                   has_passage: HasPassage | None = None) -> list[str]:
    """Every problem in the given files or directories as `file:line: field: message`."""
    return _load_many(_files(paths_or_dir), has_passage).errors
