"""The language the bot speaks: Telegram's language_code, the question's own language, the
/language choice (remembered in the store, across a restart), their precedence; answers,
checklists and messages to others in that language around the English guidance; checklist
translations and their validation."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from bot import i18n, render, texts
from bot.answers import Answer
from bot.checklists import load_checklist
from bot.checklists.loading import validate_paths
from bot.dialogue.engine import Dialogue
from bot.dialogue.questions import question_language
from bot.types import Button, Command, Press, Reply, Text, User
from index.language import detect
from tests.conftest import ROOT
from tests.unit.test_dialogue import ADMIN, STAFF, make

FRENCH_QUESTION = "Quels partenaires doivent faire l'objet d'une évaluation des capacités ?"
SPANISH_QUESTION = "¿Qué socios necesitan una evaluación de la capacidad?"
ENGLISH_QUESTION = "Should implementing partners use the UN Partner Portal?"
TINY = ROOT / "tests" / "data" / "checklists" / "valid" / "tiny.yaml"
TINY_FR = """
translations:
  fr:
    title: Vérification éclair
    description: Une toute petite liste de contrôle pour les tests.
    sections: {basics: Principes, practice: Pratique}
    questions:
      sanctions:
        text: L'entreprise figure-t-elle sur une liste de sanctions ?
        options: {"yes": Oui, "no": Non}
      engagement:
        text: Quel type d'engagement est prévu ?
        options: {donation: Don, partnership: Partenariat}
      gc_signatory:
        text: L'entreprise s'est-elle engagée à respecter les principes du Pacte mondial ?
        options:
          "yes": Oui
          "no": {label: Non, rationale: On attend des partenaires qu'ils adhèrent aux valeurs
            des Nations Unies., mitigation: Demander à l'entreprise d'adhérer au Pacte mondial.}
          na: Sans objet
      policies:
        text: Quelles politiques l'entreprise publie-t-elle ?
        options: {human_rights: Droits humains, environment: Environnement,
                  anti_corruption: Lutte contre la corruption, none: Aucune de ces politiques}
      staff_count:
        text: Combien de personnes l'entreprise emploie-t-elle ?
        unit: salariés
      controversy:
        text: Quelle est la gravité des controverses passées ?
        options: {none: Aucune, minor: Mineures, major: Graves}
      comments:
        text: Autre chose que la personne chargée de l'examen devrait savoir ?
    gates: {sanctions: L'entreprise figure sur une liste de sanctions ; le partenariat ne peut
      pas se faire.}
    ratings:
      high: {label: Risque élevé}
      low: Risque faible
