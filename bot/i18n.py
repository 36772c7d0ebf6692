"""The bot's languages: English, French and Spanish.

English is the source: the constants of bot/texts.py, each one message whose gettext `msgctxt`
is the constant's name and whose `msgid` is its English text (a dict constant gives one message
per key, `SMALL_TALK.help`). French and Spanish are gettext catalogs,
`bot/locales/<language>/LC_MESSAGES/messages.po`, read with Babel's PO reader once, at the
dialogue's start (or at the first lookup). No compiled `.mo` file is needed.

Which language a turn speaks is a context variable, set by `Dialogue.handle` for the user it
handles (`use`, `speaking`); `texts.X` then returns the text of that language (bot/texts.py
`__getattr__`). Outside a turn (the CLI, the reports) it is English. A translation that is
missing, fuzzy, made for another English text, or whose `{placeholders}` differ from the
English ones is never used: the English text is (tests/unit/test_i18n.py fails on each).

The language of a turn (`choose`): the user's `/language` choice wins; else, for a question,
the question's own language when it is clearly English, French or Spanish; else Telegram's
`language_code` (fr, fr-CA -> fr; es, es-419 -> es; en-GB -> en); else English.

`python -m bot.i18n update` brings the catalogs up to date with bot/texts.py (new texts added
empty, changed ones marked fuzzy with the previous English, removed ones made obsolete);
`python -m bot.i18n check` lists what is missing or stale; `python -m bot.i18n init xx` starts a
catalog for a new language.
"""

from __future__ import annotations

import contextvars
import logging
import re
import string
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("en", "fr", "es")  # English first: the source and the default
SOURCE_LANGUAGE = "en"
NAMES = {"en": "English", "fr": "Français", "es": "Español"}  # each in its own language
LOCALES = Path(__file__).parent / "locales"
DOMAIN = "messages"
# What /language also accepts for each language (lower case, accents as typed or not).
_ALIASES = {
    "en": ("en", "english", "anglais", "inglés", "ingles", "eng"),
    "fr": ("fr", "french", "français", "francais", "francés", "frances", "fra"),
    "es": ("es", "spanish", "espagnol", "español", "espanol", "castellano", "spa"),
}

_language: contextvars.ContextVar[str] = contextvars.ContextVar("partnerbot_language",
                                                                default=SOURCE_LANGUAGE)
_tables: dict[str, dict[str, Any]] = {}  # language -> constant name -> text (or dict of texts)
_by_english: dict[str, str] = {}  # English text -> constant name (for `translate`)
_lock = threading.Lock()


# ---- the language of the turn ------------------------------------------------------------

def current() -> str:
    """The language of the turn being handled ("en" outside a turn)."""
    return _language.get()


def use(language: str) -> contextvars.Token[str]:
    """Speak `language` (one of LANGUAGES) from now on in this context; `reset` undoes it."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; expected one of {LANGUAGES}")
    return _language.set(language)


def reset(token: contextvars.Token[str]) -> None:
    _language.reset(token)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """`with speaking("fr"):` the texts looked up inside are French."""
    token = use(language)
    try:
        yield
    finally:
        reset(token)


def from_telegram(code: str | None) -> str | None:
    """Telegram's `language_code` (an IETF tag: "fr", "fr-CA", "es-419") as one of LANGUAGES,
    or None for another language or none."""
    if not code:
        return None
    primary = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return primary if primary in LANGUAGES else None


def parse_choice(text: str) -> str | None:
    """What `/language` was given ("fr", "FR", "fr-CA", "français", "Spanish") as one of
    LANGUAGES, or None when it names none of them."""
    word = text.strip().lower()
    for language, aliases in _ALIASES.items():
        if word in aliases:
            return language
    return from_telegram(word) if re.fullmatch(r"[a-z]{2}([-_][a-z0-9]{2,8})*", word) else None


def choose(*, chosen: str | None, question: str | None = None,
           telegram: str | None = None) -> str:
    """The language to answer in: the `/language` choice; else the question's own language
    (as detected: None when unsure); else Telegram's language_code; else English."""
    for candidate in (chosen, question, from_telegram(telegram)):
        if candidate in LANGUAGES:
            return candidate  # type: ignore[return-value]
    return SOURCE_LANGUAGE


# ---- the texts -----------------------------------------------------------------------------

