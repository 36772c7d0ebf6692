"""The evaluation sets are well formed: every expected passage is a passage of the knowledge
base, every key phrase is printed by one of them, ids are unique, translations name questions
that exist (a typo in a locator would silently count as a retrieval miss)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from index.corpus import read_corpus
from index.sentences import units
from tests.conftest import REAL_DOCS, ROOT

TRANSLATIONS = {  # file: the key its translations are under, and the file of their questions
    "devset-translations.yaml": ("questions", "devset.yaml"),
    "testset.yaml": ("translations", "testset.yaml"),
}
SCOPES = {"in_domain", "off_topic"}


def _fold(text: str) -> str:
    return " ".join(re.sub(r"[“”]", '"', text).split()).casefold()


@pytest.fixture(scope="module")
def passages() -> dict[tuple[str, str], str]:
    """(doc, locator) -> the passage as quoted: its units' text (footnotes stripped)."""
    return {(c.source, c.locator): _fold(" ".join(u.text for u in units(c.text)))
            for d in read_corpus(REAL_DOCS) for c in d.chunks}


def _load(name: str) -> dict[str, Any]:
    path = ROOT / "eval" / name
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("name", ["devset.yaml", "testset.yaml"])
def test_questions_name_real_passages_and_quote_them(name: str, passages: dict) -> None:
    questions = _load(name)["questions"]
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    problems = []
    for q in questions:
        assert q["question"].strip(), q["id"]
        if not q["expected"]:
            if q.get("scope", "in_domain") not in SCOPES:
                problems.append(f"{q['id']}: scope {q.get('scope')!r}")
            continue
        texts = []
        for e in q["expected"]:
            if (e["doc"], e["locator"]) not in passages:
                problems.append(f"{q['id']}: no passage {e['doc']} / {e['locator']}")
            else:
                texts.append(passages[(e["doc"], e["locator"])])
        for key in q.get("key", []):
            if texts and not any(_fold(key) in t for t in texts):
                problems.append(f"{q['id']}: key {key!r} is in no expected passage")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", list(TRANSLATIONS))
def test_translations_name_questions_that_exist(name: str) -> None:
    key, of = TRANSLATIONS[name]
    data = _load(name)
    english = {q["id"] for q in _load(of)["questions"]}
    entries = data.get(key) or []
    assert entries, f"{name} has no {key}"
    for entry in entries:
        assert entry["id"] in english, entry["id"]
        languages = set(entry) - {"id"}
        assert languages and languages <= {"fr", "es"}, entry
        assert all(isinstance(entry[lang], str) and entry[lang].strip() for lang in languages)


def test_the_test_set_is_a_set_of_its_own() -> None:
    """No test question repeats a dev question: the test set is read blind."""
    dev = {_fold(q["question"]) for q in _load("devset.yaml")["questions"]}
    test = [q["question"] for q in _load("testset.yaml")["questions"]]
    assert not [q for q in test if _fold(q) in dev]


def test_the_checker_reads_locators_and_keys(passages: dict) -> None:
    """The check above can fail: a passage the dev set names, and one that is not there."""
    assert ("jiu-implementing-partners", "para 12") in passages
    assert ("jiu-implementing-partners", "para 999") not in passages
    assert "left to their discretion" in passages[("jiu-implementing-partners", "para 11")]
