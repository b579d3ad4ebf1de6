"""Letters and digits: one canonical form for Persian text and for Latin transliterations.

Persian arrives with Arabic code points (ي for ی, ك for ک), presentation forms, diacritics,
tatweel, stray bidi marks and several kinds of space and joiner. Latin transliterations arrive
with accents, apostrophes for ع/ء and hyphens. Everything downstream (names, places, dates)
starts from :func:`fold_persian` or :func:`fold_latin`, so the same text always meets the
same form. We fold towards *Persian* letters (ی, ک), the opposite of Lucene's choice, because our
users read the normalised form.
"""

from __future__ import annotations

import re
import unicodedata

ZWNJ = "\u200c"

PERSIAN_FOLD = {
    "\u064a": "\u06cc",  # ARABIC YEH -> FARSI YEH
    "\u0649": "\u06cc",  # ALEF MAKSURA -> FARSI YEH
    "\u06d2": "\u06cc",  # YEH BARREE
    "\u06d0": "\u06cc",  # E
    "\u0643": "\u06a9",  # ARABIC KAF -> KEHEH
    "\u06aa": "\u06a9",  # SWASH KAF
    "\u0629": "\u0647",  # TEH MARBUTA -> HEH
    "\u06c0": "\u0647",  # HEH WITH YEH ABOVE (ۀ) -> HEH
    "\u06c1": "\u0647",  # HEH GOAL
    "\u06c2": "\u0647",
    "\u06d5": "\u0647",  # AE
    "\u0623": "\u0627",  # ALEF WITH HAMZA ABOVE
    "\u0625": "\u0627",  # ALEF WITH HAMZA BELOW
    "\u0671": "\u0627",  # ALEF WASLA
    "\u0672": "\u0627",
    "\u0673": "\u0627",
    "\u0624": "\u0648",  # WAW WITH HAMZA -> WAW
    "\u0626": "\u06cc",  # YEH WITH HAMZA -> YEH (رئیسی and رییسی meet)
    "\u0640": None,  # TATWEEL
    "\u00a0": " ",
    "\u2007": " ",
    "\u202f": " ",
    "\u200b": None,  # ZERO WIDTH SPACE
    "\u200d": None,  # ZWJ
    "\u200e": None,  # LRM
    "\u200f": None,  # RLM
    "\u061c": None,  # ALM
    "\ufeff": None,  # BOM / ZWNBSP
    "\u00ad": None,  # SOFT HYPHEN
}
# Harakat, superscript alef, Quranic annotation marks.
for _cp in list(range(0x064B, 0x0660)) + [0x0670] + list(range(0x06D6, 0x06EE)):
    PERSIAN_FOLD[chr(_cp)] = None
# Bidi embeddings and isolates.
for _cp in list(range(0x202A, 0x202F)) + list(range(0x2066, 0x206A)):
    PERSIAN_FOLD[chr(_cp)] = None
# Persian (U+06F0..9) and Arabic-Indic (U+0660..9) digits -> ASCII.
for _i in range(10):
    PERSIAN_FOLD[chr(0x06F0 + _i)] = str(_i)
    PERSIAN_FOLD[chr(0x0660 + _i)] = str(_i)
PERSIAN_TABLE = str.maketrans(PERSIAN_FOLD)
DIGITS_TABLE = str.maketrans({chr(0x06F0 + i): str(i) for i in range(10)} | {chr(0x0660 + i): str(i) for i in range(10)})

_SPACES = re.compile(r"\s+")
_RUN_WITH_SPACE = re.compile(r"[\s\u200c]*\s[\s\u200c]*")
_ZWNJ_REPEATS = re.compile(r"\u200c{2,}")
_LATIN_ACCENTED = re.compile(r"[\u00c0-\u024f\u1e00-\u1eff]")
_ARABIC_LETTER = re.compile(r"[\u0600-\u06ff\ufb50-\ufdff\ufe70-\ufeff]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")

