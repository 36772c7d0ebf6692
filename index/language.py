"""The language of a text: English, French, Spanish, or none of them.

`detect(text)` is the one function the rest of the code asks. It reads two kinds of evidence:

1. **Function words** of each supported language ("the", "what", "should"; "les", "pour",
   "est-ce", the elisions "l'", "d'", "qu'"; "los", "qué", "¿"), chosen so that each belongs to
   one of the three languages alone (not "de", "la", "que", "en", "un", "no", shared by two).
   Acronyms, names in capitals ("PSEA", "HACT", "UNDP", "KPIs"), numbers, addresses and
   words of one letter are not read: staff type English acronyms in every language.
2. **py3langid** (a naive Bayes model over byte n-grams, packaged with the library), over the
   text without its acronyms, among the major languages only (`CANDIDATES`): it tells French
   and Spanish without function words, and it recognises a language that is none of the
   three (Portuguese, Italian, German ...). It is loaded on first need (~0.7 s, ~20 MB).

When the function words decide (one language has at least two, and at least 0.4 of the words,
and leads every other by more than the model could add), the model is not consulted: its
answer could not change the result (255 of the dev set's 552 English, French and Spanish
questions need no model). Otherwise the model's probabilities and the function words are
added up (`MODEL_WEIGHT`); a text the model is sure is in another language
(`OTHER_CONFIDENCE`), with fewer than two function words of a supported one, is another
language; so is a text written mostly in another script than the Latin letters of the three
("Привет", "你好": "und" when the model cannot name it). A text with too little to tell
("HACT?", "due diligence") is unknown.

The dev set's questions (274 English, 139 French, 139 Spanish) are all read in their own
language; tests/unit/test_language.py checks them and short, mixed and other-language
messages.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SUPPORTED = ("en", "fr", "es")

# The major languages the model chooses among: the three supported ones and the ones a UN
# staff member may write in otherwise. Regional languages and dialects close to Spanish or
# French (Galician, Asturian, Aragonese, Extremaduran, Walloon, Occitan ...) are left out:
# on a short question they take the place of Spanish or French, and nobody asks in them.
CANDIDATES = (
    *SUPPORTED,
    "ar", "zh", "ru", "pt", "de", "it", "nl", "ja", "ko", "tr", "pl", "uk", "cs", "sk", "hu",
    "ro", "el", "bg", "sr", "hr", "sv", "da", "no", "fi", "he", "fa", "hi", "bn", "ur", "id",
    "ms", "vi", "th", "sw", "am", "ca",
)
MODEL_WEIGHT = 3.0  # the model's probability of a language counts as this many function words
OTHER_CONFIDENCE = 0.9  # the model's probability above which a text is in another language
# ... unless a supported language has this many function words, or this share of the words
DECISIVE = 2
OTHER_SHARE = 0.4
MARGIN = 0.5  # the best language's score must lead the next one's by this much

_FUNCTION_WORDS = {
    "en": frozenset("""
the is are was were be been being do does did doing what which who whom whose how when where
why should can could would will shall must have has had having of to for with and or in it its
we our ours us i my you your yours they their them there this that these those any about from
at by not if so than then get got need needs want into also only just any anyone someone
every each other because after before over under while whether still yet ever
hi hello hey thanks thank please
""".split()),
    "fr": frozenset("""
le les des du est et pour une avec dans sur ce cette ces cet nous vous on il ils elle elles
sont être avoir faut quel quels quelle quelles comment pourquoi quand où au aux mais ou pas
ne leur leurs notre nos votre vos mon ma mes je moi toi par plus sans fait peut peuvent doit
doivent dois chez très aussi déjà selon lors était sera serait ont avons avez suis êtes
qu'est est-ce c'est y-a-t-il existe-t-il quoi ça cela ceci lequel laquelle lesquels lesquelles
dont afin auprès depuis vers
bonjour salut bonsoir merci svp stp
""".split()),
    "es": frozenset("""
