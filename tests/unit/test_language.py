"""Language detection (index/language.py) on the dev set's questions and on the short,
mixed and other-language messages staff send: the real function words and py3langid model."""

from __future__ import annotations

import pytest
import yaml

from bot.answers import question_language
from index.language import detect, identify
from tests.conftest import ROOT


def test_every_dev_question_is_read_in_its_own_language() -> None:
    english = yaml.safe_load((ROOT / "eval" / "devset.yaml").read_text(encoding="utf-8"))
    translated = yaml.safe_load(
        (ROOT / "eval" / "devset-translations.yaml").read_text(encoding="utf-8"))
    wrong = [q["question"] for q in english["questions"] if detect(q["question"]) != "en"]
    wrong += [q[lang] for q in translated["questions"] for lang in ("fr", "es")
              if lang in q and detect(q[lang]) != lang]
    assert len(english["questions"]) > 250 and len(translated["questions"]) > 100
    assert wrong == []


@pytest.mark.parametrize(("text", "language"), [
    ("what does HACT require?", "en"),
    ("c'est quoi la due diligence ?", "fr"),
    ("les règles du HACT ?", "fr"),
    ("¿qué es el HACT?", "es"),
    ("what does 'partenaire de réalisation' mean?", "en"),  # a quoted term is mentioned
    ("WHAT IS THE PARTNER PORTAL", "en"),  # in capitals: words, not acronyms
    ("HACT?", None),  # acronyms alone: too little to tell
    ("due diligence", None),
])
def test_short_and_mixed_messages(text: str, language: str | None) -> None:
    assert detect(text) == language


@pytest.mark.parametrize(("text", "other"), [
    ("Olá, como posso avaliar um parceiro?", "pt"),
    ("Wie prüfen wir einen Partner vor der Zusammenarbeit?", "de"),
    ("Come valutiamo un partner privato?", "it"),
    ("Что такое партнерский портал ООН?", "ru"),
    ("合作伙伴门户是什么？", "zh"),
    ("ما هي بوابة شركاء الأمم المتحدة؟", "ar"),
    ("Привет, как дела?", "und"),  # too short to name, but in another script
    ("你好", "und"),
    ("UNDP Привет", "und"),
])
def test_another_language_is_named_and_not_answered_as_english(text: str, other: str) -> None:
    guess = identify(text)
    assert guess.language is None and guess.other == other
    assert question_language(text) is None  # bot/answers: "unsupported_language"


def test_too_little_to_tell_is_read_as_english_by_the_answers() -> None:
    assert identify("HACT?").other is None and question_language("HACT?") == "en"
    assert question_language("Olá") == "en"  # three Latin letters: nothing says otherwise