_LATIN_SPECIAL = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "ae",
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ı": "i",
        "ʿ": "",
        "ʾ": "",
        "ʼ": "",
        "ʻ": "",
        "'": "",
        "’": "",
        "‘": "",
        "`": "",
        "´": "",
        "-": "",
        "‐": "",
        "‑": "",
        "–": " ",
        "—": " ",
        "_": " ",
    }
    # Invisible marks that mixed-script spreadsheets scatter around Latin text too.
    | {chr(cp): "" for cp in (0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x061C, 0xFEFF, 0x00AD, *range(0x202A, 0x202F), *range(0x2066, 0x206A))}
    | {"\u00a0": " ", "\u2007": " ", "\u202f": " "}
)


# Characters that are never part of a name or a place as written, and that change how text around them
# shows: C0 and C1 controls (a terminal's escape sequences among them; tab and line breaks are
# whitespace and stay) and the bidi embeddings, overrides and isolates (U+202A-202E, U+2066-2069),
# with which a name can be made to show reversed. The marks LRM and RLM, and ZWNJ, stay: Persian
# text uses them.
INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible_text(text: str) -> tuple[str, int]:
    """``text`` without :data:`INVISIBLE` characters, and how many were removed."""
    cleaned, removed = INVISIBLE.subn("", text)
    return cleaned, removed


def to_ascii_digits(text: str) -> str:
    """Persian and Arabic-Indic digits to ASCII, nothing else touched."""
    return text.translate(DIGITS_TABLE)


def fold_persian(text: str) -> str:
    """Canonical Persian letters, ASCII digits, no diacritics, one kind of space and joiner.

    A ZWNJ next to a space becomes that space, repeated joiners become one, and joiners at either
    end go: ``"علی\u200c \u200cاکبر"`` and ``"علی اکبر"`` meet.
    """
    text = unicodedata.normalize("NFKC", text).translate(PERSIAN_TABLE)
    text = _RUN_WITH_SPACE.sub(" ", text)
    text = _ZWNJ_REPEATS.sub(ZWNJ, text)
    return text.strip(" " + ZWNJ)


def fold_latin(text: str) -> str:
    """Lower-case ASCII: accents folded, apostrophes and hyphens dropped (Ja'far -> jafar)."""
    text = _LATIN_ACCENTED.sub(_unaccent, text.translate(_LATIN_SPECIAL))
    return _SPACES.sub(" ", text.lower()).strip()


def _unaccent(match: re.Match) -> str:
    """Only Latin letters are decomposed, so Persian letters in mixed text keep their marks (آ)."""
    decomposed = unicodedata.normalize("NFKD", match.group())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_LATIN_SPECIAL)


def detect_script(text: str) -> str | None:
    """``"fa"`` for Persian/Arabic script, ``"latin"``, ``"mixed"``, or None when there are no letters."""
    arabic = _ARABIC_LETTER.search(text) is not None
    latin = _LATIN_LETTER.search(text) is not None
    if arabic and latin:
        return "mixed"
    if arabic:
        return "fa"
    if latin:
        return "latin"
    return None


def fold_text(text: str) -> str:
    """Fold whichever scripts the text holds: Persian letters canonical, Latin lower-case ASCII."""
    script = detect_script(text)
    if script in ("fa", "mixed"):
        text = fold_persian(text)
    if script in ("latin", "mixed"):
        text = fold_latin(text)
    return _SPACES.sub(" ", text).strip()


def fold_tables() -> dict:
    """The folding tables as plain data (character → replacement, None to delete), for a port of
    :func:`fold_persian` and :func:`fold_latin` to another language (the memorial site's search
    runs them in the reader's browser; a test holds the port to these functions)."""
    return {"persian_fold": {chr(code): value for code, value in PERSIAN_TABLE.items()},
            "latin_special": {chr(code): value for code, value in _LATIN_SPECIAL.items()}}
