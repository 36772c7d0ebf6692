"""What an answer to a checklist question means: a typed label or number (`typed_answer`; or
no answer at all, a question), a button's value, or a value of an answer file, checked against
the question (its options, its type, its bounds), or `InvalidAnswer` with a message that says
what to send instead."""

from __future__ import annotations

import math
import re
from typing import Any

from bot import texts  # user-facing messages live in bot/texts.py, read at each use
from bot.checklists.model import Question
from index.errors import Problem

AnswerValue = str | int | float | tuple[str, ...] | None
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?")
# Currencies an amount may be typed in, by their marks and names ("$5,000", "5 000 €").
_CURRENCIES = {"USD": ("us$", "$", "usd", "dollars", "dollar"),
               "EUR": ("€", "eur", "euros", "euro"), "GBP": ("£", "gbp"), "CHF": ("chf",)}
_MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "mille": 1e3, "m": 1e6, "mn": 1e6,
                "million": 1e6, "millions": 1e6, "millón": 1e6, "millon": 1e6,
                "millones": 1e6, "bn": 1e9, "billion": 1e9, "billions": 1e9,
                "milliard": 1e9, "milliards": 1e9}
_MULTIPLIER_WORDS = "|".join(sorted(_MULTIPLIERS, key=len, reverse=True))
_MULTIPLIER = re.compile(rf"(\d)({_MULTIPLIER_WORDS})$", re.IGNORECASE)
# Text that is meant as a number: digits, perhaps after a currency code, perhaps followed by
# a multiplier and a unit or currency ("USD 5000", "1.5 million", "1 500 staff").
_NUMBERISH = re.compile(
    rf"^\s*(?:US\$|{'|'.join(_CURRENCIES)})?[^A-Za-z]*\d[^A-Za-z]*"
    rf"(?:\s*(?:{_MULTIPLIER_WORDS}))?(?:\s*[A-Za-z$€£%]{{0,7}})?\s*$", re.IGNORECASE)
# What a yes/no answer may be typed as in the three languages, whatever its labels say.
_YES_NO_WORDS = {"yes": frozenset({"yes", "y", "oui", "sí", "si"}),
                 "no": frozenset({"no", "n", "non"}),
                 "na": frozenset({"n/a", "na", "not applicable", "sans objet", "no aplica",
                                  "no procede"})}
# "5.000": five, or five thousand written the French or Spanish way? Asked, never guessed.
_DOT_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}\.\d{3}")


class InvalidAnswer(Problem):
    """The user's input was not accepted; the message says what to send instead."""


def _fmt(number: float) -> str:
    return f"{int(number):,}" if float(number).is_integer() else f"{number:,}"


def _values(q: Question) -> str:
    return ", ".join(o.value for o in q.options)


def describe_value(raw: object) -> str:
    """A wrong answer as a message quotes it: "the number 3", "true", "a list"."""
    if raw is None:
        return "nothing"
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        return f"the number {raw}"
    if isinstance(raw, float):
        return f"the number {raw:g}"
    if isinstance(raw, str):
        return f"the text '{raw}'"
    if isinstance(raw, list | tuple):
        return "a list"
    return "a mapping" if isinstance(raw, dict) else type(raw).__name__


def _wrong_type(q: Question, raw: object) -> InvalidAnswer:
    """What was expected, and what came instead (a bare yes/no that YAML read as true/false
    says so)."""
    if isinstance(raw, bool):
        return InvalidAnswer(texts.ANSWER_BOOL.format(value=describe_value(raw)))
    if q.type == "number":
        return InvalidAnswer(texts.ANSWER_WANTS_NUMBER.format(got=describe_value(raw)))
    if q.type == "text":
        return InvalidAnswer(texts.ANSWER_WANTS_TEXT.format(got=describe_value(raw)))
    if q.type == "multi":
        return InvalidAnswer(texts.ANSWER_WANTS_LIST.format(got=describe_value(raw),
                                                      options=_values(q)))
    return InvalidAnswer(texts.ANSWER_WANTS_ONE.format(got=describe_value(raw), options=_values(q)))


