"""The one parser of what people type for ids and tags, and the last clean-up of text.

Every edge (the dialogue, the CLI, the settings) reads user ids, row ids and cohort tags
through these functions, so one input is accepted or refused the same way everywhere, with a
message saying what was wrong and what to type. Nothing of the project is imported but the
error type: the settings, the store and the flows all use this module.

- `parse_user_id`: ASCII digits 0-9 only (``str.isdigit`` also takes "²" and Arabic-Indic
  digits, which ``int`` reads as other numbers), 1 up to Telegram's range, and not the bot.
  Telegram: a user id "has at most 52 significant bits, so a 64-bit integer or
  double-precision float type are safe for storing this identifier" (Bot API, `User.id`).
- `parse_row_id`: a positive row id of the session log (a join request), within SQLite's
  64-bit integers, so no input raises OverflowError into SQLite.
- `parse_cohort_tag`: the documented tag of a training link (README, "Training: deep links
  and cohorts": letters, digits and ``-``), short enough to fit a Telegram deep link.
- `clean_text`: text that cannot be encoded as UTF-8 (lone surrogates) made storable.
"""

from __future__ import annotations

import re

from index.errors import Problem

MAX_USER_ID = 2**52 - 1  # Telegram: "at most 52 significant bits"
MAX_ROW_ID = 2**63 - 1  # SQLite INTEGER PRIMARY KEY
# A deep link's payload holds at most 64 characters: "training-<id>_<tag>" with a one-letter
# checklist id leaves 64 - len("training-x_") = 53 for the tag.
MAX_COHORT_TAG = 53
_COHORT_TAG = re.compile(r"[A-Za-z0-9-]+")
_EXAMPLE_ID = "123456789"


class InputError(Problem):
    """Something typed is not a valid id or tag; the message says what, the hint what to type."""


def _shown(text: str, limit: int = 24) -> str:
    """The input as quoted back in a message, cut when long."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_user_id(text: str, *, bot_id: int | None = None, what: str = "user id") -> int:
    """A Telegram user id typed by a person: ASCII digits, 1 to 2**52 - 1, not the bot's id.

    Raises InputError saying what was wrong (empty, not digits, other digits than 0-9,
    negative, zero, too long, the bot itself) and what to type instead.
    """
    value = text.strip()
    hint = f"type the {what} with the digits 0-9 only, e.g. {_EXAMPLE_ID}"
    if not value:
        raise InputError(f"No {what} was given.", hint)
    sign = value[:1] in ("-", "+", "−")
    digits = value[1:] if sign else value
    if not _ascii_digits(digits):
        if digits.isdigit():  # "١٢٣", "１２３", "²": digits, but not 0-9
            raise InputError(f"{_shown(value)} has digits other than 0-9 (Arabic-Indic, "
                             f"full-width or superscript digits); a {what} is written with "
                             "0-9.", hint)
        raise InputError(f"{_shown(value)} is not a {what}: a {what} is a number made of the "
                         "digits 0-9 only.", hint)
    if sign and value[0] != "+":
        raise InputError(f"{_shown(value)} is negative; a Telegram {what} is a positive "
                         "number (negative numbers are group chats).", hint)
    if sign:
        raise InputError(f"{_shown(value)} starts with '+'; a {what} is the digits alone.",
                         hint)
    if len(digits.lstrip("0")) > len(str(MAX_USER_ID)) or int(digits) > MAX_USER_ID:
        raise InputError(f"{_shown(value)} is too large for a Telegram {what} (at most "
                         f"{MAX_USER_ID}, {len(str(MAX_USER_ID))} digits).", hint)
    number = int(digits)
    if number == 0:
        raise InputError(f"0 is not a {what}: Telegram {what}s start at 1.", hint)
    if bot_id is not None and number == bot_id:
        raise InputError(f"{number} is this bot's own id, not a person's.",
                         f"type the {what} of the person; they see it when they send /start")
    return number


def parse_row_id(text: str, *, what: str = "request id") -> int:
    """A row id of the session log (a join request number): ASCII digits, 1 to 2**63 - 1."""
    value = text.strip()
    hint = f"type the {what} as shown by partnerbot users list, e.g. 3"
    if not value:
        raise InputError(f"No {what} was given.", hint)
    if not _ascii_digits(value):
        raise InputError(f"{_shown(value)} is not a {what}: use the digits 0-9 only.", hint)
    if len(value.lstrip("0")) > len(str(MAX_ROW_ID)) or int(value) > MAX_ROW_ID:
        raise InputError(f"{_shown(value)} is too large for a {what}.", hint)
    number = int(value)
    if number == 0:
        raise InputError(f"0 is not a {what}: they start at 1.", hint)
    return number


def bot_id_of(token: str | None) -> int | None:
    """The bot's own user id: the digits before ':' of its token ("123456:ABC" -> 123456)."""
    head = (token or "").strip().partition(":")[0]
    return int(head) if _ascii_digits(head) and 0 < len(head) <= 19 else None


def parse_cohort_tag(text: str) -> str:
    """A training cohort's tag: letters a-z and A-Z, digits 0-9 and '-', at most 53 characters
    (what fits a deep link after `training-<checklist>_`). Raises InputError otherwise."""
    tag = text.strip()
    hint = "use letters a-z, digits 0-9 and '-' only, e.g. geneva-2026"
    if not tag:
        raise InputError("No cohort tag was given.", hint)
    if len(tag) > MAX_COHORT_TAG:
        raise InputError(f"The cohort tag is {len(tag)} characters long; at most "
                         f"{MAX_COHORT_TAG} fit in a training link.", hint)
    if not _COHORT_TAG.fullmatch(tag):
        bad = next(ch for ch in tag if not _COHORT_TAG.fullmatch(ch))
        shown = "a space" if bad.isspace() else repr(bad)
        raise InputError(f"{_shown(tag)} is not a cohort tag: it holds {shown}.", hint)
    return tag


def clean_text(s: str) -> str:
    """Text made encodable as UTF-8: a surrogate pair sent as two halves is joined, a lone
    surrogate becomes U+FFFD. Text that is already fine is returned as is (the usual case)."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return s