def source() -> dict[str, Any]:
    """The English texts: constant name -> text, or dict of texts (bot/texts.py)."""
    from bot import texts

    return texts.SOURCE


def messages(texts_by_name: dict[str, Any] | None = None) -> Iterator[tuple[str, str]]:
    """(msgctxt, msgid) of every message to translate: one per str constant, one per key of a
    dict constant ("SMALL_TALK.help"); texts the same in every language are left out."""
    from bot import texts

    for name, value in (texts_by_name if texts_by_name is not None else source()).items():
        if name in texts.SAME_IN_EVERY_LANGUAGE:
            continue
        if isinstance(value, dict):
            for key, text in value.items():
                yield f"{name}.{key}", text
        else:
            yield name, value


def placeholders(text: str) -> set[str]:
    """The `{name}` fields of a str.format template ("{length:,}" -> "length")."""
    try:
        return {re.split(r"[.\[!:]", field, maxsplit=1)[0]
                for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError:  # an unbalanced brace: not a template
        return {"<unbalanced braces>"}


def catalog_path(language: str, locales: Path = LOCALES) -> Path:
    return locales / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(language: str, locales: Path = LOCALES) -> Any:
    """The Babel Catalog of one language's PO file."""
    from babel.messages.pofile import read_po

    with catalog_path(language, locales).open("rb") as handle:
        return read_po(handle, locale=language, domain=DOMAIN)


def _usable(message: Any, english: dict[str, str]) -> str | None:
    """The translation of a catalog message, or None when it must not be used (why: logged)."""
    context = message.context
    if not message.id or context is None or context not in english:
        return None
    if message.fuzzy or not message.string:
        return None
    if message.id != english[context]:
        log.warning("%s: translation of %s is for an older English text", message, context)
        return None
    if placeholders(message.string) != placeholders(message.id):
        log.error("translation of %s has other {placeholders} than the English text", context)
        return None
    return str(message.string)


def _table(language: str) -> dict[str, Any]:
    """Constant name -> text of one language, English where a translation is not usable."""
    english_texts = source()
    if language == SOURCE_LANGUAGE:
        return english_texts
    english = dict(messages())
    found: dict[str, str] = {}
    try:
        catalog = read_catalog(language)
    except OSError as exc:
        log.error("no catalog for %s (%s): English is used", language, exc)
    else:
        for message in catalog:
            text = _usable(message, english)
            if text is not None:
                found[message.context] = text
    table: dict[str, Any] = {}
    for name, value in english_texts.items():
        if isinstance(value, dict):
            table[name] = {key: found.get(f"{name}.{key}", text) for key, text in value.items()}
        else:
            table[name] = found.get(name, value)
    return table


def load() -> None:
    """Read every catalog (once; later calls return at once)."""
    if len(_tables) == len(LANGUAGES):
        return
    with _lock:
        for language in LANGUAGES:
            if language not in _tables:
                _tables[language] = _table(language)
        if not _by_english:
            for name, value in source().items():
                if isinstance(value, str):
                    _by_english.setdefault(value, name)


def text(name: str) -> Any:
    """The constant `name` of bot/texts.py in the language of the turn."""
    table = _tables.get(_language.get())
    if table is None:
        load()
        table = _tables[_language.get()]
    try:
        return table[name]
    except KeyError:
        raise AttributeError(f"module 'bot.texts' has no attribute {name!r}") from None


def text_in(name: str, language: str) -> Any:
    """The constant `name` in a given language (e.g. for a message in all three)."""
    with speaking(language):
        return text(name)


def translate(english: str) -> str:
    """An English text of bot/texts.py (a command's summary, kept in its CommandSpec) in the
    language of the turn; any other text as it is."""
    load()
    name = _by_english.get(english)
    return english if name is None else str(text(name))


# ---- keeping the catalogs up to date (python -m bot.i18n ...) -----------------------------

def template() -> Any:
    """The catalog template (POT) of bot/texts.py, built in memory."""
    from babel.messages.catalog import Catalog

    catalog = Catalog(project="Partner Guide", domain=DOMAIN, charset="utf-8",
                      msgid_bugs_address="", copyright_holder="")
    for context, msgid in messages():
        flags = ("python-brace-format",) if placeholders(msgid) else ()
        catalog.add(msgid, context=context, flags=flags)
    return catalog


def problems(language: str, locales: Path = LOCALES) -> list[str]:
    """What the catalog of `language` lacks or has too much, in words (empty: complete)."""
    english = dict(messages())
    where = catalog_path(language, locales)
    try:
        catalog = read_catalog(language, locales)
    except OSError as exc:
        return [f"{where}: cannot read it ({exc})"]
    out: list[str] = []
    seen: set[str] = set()
    if where.is_relative_to(LOCALES.parent.parent):
        where = where.relative_to(LOCALES.parent.parent)
    for message in catalog:
        if not message.id:
            continue
        context = message.context
        if context not in english:
            out.append(f"{where}: {context}: stale, no such text in bot/texts.py")
            continue
        seen.add(context)
        if message.id != english[context]:
            out.append(f"{where}: {context}: translated from another English text; run "
                       "python -m bot.i18n update and translate it again")
        elif message.fuzzy:
            out.append(f"{where}: {context}: fuzzy (the English changed): check the translation "
                       "and remove the fuzzy flag")
        elif not message.string:
            out.append(f"{where}: {context}: not translated")
        elif placeholders(message.string) != placeholders(message.id):
            out.append(f"{where}: {context}: placeholders {sorted(placeholders(message.string))} "
                       f"instead of {sorted(placeholders(message.id))}")
    for obsolete in getattr(catalog, "obsolete", {}).values():
        out.append(f"{where}: {obsolete.context}: obsolete entry; remove it")
    out += [f"{where}: {context}: missing" for context in english if context not in seen]
    return out


def _write(language: str, catalog: Any, locales: Path = LOCALES) -> None:
    from babel.messages.pofile import write_po

    path = catalog_path(language, locales)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, sort_output=False, omit_header=False,
                 include_previous=True)