"""


@pytest.fixture()
def dialogue(tmp_path: Path, hashed_index: Path, knowledge: Path) -> Dialogue:
    return make(tmp_path, hashed_index, knowledge)


def person(uid: int = STAFF, language: str | None = None) -> User:
    return User(id=uid, chat_id=uid, username=f"u{uid}", first_name="Test", language=language)


def labels(replies: list[Reply]) -> list[str]:
    return [b.label for r in replies for row in r.buttons for b in row]


def button(replies: list[Reply], label: str) -> Button:
    return next(b for r in replies for row in r.buttons for b in row if b.label == label)


def fr(name: str) -> str:
    return str(i18n.text_in(name, "fr"))


def es(name: str) -> str:
    return str(i18n.text_in(name, "es"))


# ---- the rule ------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "language"), [
    ("fr", "fr"), ("fr-CA", "fr"), ("FR_be", "fr"), ("es", "es"), ("es-419", "es"),
    ("en-GB", "en"), ("en", "en"), ("de", None), ("pt-BR", None), ("", None), (None, None)])
def test_telegram_language_codes(code: str | None, language: str | None) -> None:
    assert i18n.from_telegram(code) == language


@pytest.mark.parametrize(("typed", "language"), [
    ("fr", "fr"), ("FR", "fr"), ("français", "fr"), ("French", "fr"), ("fr-CA", "fr"),
    ("es", "es"), ("Español", "es"), ("espagnol", "es"), ("es-419", "es"), ("en", "en"),
    ("anglais", "en"), ("de", None), ("xx", None), ("klingon", None), ("", None)])
def test_language_choices(typed: str, language: str | None) -> None:
    assert i18n.parse_choice(typed) == language


def test_precedence_choice_then_question_then_telegram_then_english() -> None:
    assert i18n.choose(chosen="es", question="fr", telegram="en") == "es"
    assert i18n.choose(chosen=None, question="fr", telegram="es-419") == "fr"
    assert i18n.choose(chosen=None, question=None, telegram="es-419") == "es"
    assert i18n.choose(chosen=None, question=None, telegram="de") == "en"
    assert i18n.choose(chosen=None, question=None, telegram=None) == "en"


def test_the_question_language_comes_from_index_language_detect() -> None:
    assert detect(FRENCH_QUESTION) == "fr" and question_language(FRENCH_QUESTION) == "fr"
    assert question_language(SPANISH_QUESTION) == "es"
    assert question_language(ENGLISH_QUESTION) == "en"
    assert question_language("HACT?") is None  # too little to tell


# ---- in the conversation -------------------------------------------------------------------

def test_a_french_telegram_app_gets_start_help_and_menus_in_french(dialogue: Dialogue) -> None:
    user = person(language="fr-CA")
    assert dialogue.handle(user, Command("start"))[0].html == fr("WELCOME")
    shown = dialogue.handle(user, Command("help"))[0].html
    assert shown.startswith(fr("HELP"))
    assert f"/language [en|fr|es] – {fr('SUMMARY_LANGUAGE')}" in shown
    assert f"/checklist – {fr('SUMMARY_CHECKLIST')}" in shown
    assert "How to use me" not in shown
    spanish = dialogue.handle(person(language="es-419"), Command("help"))[0].html
    assert spanish.startswith(es("HELP")) and es("SUMMARY_SOURCES") in spanish
    other = dialogue.handle(person(language="de"), Command("start"))[0].html
    assert other == texts.SOURCE["WELCOME"]


def test_a_question_is_answered_in_its_own_language_around_english_quotes(
        dialogue: Dialogue) -> None:
    user = person(language="en")  # an English Telegram app
    [answer] = dialogue.handle(user, Text(FRENCH_QUESTION))
    assert "Show passage" not in " ".join(labels([answer]))
    assert labels([answer])[0] == "Voir le passage 1" and labels([answer])[-2:] == ["👍", "👎"]
    assert fr("NOT_COVERED") in answer.html or fr("SOURCES_HEADING") in answer.html
    quotes = [q for q in answer.html.split("“")[1:]]
    assert quotes and all("Nations Unies" not in q for q in quotes)  # the guidance's English
    spanish = dialogue.handle(user, Text(SPANISH_QUESTION))
    assert labels(spanish)[0] == "Ver pasaje 1"
    french_app = person(language="fr")
    english = dialogue.handle(french_app, Text(ENGLISH_QUESTION))
    assert labels(english)[0] == "Show passage 1"  # the question's language beats the app's
    assert "<b>Sources</b>" in english[0].html


@pytest.mark.parametrize(("first", "then", "language"), [
    (FRENCH_QUESTION, "et pour les ONG ?", "fr"),
    (FRENCH_QUESTION, "Qu'en est-il des ONG ?", "fr"),
    (SPANISH_QUESTION, "¿Y para las ONG?", "es"),
    (SPANISH_QUESTION, "también para las ONG", "es")])
def test_a_french_or_spanish_follow_up_is_searched_with_the_previous_question(
        dialogue: Dialogue, first: str, then: str, language: str) -> None:
    user = person(language="en")
    dialogue.handle(user, Text(first))
    replies = dialogue.handle(user, Text(then))
    lead = str(i18n.text_in("FOLLOW_UP_NOTE", language)).split("{previous}")[0]
    assert replies[0].html.startswith(lead), replies[0].html[:120]
    last = sqlite_utils.Database(dialogue.settings.db_path).execute(
        "select query from answers order by id desc").fetchone()[0]
    assert last == f"{first} {then}"


def test_a_french_question_opening_y_a_t_il_stands_on_its_own(dialogue: Dialogue) -> None:
    user = person(language="fr")
    dialogue.handle(user, Text(FRENCH_QUESTION))
    dialogue.handle(user, Text("Y a-t-il une plateforme d'apprentissage en ligne ?"))
    last = sqlite_utils.Database(dialogue.settings.db_path).execute(
        "select query from answers order by id desc").fetchone()[0]
    assert last == "Y a-t-il une plateforme d'apprentissage en ligne ?"


def test_what_follows_an_answer_is_in_its_language(dialogue: Dialogue) -> None:
    user = person(language="en")
    answer = dialogue.handle(user, Text(FRENCH_QUESTION))
    thumbs_down = dialogue.handle(user, Press(button(answer, "👎").data))
    assert thumbs_down[0].notice == fr("FEEDBACK_THANKS")
    assert [b.label for row in thumbs_down[0].buttons for b in row][-1] == "👎 ✔"
    assert thumbs_down[1].html == fr("FEEDBACK_ASK_COMMENT")
    saved = dialogue.handle(user, Text("Trop vague", reply_key=thumbs_down[1].key))
    assert saved[0].html == fr("FEEDBACK_COMMENT_SAVED")


def test_language_command_chooses_remembers_and_wins(tmp_path: Path, hashed_index: Path,
                                                      knowledge: Path) -> None:
    dialogue = make(tmp_path, hashed_index, knowledge)
    user = person(language="fr")
    menu = dialogue.handle(user, Command("language"))
    assert menu[0].html == fr("LANGUAGE_AUTO_NOW").format(name="français")
    assert labels(menu) == ["English", "Français", "Español", "✔ " + fr("LANGUAGE_AUTO")]
    assert [b.data for b in menu[0].buttons[0]] == ["l:en", "l:fr", "l:es"]
    chosen = dialogue.handle(user, Command("language", "es"))
    assert chosen[0].html == es("LANGUAGE_SET")
    assert dialogue.handle(user, Command("start"))[0].html == es("WELCOME")
    answer = dialogue.handle(user, Text(FRENCH_QUESTION))
    assert labels(answer)[0] == "Ver pasaje 1"  # the choice beats the question's language
    rows = sqlite_utils.Database(dialogue.settings.db_path).table("users").get(STAFF)
    assert rows["chosen_language"] == "es" and rows["language"] == "fr"
    dialogue.store.close()

    restarted = make(tmp_path, hashed_index, knowledge)  # the same data: a restart
    assert restarted.handle(user, Command("start"))[0].html == es("WELCOME")
    shown = restarted.handle(user, Command("language"))
    assert shown[0].html == es("LANGUAGE_CHOSEN_NOW").format(name="español")
    assert "✔ Español" in labels(shown)
    pressed = restarted.handle(user, Press("l:en"))
    assert pressed[0].html == texts.SOURCE["LANGUAGE_SET"] and pressed[0].edit
    assert restarted.handle(user, Command("help"))[0].html.startswith(texts.SOURCE["HELP"])
    automatic = restarted.handle(user, Command("language", "auto"))
    assert automatic[0].html == fr("LANGUAGE_AUTO_SET")  # back to the Telegram app's French
    assert restarted.store.chosen_language(STAFF) is None
    assert restarted.handle(user, Command("start"))[0].html == fr("WELCOME")


def test_an_unknown_language_is_refused_naming_the_three(dialogue: Dialogue) -> None:
    replies = dialogue.handle(person(language="fr"), Command("language", "de"))
    assert replies[0].html == fr("LANGUAGE_UNKNOWN").format(given="de")
    for code in ("/language en", "/language fr", "/language es"):
        assert code in replies[0].html
    english = dialogue.handle(person(), Command("language", "<b>x</b>"))[0].html
    assert "&lt;b&gt;x&lt;/b&gt;" in english and "English" in english
    assert dialogue.handle(person(), Press("l:de"))[0].html == texts.SOURCE["STALE_BUTTON"]
    assert dialogue.store.chosen_language(STAFF) is None


def test_a_question_in_another_language_gets_the_message_in_the_three() -> None:
    answer = Answer(question="Welche Partner brauchen eine Prüfung?", query="", grounded=False,
                    reason="unsupported_language")
    shown = render.answer_message(answer)
    assert shown == render.unsupported_language()
    assert [i18n.text_in("UNSUPPORTED_LANGUAGE", lang) in shown for lang in i18n.LANGUAGES] \
        == [True, True, True]


@pytest.mark.parametrize("text", ["Привет, как дела?", "你好", "Wie prüfen wir einen Partner?"])
def test_a_message_in_another_language_or_script_is_told_the_three(dialogue: Dialogue,
                                                                    text: str) -> None:
    """Even with French chosen: "no words to search" would not be true of it."""
    user = person(language="fr")
    dialogue.handle(user, Command("language", "fr"))
    assert dialogue.handle(user, Text(text))[0].html == render.unsupported_language()


def test_people_without_access_are_told_in_their_language(dialogue: Dialogue) -> None:
    stranger = User(id=555, chat_id=555, language="es")
    replies = dialogue.handle(stranger, Text("hola"))
    assert replies[0].html == es("NOT_ALLOWED").format(user_id=555)
    assert dialogue.handle(stranger, Command("language", "fr"))[0].html == replies[0].html


def test_messages_to_others_are_in_their_language(dialogue: Dialogue) -> None:
    admin = person(ADMIN, language="en")
    dialogue.handle(person(4242, language="es"), Command("start"))  # known, Spanish app
    replies = dialogue.handle(admin, Command("allow", "4242"))
    mine, theirs = replies
    assert mine.html == texts.SOURCE["ALLOWED"].format(user_id=4242, role="staff")
    assert theirs.to == 4242 and theirs.html == es("YOU_ARE_ALLOWED").format(role="staff")


def test_unsupported_content_names_its_kind_in_the_language(dialogue: Dialogue) -> None:
    from bot.types import Unsupported

    replies = dialogue.handle(person(language="fr"), Unsupported("voice"))
    assert replies[0].html == fr("UNSUPPORTED").format(kind="message vocal")


# ---- checklists ----------------------------------------------------------------------------

def tiny_with(tmp_path: Path, translations: str = TINY_FR) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.read_text(encoding="utf-8") + translations, encoding="utf-8")
    return path


def test_a_checklist_translation_loads_and_shows(tmp_path: Path) -> None:
    checklist = load_checklist(tiny_with(tmp_path))
    french = checklist.localized("fr")
    assert french.title == "Vérification éclair"
    assert [s.title for s in french.sections] == ["Principes", "Pratique"]
    gc = french.question("gc_signatory")
    assert gc is not None and [o.label for o in gc.options] == ["Oui", "Non", "Sans objet"]
    assert gc.options[1].mitigation == "Demander à l'entreprise d'adhérer au Pacte mondial."
    assert [(o.value, o.score, o.risk) for o in gc.options] == [
        (o.value, o.score, o.risk) for o in checklist.question("gc_signatory").options]  # type: ignore[union-attr]
    assert gc.cites == checklist.question("gc_signatory").cites  # type: ignore[union-attr]
    assert french.rating("high").label == "Risque élevé"  # type: ignore[union-attr]
    assert french.rating("medium").label == "Medium risk"  # type: ignore[union-attr]
    assert french.gates[0].message.startswith("L'entreprise figure")
    assert checklist.localized("es") is checklist  # no Spanish: English
    assert checklist.localized("en") is checklist
    snapshot = checklist.to_snapshot()
    assert snapshot["translations"]["fr"]["title"] == "Vérification éclair"


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda t: t.replace("      comments:\n        text: Autre chose que la personne chargée "
                         "de l'examen devrait savoir ?\n", ""),
     "translations.fr.questions: the question 'comments' is not translated"),
    (lambda t: t.replace("major: Graves", "major: Graves, extreme: Extrêmes"),
     "translations.fr.questions.controversy.options.extreme: no option 'extreme' in this "
     "checklist"),
    (lambda t: t.replace(", partnership: Partenariat", ""),
     "translations.fr.questions.engagement.options: the option 'partnership' is not "
     "translated"),
    (lambda t: t.replace("      comments:", "      comment:"),
     "translations.fr.questions.comment: no question 'comment' in this checklist"),
    (lambda t: t.replace("practice: Pratique", "practise: Pratique"),
     "translations.fr.sections.practise: no section 'practise' in this checklist"),
    (lambda t: t.replace("  fr:\n", "  de:\n"),
     "translations.de: no translations into 'de': the bot speaks English (the checklist's own "
     "language), and translations are for fr, es"),
    (lambda t: t.replace("    title: Vérification éclair\n", ""),
     "translations.fr.title: required field is missing"),
    (lambda t: t.replace("    gates: {sanctions:", "    gates: {sanction:"),
     "translations.fr.gates.sanction: no gate 'sanction' in this checklist"),
    (lambda t: t.replace("        unit: salariés", "        unit: salariés\n        help: Aide."),
     "translations.fr.questions.staff_count.help: the English has no help to translate"),
])
def test_a_broken_translation_is_reported_and_the_file_not_loaded(
        tmp_path: Path, edit: object, problem: str) -> None:
    path = tiny_with(tmp_path, edit(TINY_FR))  # type: ignore[operator]
    found = validate_paths(path)
    assert any(p.startswith(f"{path}:") and p.endswith(problem) for p in found), found
    line = next(p for p in found if p.endswith(problem)).split(":")[1]
    assert line.isdigit() and int(line) > 100  # the line of the translation, not the file's top


def test_quotes_in_a_translation_are_checked_against_the_cited_passages(tmp_path: Path) -> None:
    quoted = TINY_FR.replace(
        "text: L'entreprise figure-t-elle sur une liste de sanctions ?",
        "text: L'entreprise figure-t-elle sur une liste de sanctions ?\n"
        "        help: Le texte demande « detailed due diligence processes for potential "
        "partners » et « an invented phrase ».")
    quoted = quoted.replace(
        "    title: Vérification éclair",
        "    title: Vérification éclair")
    path = tiny_with(tmp_path, quoted)
    english = TINY.read_text(encoding="utf-8")
    path.write_text(english.replace(
        "        text: Is the company on a sanctions list?\n",
        "        text: Is the company on a sanctions list?\n        help: Sanctions.\n", 1)
        + quoted, encoding="utf-8")
    passage = ("It calls for detailed due diligence processes for potential partners and for "
               "effective partnership players.")
    found = validate_paths(path, passage_text=lambda doc, loc: passage)
    bad = [p for p in found if "translations.fr.questions.sanctions.help" in p]
    assert len(bad) == 1 and "“an invented phrase” is not in any passage" in bad[0]


def test_a_checklist_run_in_french(dialogue: Dialogue, knowledge: Path) -> None:
    target = knowledge / "checklists" / "tiny.yaml"
    target.write_text(TINY.read_text(encoding="utf-8") + TINY_FR, encoding="utf-8")
    user = person(language="fr")
    menu = dialogue.handle(user, Command("checklist"))
    assert menu[0].html.startswith(fr("CHECKLIST_MENU"))
    assert "Vérification éclair" in labels(menu)
    started = dialogue.handle(user, Press(button(menu, "Vérification éclair").data))
    assert started[0].html.startswith("<b>Vérification éclair</b> (version 1.0)")
    question = dialogue.handle(user, Press(button(started, fr("PARTNER_SKIP")).data))
    html = question[-1].html
    assert "question 1 sur" in html and "L'entreprise figure-t-elle" in html
    assert labels(question[-1:]) == ["Oui", "Non", fr("WHY"), fr("NOTE"), fr("BACK"),
                                     fr("CANCEL")]
    why = dialogue.handle(user, Press(button(question, fr("WHY")).data))
    assert why[0].html.startswith("<b>Pourquoi cette question compte</b>")
    assert "detailed due diligence processes for potential partners" in why[0].html  # English
    typed = dialogue.handle(user, Text("oui"))  # a translated label, typed
    result = next(r for r in typed if r.html.startswith("<b>Résultat"))
    assert "Excluded — do not engage" in result.html  # a rating without a translation
    assert fr("RESULT_ACTIONS") in result.html and fr("RESULT_WHY") in result.html
    report = next(r for r in typed if r.attachment and r.attachment.filename.endswith(".md"))
    assert report.attachment is not None and report.attachment.caption == fr("REPORT_CAPTION")
    assert "Is the company on a sanctions list?" in report.attachment.content.decode()
    fired = sqlite_utils.Database(dialogue.settings.db_path).table("runs").get(1)["fired_rules"]
    assert "The company is on a sanctions list" in fired  # stored as written, in English


def test_a_checklist_without_translation_keeps_its_english_with_french_chrome(
        dialogue: Dialogue) -> None:
    user = person(language="fr")
    menu = dialogue.handle(user, Command("checklist"))
    partnership = next(b for b in labels(menu) if b.startswith("Designing"))
    started = dialogue.handle(user, Press(button(menu, partnership).data))
    question = dialogue.handle(user, Press(button(started, fr("PARTNER_SKIP")).data))
    assert "question 1 sur" in question[-1].html
    assert fr("WHY") in labels(question[-1:]) and "Why?" not in labels(question[-1:])


def test_a_french_question_asked_during_a_run_is_followed_by_its_question_in_french(
        dialogue: Dialogue) -> None:
    user = person(language="en")  # an English app, no /language choice
    menu = dialogue.handle(user, Command("checklist"))
    partnership = next(b for b in labels(menu) if b.startswith("Designing"))
    started = dialogue.handle(user, Press(button(menu, partnership).data))
    question = dialogue.handle(user, Press(button(started, texts.SOURCE["PARTNER_SKIP"]).data))
    assert "question 1 of" in question[-1].html
    asked = dialogue.handle(user, Text(FRENCH_QUESTION))
    assert fr("SHOW_PASSAGE").split("{")[0] in labels(asked)[0]  # the answer, in French
    assert any(r.html == fr("RUN_GOES_ON") for r in asked), [r.html[:60] for r in asked]
    again = asked[-1]
    assert "question 1 sur" in again.html and fr("WHY") in labels([again])
