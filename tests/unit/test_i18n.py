"""The message catalogs (bot/i18n.py, bot/locales/): every text of bot/texts.py in French and
Spanish, none missing or stale, the same placeholders and markup, looked up per turn."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po, write_po

from bot import i18n, render, texts

TRANSLATED = [lang for lang in i18n.LANGUAGES if lang != i18n.SOURCE_LANGUAGE]
_TAG = re.compile(r"</?(b|i|u|s|code|pre|a|blockquote)(?:\s[^>]*)?>")  # Telegram HTML


def english() -> dict[str, str]:
    return dict(i18n.messages())


def catalog(language: str, locales: Path = i18n.LOCALES) -> dict[str, Any]:
    """msgctxt -> Babel Message of a catalog, read here with Babel itself."""
    with i18n.catalog_path(language, locales).open("rb") as handle:
        return {str(m.context): m for m in read_po(handle) if m.id}


def test_the_catalogs_are_the_two_other_languages() -> None:
    assert i18n.LANGUAGES == ("en", "fr", "es")
    found = sorted(p.parent.parent.name for p in i18n.LOCALES.glob("*/LC_MESSAGES/messages.po"))
    assert found == sorted(TRANSLATED)
    assert not list(i18n.LOCALES.rglob("*.mo")), "compiled catalogs are build artifacts"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_text_is_translated_and_none_is_stale(language: str) -> None:
    source, messages = english(), catalog(language)
    assert sorted(set(source) - set(messages)) == [], "missing: run python -m bot.i18n update"
    assert sorted(set(messages) - set(source)) == [], "stale: no longer in bot/texts.py"
    for context, message in messages.items():
        assert message.id == source[context], f"{context}: translated from an older English text"
        assert message.string.strip(), f"{context}: not translated"
        assert not message.fuzzy, f"{context}: fuzzy"
    assert i18n.problems(language) == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_placeholders_and_markup(language: str) -> None:
    for context, message in catalog(language).items():
        assert i18n.placeholders(message.string) == i18n.placeholders(message.id), context
        if not context.startswith("USAGE_"):  # "<user id>": words shown escaped, not tags
            tags = Counter(_TAG.findall(message.string))
            assert tags == Counter(_TAG.findall(message.id)), f"{context}: HTML tags differ"
        for command in re.findall(r"/[a-z]+\b", message.id):  # commands are never translated
            assert command in message.string or command in ("/start",), (context, command)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_template_formats_in_every_language(language: str) -> None:
    class Value:
        def __format__(self, spec: str) -> str:
            return "7"

    with i18n.speaking(language):
        for name, value in texts.SOURCE.items():
            looked_up = getattr(texts, name)
            assert type(looked_up) is type(value), name
            for template in looked_up.values() if isinstance(looked_up, dict) else [looked_up]:
                fields = i18n.placeholders(template)
                assert template.format(**dict.fromkeys(fields, Value()))


def test_texts_are_looked_up_in_the_language_of_the_turn() -> None:
    french, spanish = catalog("fr"), catalog("es")
    assert texts.SHOW_PASSAGE == "Show passage {n}"  # outside a turn: English
    with i18n.speaking("fr"):
        assert texts.SHOW_PASSAGE == french["SHOW_PASSAGE"].string == "Voir le passage {n}"
        assert texts.SMALL_TALK["thanks"] == french["SMALL_TALK.thanks"].string
        assert set(texts.SMALL_TALK) == set(texts.SOURCE["SMALL_TALK"])
        assert texts.RUN_STATUS["completed"] == "terminée"
        with i18n.speaking("es"):
            assert texts.WHY == spanish["WHY"].string == "¿Por qué?"
        assert texts.WHY == "Pourquoi\u00a0?"
        assert texts.BOT_NAME == "Partner Guide"  # the same in every language
    assert texts.WHY == "Why?"
    with pytest.raises(AttributeError):
        getattr(texts, "NO_SUCH_TEXT")  # noqa: B009


def test_translate_finds_an_english_text_by_its_words() -> None:
    with i18n.speaking("es"):
        assert i18n.translate(texts.SOURCE["SUMMARY_HELP"]) == "Cómo usarme"
        assert i18n.translate("not a text of the bot") == "not a text of the bot"


def test_unsupported_language_message_is_in_the_three_languages() -> None:
    shown = render.unsupported_language()
    for language in i18n.LANGUAGES:
        assert i18n.text_in("UNSUPPORTED_LANGUAGE", language) in shown
    assert "English, French and Spanish" in shown
    assert "anglais, en français ou en espagnol" in shown
    assert "inglés, francés o español" in shown


def test_problems_name_each_missing_stale_fuzzy_and_broken_entry(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(i18n.LOCALES, locales)
    path = i18n.catalog_path("fr", locales)
    with path.open("rb") as handle:
        po: Any = read_po(handle, locale="fr")
    po.delete(texts.SOURCE["WHY"], context="WHY")  # missing
    po.add("Gone", "Parti", context="GONE_TEXT")  # stale: no such constant
    po.get(texts.SOURCE["SKIP"], context="SKIP").flags.add("fuzzy")
    po.get(texts.SOURCE["SHOW_PASSAGE"], context="SHOW_PASSAGE").string = "Voir le passage"
    po.get(texts.SOURCE["DONE"], context="DONE").string = ""
    with path.open("wb") as handle:
        write_po(handle, po)
    found = "\n".join(i18n.problems("fr", locales))
    assert "WHY: missing" in found
    assert "GONE_TEXT: stale" in found
    assert "SKIP: fuzzy" in found
    assert "SHOW_PASSAGE: placeholders [] instead of ['n']" in found
    assert "DONE: not translated" in found
    assert len(i18n.problems("fr", locales)) == 5


def test_update_keeps_translations_and_marks_a_changed_english_text(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(i18n.LOCALES, locales)
    path = i18n.catalog_path("es", locales)
    with path.open("rb") as handle:
        po: Any = read_po(handle, locale="es")
    po.delete(texts.SOURCE["WHY"], context="WHY")
    po.add("Why is that?", "¿Por qué?", context="WHY")  # as if the English had changed since
    po.delete(texts.SOURCE["SKIP"], context="SKIP")  # as if SKIP were new
    with path.open("wb") as handle:
        write_po(handle, po)
    i18n.update(["es"], locales)
    after = catalog("es", locales)
    assert after["WHY"].id == texts.SOURCE["WHY"] and after["WHY"].fuzzy
    assert '#| msgid "Why is that?"\nmsgctxt "WHY"' in path.read_text(encoding="utf-8")
    assert after["WHY"].string == "¿Por qué?"  # kept for the translator to check
    assert after["SKIP"].string == "" and not after["SKIP"].fuzzy
    assert after["DONE"].string == catalog("es")["DONE"].string
    assert set(after) == set(english())
    assert {p.split(": ")[1] for p in i18n.problems("es", locales)} == {"WHY", "SKIP"}