def update(languages: list[str], locales: Path = LOCALES) -> None:
    """Bring the catalogs of `languages` up to date with bot/texts.py, matching messages by
    their msgctxt (the constant's name): a text whose English changed keeps its translation,
    marked fuzzy with the previous English (`#| msgid`) for the translator to check; a new
    text is added untranslated; a text no longer in bot/texts.py is dropped."""
    pot = template()
    for language in languages:
        catalog = read_catalog(language, locales)  # its header is kept
        old = {m.context: m for m in catalog if m.id}
        for message in list(old.values()):
            catalog.delete(message.id, context=message.context)
        catalog.obsolete.clear()
        for entry in pot:
            if not entry.id:
                continue
            known = old.get(entry.context)
            flags = set(entry.flags)
            if known is None:
                catalog.add(entry.id, "", context=entry.context, flags=flags)
            elif known.id == entry.id:
                catalog.add(entry.id, known.string, context=entry.context,
                            flags=flags | ({"fuzzy"} if known.fuzzy else set()),
                            user_comments=known.user_comments,
                            previous_id=known.previous_id if known.fuzzy else ())
            else:
                catalog.add(entry.id, known.string, context=entry.context,
                            flags=flags | {"fuzzy"}, user_comments=known.user_comments,
                            previous_id=known.id)
        _write(language, catalog, locales)


def init(language: str) -> None:
    """Start an empty catalog for a new language."""
    from babel.messages.catalog import Catalog

    if catalog_path(language).exists():
        raise SystemExit(f"{catalog_path(language)} exists already: use update")
    catalog = Catalog(locale=language, project="Partner Guide", domain=DOMAIN, charset="utf-8",
                      copyright_holder="the Partner Guide authors", msgid_bugs_address="",
                      header_comment=f"# {language} translations of bot/texts.py (Partner Guide).\n"
                                     "# Update with: python -m bot.i18n update")
    _write(language, catalog)
    update([language])


def main(argv: list[str]) -> int:
    targets = [lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE]
    if argv[:1] == ["update"]:
        update(argv[1:] or targets)
        return 0
    if argv[:1] == ["init"] and len(argv) == 2:
        init(argv[1])
        return 0
    if argv[:1] == ["check"]:
        found = [p for lang in (argv[1:] or targets) for p in problems(lang)]
        print("\n".join(found) or "The catalogs are complete.")
        return 1 if found else 0
    print("usage: python -m bot.i18n update [LANG ...] | check [LANG ...] | init LANG")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