el los las del y está están qué cómo cuál cuáles quién quiénes dónde cuándo cuánto cuántos
cuánta cuántas por para una con sin sobre hay puedo podemos puede pueden tiene tienen tenemos
tengo debe deben debo debemos deberíamos hace hacen hacer lo su sus nuestro nuestra nuestros
nuestras mi mis yo nosotros usted ustedes al pero también ya muy más porque cuando donde cual
cuales quien algún alguna alguno algunos algunas algun este esta estos estas ese esa eso esto
aquí cada sea ser estar fue son según entonces ni hasta desde
hola gracias buenos buenas porfa favor
""".split()),
}
# French elisions: "l'ONU", "d'exécution", "qu'on", "c'est", "n'a", "j'ai", "s'il".
_ELISION = re.compile(r"(?<![\w'’])(?:c|d|j|l|m|n|s|t|qu|jusqu|lorsqu|puisqu)['’](?=[^\W\d_])",
                      re.IGNORECASE)
_SPANISH_MARKS = re.compile(r"[¿¡ñÑ]")
_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
# Not read: acronyms and words in capitals (with a plural s: "IPs"), mixed-case acronyms
# ("CoI", "MoU"), numbers, e-mail and web addresses.
_ACRONYM = re.compile(r"(?<![\w'’])(?:[A-Z][A-Za-z]*[A-Z][A-Za-z]*(?:['’]s)?|[A-Z])(?![\w'’])")
_QUOTED = re.compile(r"(?<![\w'’])'[^'\n]+'(?![\w'’])|\"[^\"\n]+\"|“[^”\n]+”|«[^»\n]+»")
_ADDRESS = re.compile(r"\S+@\S+|\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)


@dataclass(frozen=True)
class Guess:
    """What `identify` found: `language` one of SUPPORTED or None; `other` the code of another
    language the text is written in (ISO 639-1, "pt", "de" ...), when it is sure of one, or
    "und" for a text written mostly in another script (Cyrillic, Arabic, Chinese ...) that is
    too short for the model to name its language ("Привет, как дела?")."""

    language: str | None
    other: str | None = None
    votes: tuple[tuple[str, int], ...] = ()  # function words found per supported language


def detect(text: str) -> str | None:
    """The language a text is written in: "en", "fr", "es", or None (another language, or too
    little to tell).

    Made for short chat messages and questions, typed with or without accents. Acronyms and
    words in capitals ("PSEA", "HACT", "UNDP", "KPIs") and numbers do not count, so "the HACT
    rules?" is English and "les règles du HACT ?" French; a message of acronyms alone
    ("HACT?") or of two words in no clear language ("due diligence") gives None, and so does a
    message in Portuguese, German, Italian, Arabic ... A message mixing languages is given the
    language most of its words are written in ("c'est quoi la due diligence ?" is French,
    "what does 'partenaire de réalisation' mean?" English). Pure and thread-safe; the first
    call that needs the statistical model loads it (~0.7 s).
    """
    return identify(text).language


def identify(text: str) -> Guess:
    """`detect` with its reasons: the language, or which other language it is."""
    cleaned = _ADDRESS.sub(" ", unicodedata.normalize("NFC", text))
    if cleaned.isupper():  # typed in capitals: the words are words, not acronyms
        cleaned = cleaned.lower()
    cleaned = _ACRONYM.sub(" ", cleaned)
    unquoted = _QUOTED.sub(" ", cleaned)  # a quoted term is mentioned, not written in
    if len(_WORD.findall(unquoted)) >= 2:
        cleaned = unquoted
    votes = _votes(cleaned)
    counted = tuple(sorted(votes.items()))
    words = _WORD.findall(cleaned)
    best = max(votes.values())
    foreign = _other_script(words)
    if best == 0 and sum(len(w) for w in words) < 3:
        return Guess(None, other="und" if foreign else None, votes=counted)
    second = sorted(votes.values())[-2]
    if best >= max(DECISIVE, OTHER_SHARE * len(words)) and best - second > MODEL_WEIGHT + MARGIN:
        # decided by the function words: whatever the model says cannot change it (it can
        # neither call the text another language nor lift another language past this one)
        return Guess(max(SUPPORTED, key=lambda lang: votes[lang]), votes=counted)
    probabilities = _model_probabilities(cleaned)
    top = max(probabilities, key=lambda lang: probabilities[lang])
    if (top not in SUPPORTED and probabilities[top] >= OTHER_CONFIDENCE
            and best < max(DECISIVE, OTHER_SHARE * len(words))):
        return Guess(None, other=top, votes=counted)
    scores = {lang: votes[lang] + MODEL_WEIGHT * probabilities.get(lang, 0.0)
              for lang in SUPPORTED}
    order = sorted(SUPPORTED, key=lambda lang: -scores[lang])
    if best == 0 and probabilities.get(order[0], 0.0) < 0.5:
        # no function word, and the model hesitates: too little to tell, unless the text is
        # in another script than the three languages'
        other = top if top not in SUPPORTED and probabilities[top] >= 0.5 else None
        return Guess(None, other=other or ("und" if foreign else None), votes=counted)
    if scores[order[0]] - scores[order[1]] < MARGIN:
        return Guess(None, votes=counted)
    return Guess(order[0], votes=counted)


def _other_script(words: list[str]) -> bool:
    """Whether most letters of the words are not Latin ones (English, French and Spanish are
    written in Latin letters; acronyms were removed before)."""
    letters = [c for word in words for c in word if c.isalpha()]
    latin = sum(unicodedata.name(c, "").startswith("LATIN") for c in letters)
    return bool(letters) and latin * 2 < len(letters)


def _votes(text: str) -> dict[str, int]:
    """Function words of each supported language in a text (acronyms already removed)."""
    votes = dict.fromkeys(SUPPORTED, 0)
    votes["fr"] += len(_ELISION.findall(text))
    votes["es"] += len(_SPANISH_MARKS.findall(text))
    for word in _WORD.findall(_ELISION.sub(" ", text)):
        lowered = word.lower().replace("’", "'")
        for lang in SUPPORTED:
            if lowered in _FUNCTION_WORDS[lang]:
                votes[lang] += 1
    return votes


_model: Any = None
_model_lock = threading.Lock()


_cache_dir: Path | None = None


def cache_in(directory: Path | None) -> None:
    """Keep the compacted model in `directory` (the data directory's models/), so that a
    process after the first maps it in a few milliseconds instead of decompressing it
    (~0.4 s)."""
    global _cache_dir
    _cache_dir = directory


def _identifier() -> Any:
    """py3langid's packaged model restricted to CANDIDATES, loaded once.

    Read here rather than with `LanguageIdentifier.from_model_file`, which keeps the tables of
    all its 97 languages and the DFA's output as a Python list (~100 MB at its peak, ~65 MB
    after): only the columns of CANDIDATES are kept, and the DFA's tables as compact arrays
    (~25 MB). With a cache directory (`cache_in`), the compacted tables are written there
    once and read back by later processes; a cache that cannot be read or written is
    rebuilt or skipped, never fatal."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                tables = _read_cache(_cache_dir) if _cache_dir is not None else None
                if tables is None:
                    tables = _load_tables()
                    if _cache_dir is not None:
                        _write_cache(_cache_dir, tables)
                _model = _make_identifier(tables)
    return _model