def _option_value(q: Question, token: str, template: str, strict: bool) -> str:
    """The option a token names. Typed in a chat: its value or label (any case) or its number.
    In a file (`strict`): its value, exactly."""
    token = token.strip()
    if strict:
        if q.option(token) is not None:
            return token
        if token.isdigit():
            raise InvalidAnswer(texts.ANSWER_NUMBER_FOR_CHOICE.format(number=token,
                                                                options=_values(q)))
        raise InvalidAnswer(texts.ANSWER_NOT_VALUE.format(token=f"'{token}'", options=_values(q)))
    folded = token.casefold()
    for exact, field in ((True, "value"), (False, "value"), (False, "label")):
        for o in q.options:
            text: str = getattr(o, field)
            if (text == token) if exact else (text.casefold() == folded):
                return o.value
    if q.type == "yes_no":  # "oui", "sí" to a question shown in English
        said = next((value for value, words in _YES_NO_WORDS.items() if folded in words), None)
        if said is not None and q.option(said) is not None:
            return said
    if token.isdigit():
        if 1 <= int(token) <= len(q.options):
            return q.options[int(token) - 1].value
        raise InvalidAnswer(texts.NO_OPTION_NUMBER.format(number=int(token), count=len(q.options)))
    if not token:
        raise InvalidAnswer(template.format(options=_values(q)))
    raise InvalidAnswer(texts.NO_SUCH_OPTION.format(token=token, options=_values(q)))


def _parse_number(q: Question, raw: object, strict: bool) -> int | float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        number = float(raw)
    elif isinstance(raw, str) and not strict:
        text = re.sub(r"[\s_]", "", raw)
        unit = re.sub(r"\s", "", q.unit or "").casefold()
        if unit and text.casefold().endswith(unit):
            text = text[: -len(unit)]
        elif unit and text.casefold().startswith(unit):
            text = text[len(unit):]
        text = _without_currency(q, raw, text)
        factor = 1.0
        multiplied = _MULTIPLIER.search(text)
        if multiplied:
            factor = _MULTIPLIERS[multiplied.group(2).lower()]
            text = text[: multiplied.start(2)]
        if _DOT_THOUSANDS.fullmatch(text):
            small = float(text)
            raise InvalidAnswer(texts.NUMBER_AMBIGUOUS.format(  # no separators: clear in all
                given=raw.strip(), small=f"{small * factor:g}",  # three languages
                large=f"{small * 1000 * factor:.0f}"))
        if not _NUMBER.fullmatch(text) or not any(c.isdigit() for c in text):
            raise InvalidAnswer(texts.NOT_A_NUMBER)
        number = float(text.replace(",", "")) * factor
    elif strict or isinstance(raw, bool):
        raise _wrong_type(q, raw)
    else:
        raise InvalidAnswer(texts.NOT_A_NUMBER)
    if not math.isfinite(number):
        raise InvalidAnswer(texts.NOT_A_NUMBER)
    if q.integer and not number.is_integer():
        raise InvalidAnswer(texts.NOT_WHOLE.format(number=_fmt(number)))
    if q.min is not None and number < q.min:
        raise InvalidAnswer(texts.TOO_SMALL.format(min=_fmt(q.min)))
    if q.max is not None and number > q.max:
        raise InvalidAnswer(texts.TOO_LARGE.format(max=_fmt(q.max)))
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _without_currency(q: Question, raw: str, text: str) -> str:
    """A typed amount without its currency mark or name ("$5,000", "5000€", "EUR 5000"):
    the question's own currency (its unit, "USD"), or any when it has no unit; another one is
    refused (`NUMBER_OTHER_CURRENCY`: converting is the user's to do), and so is a currency
    for a count (a unit that is no currency)."""
    folded = text.casefold()
    own = (q.unit or "").strip().upper()
    for currency, marks in _CURRENCIES.items():
        for mark in sorted(marks, key=len, reverse=True):
            if folded.startswith(mark) or folded.endswith(mark):
                if own in _CURRENCIES and own != currency:
                    raise InvalidAnswer(texts.NUMBER_OTHER_CURRENCY.format(
                        given=raw.strip(), unit=q.unit))
                if own and own not in _CURRENCIES:
                    raise InvalidAnswer(texts.NOT_A_NUMBER)
                return text[len(mark):] if folded.startswith(mark) else text[: -len(mark)]
    return text


