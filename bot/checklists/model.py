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