_ARRAYS = ("nextmove", "row", "output")  # array.array tables, kept as raw bytes
# Read back memory-mapped (read-only; a cache is only ever replaced whole, never rewritten in
# place): the 39 MB transition table loads in a millisecond instead of ~0.15 s, and the
# pages a question never reaches stay on disk.
_MAPPED = ("nextmove", "output")


def _cache_key() -> str:
    from importlib.metadata import version

    return json.dumps({"py3langid": version("py3langid"), "candidates": CANDIDATES,
                       "format": 1}, sort_keys=True)


def _read_cache(directory: Path) -> dict[str, Any] | None:
    from array import array

    import numpy as np

    try:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        if meta.get("key") != _cache_key():
            return None
        tables: dict[str, Any] = {"classes": meta["classes"]}
        for name in _ARRAYS:
            path = directory / f"{name}.bin"
            if name in _MAPPED:  # the DFA's big tables: mapped, only the pages used are read
                values: Any = np.memmap(path, dtype=np.dtype(meta["typecodes"][name]), mode="r")
            else:  # py3langid shifts this one's items, which must be Python ints
                values = array(meta["typecodes"][name])
                values.frombytes(path.read_bytes())
            if len(values) != meta["lengths"][name]:
                return None
            tables[name] = values
        tables["ptc"] = np.load(directory / "ptc.npy", allow_pickle=False)
        tables["pc"] = np.load(directory / "pc.npy", allow_pickle=False)
        return tables
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(directory: Path, tables: dict[str, Any]) -> None:
    import shutil
    import tempfile

    import numpy as np

    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".langid-", dir=directory.parent))
        try:
            for name in _ARRAYS:
                (staging / f"{name}.bin").write_bytes(tables[name].tobytes())
            np.save(staging / "ptc.npy", tables["ptc"], allow_pickle=False)
            np.save(staging / "pc.npy", tables["pc"], allow_pickle=False)
            (staging / "meta.json").write_text(json.dumps({
                "key": _cache_key(), "classes": tables["classes"],
                "typecodes": {name: tables[name].typecode for name in _ARRAYS},
                "lengths": {name: len(tables[name]) for name in _ARRAYS}}), encoding="utf-8")
            shutil.rmtree(directory, ignore_errors=True)
            staging.rename(directory)  # whole or not at all
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        log.warning("language model not cached in %s: %s", directory, exc)