def _parse_multi(q: Question, raw: object, strict: bool) -> tuple[str, ...]:
    tokens: list[Any]
    if isinstance(raw, str):
        whole = [o.value for o in q.options if o.value == raw.strip()]
        tokens = whole or ([raw] if strict else [t for t in raw.split(",") if t.strip()])
    elif isinstance(raw, list | tuple):
        tokens = list(raw)
    elif strict or isinstance(raw, bool | dict):
        raise _wrong_type(q, raw)
    else:
        tokens = []
    chosen: set[str] = set()
    for token in tokens:
        if strict and not isinstance(token, str):
            raise _wrong_type(q, token) if isinstance(token, bool) else InvalidAnswer(
                texts.ANSWER_NOT_VALUE.format(token=describe_value(token), options=_values(q)))
        chosen.add(_option_value(q, str(token), texts.CHOOSE_SOME, strict))
    if not chosen:
        raise InvalidAnswer(texts.CHOOSE_SOME.format(options=_values(q)))
    alone = [o for o in q.options if o.exclusive and o.value in chosen]
    if alone and len(chosen) > 1:
        raise InvalidAnswer(texts.ANSWER_EXCLUSIVE.format(label=alone[0].label))
    return tuple(o.value for o in q.options if o.value in chosen)


def parse_answer(question: Question, raw_value: object, *, strict: bool = False) -> AnswerValue:
    """Validate raw input for `question` and return the value to store; raise InvalidAnswer.

    Chat input (the default) is read leniently: an option by its value, label or number,
    "1,500 USD" as a number. `strict` reads an answer file: an option only by its exact value,
    a number only as a number, text only as text; a wrong type says what was expected. Both
    refuse a fraction for a whole-number question and an exclusive option with others.
    """
    q, raw = question, raw_value
    if q.type == "number":
        return _parse_number(q, raw, strict)
    if q.type == "text":
        if not isinstance(raw, str):
            raise _wrong_type(q, raw)
        if not raw.strip():
            raise InvalidAnswer(texts.EMPTY_TEXT)
        return raw.strip()
    if q.type == "multi":
        return _parse_multi(q, raw, strict)
    if isinstance(raw, int) and not isinstance(raw, bool) and not strict:
        raw = str(raw)
    if not isinstance(raw, str):
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            raise InvalidAnswer(texts.ANSWER_NUMBER_FOR_CHOICE.format(number=f"{raw:g}",
                                                                options=_values(q)))
        if isinstance(raw, bool) or strict:
            raise _wrong_type(q, raw)
        raise InvalidAnswer(texts.CHOOSE_ONE.format(options=_values(q)))
    return _option_value(q, raw, texts.CHOOSE_ONE, strict)


def question_like(text: str) -> bool:
    """Typed text that reads as a question (it ends with "?")."""
    return text.rstrip().endswith("?")


def typed_answer(question: Question, text: str) -> AnswerValue | None:
    """The answer `text` gives to the question, or None when it is not one (a question, an
    unknown option). Raises InvalidAnswer for an answer that breaks a rule (out of range,
    "none" with others), whose message then says what to fix."""
    stripped = text.strip()
    if not stripped:
        return None
    if question.type == "text":
        return None if question_like(stripped) else parse_answer(question, stripped)
    if question.type == "number":
        if not _NUMBERISH.match(stripped):
            return None
        return parse_answer(question, stripped)
    tokens = [t for t in stripped.split(",") if t.strip()] if question.type == "multi" \
        else [stripped]
    for token in tokens:
        try:
            parse_answer(question, token.strip()) if question.type != "multi" else \
                parse_answer(question, [token.strip()])
        except InvalidAnswer:
            return None  # names no option: not an answer
    return parse_answer(question, stripped)
