"""Checklist models for the YAML format in docs/checklist-format.md (strict pydantic)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from index.errors import Problem

Risk = Literal["low", "medium", "high"]
QuestionType = Literal["yes_no", "single", "multi", "number", "text"]
Basis = Literal["stated", "applied"]
RISK_LEVEL: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
CHOICE_TYPES = ("yes_no", "single", "multi")
YES_NO_VALUES = ("yes", "no", "na")
RESERVED_IDS = ("partner",)  # top-level keys of an answer file that are not question ids
HasPassage = Callable[[str, str], bool]
PassageText = Callable[[str, str], str | None]  # (doc, locator) -> the passage text
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
    """A passage in knowledge/docs: document id (file name without .md), locator, and the
    words of the passage the item rests on (`quote`, verbatim; checked against the passage)."""

    doc: Text
    locator: Text
    quote: Text | None = None


class _Traced(_Model):
    """An item that states a rule: a question, a gate or an action.

    `basis: stated` - the cited passage states it; `basis: applied` - this tool applies a
    passage beyond what it states, and `applies` says how, in words shown to users
    ("This tool applies Recommendation 7 to a single partner.").
    """

    basis: Basis = "stated"
    applies: Text | None = None


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
    exclusive: StrictBool = False  # multi only: chosen alone ("None of these")


class Question(_Traced):
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
    integer: StrictBool = False  # number only: whole numbers (a count)
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


class Gate(_Traced):
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


class Floor(_Model):
    """`at_least` answers of scored questions at `risk` or above: the rating is at least
    `rating` (by the order of the ratings, most severe first)."""

    risk: Literal["medium", "high"]
    at_least: Annotated[StrictInt, Field(ge=1)]
    rating: Slug


class Scoring(_Model):
    bands: tuple[Band, ...] = Field(min_length=1)
    floors: tuple[Floor, ...] = ()


class Action(_Traced):
    """A required action of a rating; `when` / `unless` make it depend on the answers."""

    text: Text
    when: Condition | None = None
    unless: Condition | None = None
    cites: tuple[Cite, ...] = ()


class Rating(_Model):
    id: Slug
    label: Text
    risk: Risk
    actions: tuple[Action, ...] = ()


class OptionText(_Model):
    """An option in another language: its label, and its rationale and mitigation where the
    English has them."""

    label: Text
    rationale: Text | None = None
    mitigation: Text | None = None


class QuestionText(_Model):
    """A question in another language; `options` maps each option's value to its label (or
    to an OptionText)."""

    text: Text
    help: Text | None = None
    applies: Text | None = None
    unit: Text | None = None
    options: dict[StrictStr, Text | OptionText] = Field(default_factory=dict)

    def option(self, value: str) -> OptionText | None:
        found = self.options.get(value)
        return OptionText(label=found) if isinstance(found, str) else found


class GateText(_Model):
    message: Text
    applies: Text | None = None


class ActionText(_Model):
    text: Text
    applies: Text | None = None


class RatingText(_Model):
    """A rating in another language: its label, and its actions in their order (optional)."""

    label: Text
    actions: tuple[Text | ActionText, ...] | None = None


class Translation(_Model):
    """A checklist's texts in one other language (docs/checklist-format.md, Translations):
    the title, the description, every section title, every question with its help and every
    option label are required; applies, units, rationales, mitigations, gates and ratings are
    optional (shown in English where not given). Ids and values name the English items."""

    title: Text
    description: Text | None = None
    sections: dict[StrictStr, Text] = Field(default_factory=dict)
    questions: dict[StrictStr, QuestionText] = Field(default_factory=dict)
    gates: dict[StrictStr, Text | GateText] = Field(default_factory=dict)
    ratings: dict[StrictStr, Text | RatingText] = Field(default_factory=dict)


def _question_in(q: Question, t: QuestionText | None) -> Question:
    if t is None:
        return q
    options = []
    for o in q.options:
        ot = t.option(o.value)
        options.append(o if ot is None else o.model_copy(update={
            "label": ot.label, "rationale": ot.rationale or o.rationale,
            "mitigation": ot.mitigation or o.mitigation}))
    return q.model_copy(update={"text": t.text, "help": t.help or q.help,
                                "applies": t.applies or q.applies, "unit": t.unit or q.unit,
                                "options": tuple(options)})


def _rating_in(r: Rating, t: str | RatingText | None) -> Rating:
    if t is None:
        return r
    if isinstance(t, str):
        return r.model_copy(update={"label": t})
    actions = list(r.actions)
    for k, given in enumerate(t.actions or ()):
        if k < len(actions):
            text, applies = (given, None) if isinstance(given, str) else (given.text,
                                                                          given.applies)
            actions[k] = actions[k].model_copy(update={
                "text": text, "applies": applies or actions[k].applies})
    return r.model_copy(update={"label": t.label, "actions": tuple(actions)})


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
    translations: dict[StrictStr, Translation] = Field(default_factory=dict)  # by language

    def localized(self, language: str) -> Checklist:
        """The checklist as shown in `language`: its translated texts where the file gives
        them, English elsewhere (and entirely without a translation). Ids, values, scores and
        citations are the same, so runs, answers and reports do not depend on the language."""
        t = self.translations.get(language)
        if t is None:
            return self
        sections = tuple(s.model_copy(update={
            "title": t.sections.get(s.id, s.title),
            "questions": tuple(_question_in(q, t.questions.get(q.id)) for q in s.questions)})
            for s in self.sections)
        gates = []
        for g in self.gates:
            gt = t.gates.get(g.id)
            if isinstance(gt, str):
                gt = GateText(message=gt)
            gates.append(g if gt is None else g.model_copy(update={
                "message": gt.message, "applies": gt.applies or g.applies}))
        return self.model_copy(update={
            "title": t.title, "description": t.description or self.description,
            "sections": sections, "gates": tuple(gates),
            "ratings": tuple(_rating_in(r, t.ratings.get(r.id)) for r in self.ratings)})

    def questions(self) -> tuple[Question, ...]:
        """All questions in checklist order."""
        return tuple(q for s in self.sections for q in s.questions)

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions() if q.id == question_id), None)

    def rating(self, rating_id: str) -> Rating | None:
        return next((r for r in self.ratings if r.id == rating_id), None)

    def severity(self, rating_id: str) -> int:
        """Position of a rating in the list (0 is the most severe)."""
        return next(i for i, r in enumerate(self.ratings) if r.id == rating_id)

    def to_snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable dict that `checklist_from_dict` turns back into this checklist."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ChecklistError(Problem):
    """A checklist that did not validate; `problems` holds the formatted messages."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems), "partnerbot checklist validate")
        self.problems = problems


@dataclass
class LoadResult:
    checklists: dict[str, Checklist] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