def _make_identifier(tables: dict[str, Any]) -> Any:
    from py3langid.langid import LanguageIdentifier

    return LanguageIdentifier(tables["ptc"], tables["pc"], tables["classes"], tables["nextmove"],
                              tables["output"], norm_probs=True, tk_row=tables["row"])


def _load_tables() -> dict[str, Any]:
    import lzma
    import shutil
    import tempfile
    import zipfile
    from array import array

    import numpy as np
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    def compact(values: Any) -> array[int]:
        values = np.ascontiguousarray(values)
        out: array[int] = array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize])
        out.frombytes(values.tobytes())
        return out

    def streamed(tmp: Any, name: str) -> array[int]:
        """A 1-d unsigned array of the .npz read straight into a compact array, 1 MB at a
        time: the DFA's table (37 MB) is held once, not three times (as numpy's array, its
        bytes and the copy), which was the bot's peak of memory at start-up."""
        with zipfile.ZipFile(tmp) as archive, archive.open(name + ".npy") as member:
            version = np.lib.format.read_magic(member)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(member)
            if len(shape) != 1 or fortran or dtype.kind != "u" or dtype.byteorder == ">":
                raise ValueError(f"{name}: unexpected layout {shape} {dtype}")
            out: array[int] = array({2: "H", 4: "I", 8: "L"}[dtype.itemsize])
            remaining = int(shape[0]) * dtype.itemsize
            while remaining:
                block = member.read(min(remaining, 1 << 20))
                if not block:
                    raise ValueError(f"{name}: ends early")
                out.frombytes(block)
                remaining -= len(block)
        return out

    with tempfile.TemporaryFile(suffix=".npz") as tmp:
        with lzma.open(MODEL_DIR / MODEL_FILE) as source:
            shutil.copyfileobj(source, tmp, length=1 << 20)
        tmp.seek(0)
        nextmove = streamed(tmp, "nextmove")
        tmp.seek(0)
        with np.load(tmp, allow_pickle=False) as data:
            classes = data["classes"].tolist()
            keep = [i for i, code in enumerate(classes) if code in CANDIDATES]
            ptc = np.ascontiguousarray(data["ptc"][:, keep])
            pc = np.asarray(data["pc"][keep])
            row = compact(data["nextmove_row"])
            output = array("i", np.asarray(data["out_feat"], dtype=np.int32).tobytes())
    return {"ptc": ptc, "pc": pc, "classes": [classes[i] for i in keep], "nextmove": nextmove,
            "output": output, "row": row}


def _model_probabilities(text: str) -> dict[str, float]:
    return {code: float(p) for code, p in _identifier().rank(text)}


def warm_up() -> None:
    """Load the statistical model now (for a background thread at start-up)."""
    _identifier()
