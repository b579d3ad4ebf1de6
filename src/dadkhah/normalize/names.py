"""Personal names in Persian script and in Latin transliteration.

Three things come out of a name as written:

* the **normalised** form: canonical letters (see :mod:`dadkhah.normalize.script`), honorifics
  moved out, aliases in brackets moved out, the parts of a compound given name joined
  ("غلام رضا", "غلام‌رضا", "غلامرضا" all become "غلامرضا"; "Gholam-Reza" becomes "gholamreza");
* a **comparison key** shared by both scripts: the consonant skeleton, so that محمد, Mohammad,
  Muhammad and Mohamad all give ``MHMD`` and غلامرضا and Gholam-Reza both give ``QLMRZ``;
* the **titles** (Seyyed, Haj, Mirza, Shahid...) and **aliases** that were removed.

Linkage compares normalised forms within a script and keys across scripts. The key is
deliberately coarse (vowels are dropped because transliterations disagree on them); it is a
blocking and comparison aid, never an identity.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources

from dadkhah.normalize.script import ZWNJ, detect_script, fold_latin, fold_persian

PLACEHOLDERS = frozenset(
    {"-", "--", "---", "?", "؟", "??", "n/a", "na", "none", "null", "unknown", "nn", "nk",
     "نامعلوم", "نامشخص", "ندارد", "مجهول", "نا معلوم", "نا مشخص"}
)

# Honorifics and titles: spelling -> canonical code. Stripped from the front of a name.
_TITLE_SPELLINGS = {
    "seyyed": ["سید", "seyyed", "seyed", "sayyed", "sayed", "sayyid", "sayid", "seied", "seiyed", "syed", "sied", "sid"],
    "seyyedeh": ["سیده", "seyyedeh", "seyedeh", "sayyedeh", "sayedeh", "seyyede", "seyede"],
    "haj": ["حاج", "حاجی", "haj", "hajj", "haji", "hajji", "hadj", "hadji"],
    "hajieh": ["حاجیه", "hajieh", "hajiyeh", "hajie", "hajiye"],
    "mirza": ["میرزا", "mirza", "mirzā"],
    "mashhadi": ["مشهدی", "mashhadi", "mashadi", "mashti"],
    "karbalaei": ["کربلایی", "کربلائی", "karbalaei", "karbalai", "karbalayi"],
    "sheikh": ["شیخ", "sheikh", "sheykh", "shaikh", "shaykh", "sheik"],
    "agha": ["آقا", "آقای", "agha", "aqa", "aga", "aghaye", "aqaye", "mr", "mr."],
    "khanom": ["خانم", "khanom", "khanum", "khanoum", "mrs", "mrs.", "ms", "ms."],
    "shahid": ["شهید", "shahid", "shaheed"],
    "dr": ["دکتر", "dr", "dr.", "doctor"],
    "mohandes": ["مهندس", "mohandes", "eng", "eng."],
    "hojjatoleslam": ["حجتالاسلام", "حجت‌الاسلام", "حجت الاسلام", "hojjatoleslam", "hojatoleslam", "hojjat-ol-eslam", "hojjatol-islam", "hojatolislam"],
    "ayatollah": ["آیتالله", "آیت‌الله", "آیت الله", "ayatollah", "ayatolah", "ayatullah"],
}
TITLES: dict[str, str] = {}
for _code, _spellings in _TITLE_SPELLINGS.items():
    for _s in _spellings:
        TITLES[fold_persian(_s).replace(ZWNJ, "").replace(" ", "") if detect_script(_s) == "fa" else fold_latin(_s)] = _code
# Titles written joined to the name that follows ("سیدمحمد", "Seyedali"): stripped only when what
# remains is a common given name, so that the surname Seyyedi keeps its letters.
_JOINED_TITLE_PREFIXES = ("سید", "seyyed", "seyed", "sayyed", "sayed", "haj", "حاج")

# Family-name suffixes and prefixes written apart ("Hossein Zadeh", "Pour Mohammadi").
_FAMILY_SUFFIXES = frozenset(
    {"زاده", "زادگان", "پور", "نیا", "نژاد", "فر", "راد", "منش", "وند", "لو", "کیا",
     "zadeh", "zade", "zada", "zadegan", "pour", "poor", "pur", "nia", "niya", "nejad", "nezhad", "nejhad",
     "far", "rad", "manesh", "vand", "lou", "loo", "lu", "kia"}
)
_FAMILY_PREFIXES = frozenset({"پور", "pour", "poor", "pur", "آل", "al", "ale"})

# Arabic-origin names whose final ی is read "a" (مرتضی = Morteza): their key has no final I.
_FINAL_YEH_AS_ALEF = frozenset(
    {"مرتضی", "مصطفی", "موسی", "عیسی", "یحیی", "مجتبی", "کبری", "صغری", "لیلی", "هدی", "طوبی",
     "ضحی", "مولی", "عظمی"}
)

_PERSIAN_KEY = {
    "ب": "B", "پ": "P", "ت": "T", "ط": "T", "ث": "S", "س": "S", "ص": "S", "ج": "J", "ژ": "J",
    "چ": "C", "ح": "H", "ه": "H", "خ": "X", "د": "D", "ذ": "Z", "ز": "Z", "ض": "Z", "ظ": "Z",
    "ر": "R", "ش": "W", "غ": "Q", "ق": "Q", "ف": "F", "ک": "K", "گ": "G", "ل": "L", "م": "M",
    "ن": "N",
}
_LATIN_DIGRAPHS = (("tch", "C"), ("kh", "X"), ("gh", "Q"), ("sh", "W"), ("ch", "C"), ("zh", "J"),
                   ("dj", "J"), ("ph", "F"), ("ck", "K"))
_LATIN_KEY = {
    "b": "B", "p": "P", "t": "T", "s": "S", "j": "J", "c": "K", "h": "H", "x": "X", "d": "D",
    "z": "Z", "r": "R", "q": "Q", "f": "F", "k": "K", "g": "G", "l": "L", "m": "M", "n": "N",
}
_BRACKETS = re.compile(r"[(\[{]([^)\]}]*)[)\]}]")
_TOKEN_SPLIT = re.compile(r"[\s,;/]+")
_COMMA = re.compile(r"[,،]")


@dataclass(frozen=True, slots=True)
class NameValue:
    """One name as written and as normalised."""

    original: str
    normalized: str | None
    key: str | None
    script: str | None
    titles: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"original": self.original, "normalized": self.normalized, "key": self.key}


@dataclass(frozen=True, slots=True)
class FullName:
    """A full name split into given and family name (either may be unknown)."""

    full: NameValue
    given: NameValue | None
    family: NameValue | None
    titles: tuple[str, ...] = field(default=())


def is_placeholder(text: str | None) -> bool:
    """True for empty cells and the marks lists use for "unknown"."""
    if text is None:
        return True
    stripped = text.strip()
    return not stripped or fold_persian(stripped).lower() in PLACEHOLDERS


def token_key(token: str) -> str:
    """The consonant skeleton of one word, in either script (see the module docstring).

    Short vowels are dropped because transliterations disagree on them. The long vowels written in
    Persian are kept as one letter each, because they tell common names apart: ی inside a word is
    ``Y`` (Hossein ``HSYN`` is not Hassan ``HSN``), at the end ``I`` (Mohammadi ``MHMDI``); و is ``U``
    (Mahmoud ``MHMUD`` is not Mohammad ``MHMD``). In a Latin vowel group, i, y and ee stand for ی,
    ou, oo and u for و, each in its order (Dariush ``DRYUW`` as داریوش); v and w are و too. Deleting ``U`` and ``Y`` from a key gives a coarser key that
    also meets Arabic-style spellings (Muhammad, Husayn).
    """
    if not token:
        return ""
    if detect_script(token) == "latin":
        return _latin_key(token)
    return _persian_key(token)


_PERSIAN_LEADING = frozenset("اآعیءئ")
_PERSIAN_SILENT = frozenset("اآعءؤأإ")


def _persian_key(token: str) -> str:
    token = token.replace(ZWNJ, "")
    start = 0
    while start < len(token) and token[start] in _PERSIAN_LEADING:
        start += 1
    end = len(token)
    final = ""
    if token.endswith("ی"):
        while end > start and token[end - 1] in "یئ":
            end -= 1
        final = "" if token in _FINAL_YEH_AS_ALEF else "I"
    codes = []
    for ch in token[start:end]:
        if ch in "یئ":
            codes.append("Y")
        elif ch == "و":
            codes.append("U")
        elif ch not in _PERSIAN_SILENT:
            codes.append(_PERSIAN_KEY.get(ch, ""))
    if token in _FINAL_YEH_AS_ALEF and end < len(token) - 1:
        codes.append("Y")  # یحیی: the first of the two final yehs is a consonant
    return _finish_key(codes, final)


_LATIN_VOWELS = frozenset("aeiouy")
_LATIN_GROUPS = re.compile(r"^dj|tch|kh|gh|sh|ch|zh|ph|ck|[aeiouy]+|.")


def _vowel_code(group: str, *, initial: bool, final: bool) -> str:
    if initial:
        return "U" if "u" in group or "oo" in group else ""
    # Each long vowel in the group, in order: Dariush, Daryoush and داریوش all write ی then و (YU),
    # Pouya and پویا و then ی (UY), Makouei and ماکویی a و before the final ی.
    ending = final and group.endswith(("i", "y", "ee", "ie"))
    rest = group[:-2] if ending and group.endswith(("ee", "ie")) else group[:-1] if ending else group
    codes: list[str] = []
    index = 0
    while index < len(rest):
        two = rest[index:index + 2]
        if two in ("ee", "oo"):
            code, index = ("Y" if two == "ee" else "U"), index + 2
        else:
            code, index = {"i": "Y", "y": "Y", "u": "U"}.get(rest[index], ""), index + 1
        if code and (not codes or codes[-1] != code):
            codes.append(code)
    return "".join(codes) + ("I" if ending else "")


def _latin_key(token: str) -> str:
    parts = _LATIN_GROUPS.findall(token.lower())
    codes: list[str] = []
    final = ""
    last = len(parts) - 1
    for index, part in enumerate(parts):
        if part[0] in _LATIN_VOWELS:
            if index and parts[index - 1] == "g" and part[:2] in ("ui", "ue"):
                part = part[1:]  # French "gui", "gue": the u only keeps the g hard (Jahanguir, Guilani)
            code = _vowel_code(part, initial=index == 0, final=index == last)
            if code.endswith("I") and index == last:
                codes.append(code[:-1])
                final = "I"
            else:
                codes.append(code)
        elif part in ("v", "w"):
            codes.append("U")
        else:
            for digraph, code in _LATIN_DIGRAPHS:
                if part == digraph:
                    codes.append(code)
                    break
            else:
                codes.append(_LATIN_KEY.get(part, ""))
    return _finish_key(codes, final)


def _finish_key(codes: list[str], final: str) -> str:
    skeleton = [c for c in codes if c]
    if final:
        while skeleton and skeleton[-1] == "Y":  # شفیعی, ضیایی: the yeh before the last one is part of it
            skeleton.pop()
    # A word-final h (ه, ح, -eh) is as often a vowel as a consonant across transliterations.
    if skeleton and skeleton[-1] == "H" and len(skeleton) > 1 and not final:
        skeleton.pop()
    collapsed: list[str] = []
    for code in skeleton:
        if not collapsed or collapsed[-1] != code:
            collapsed.append(code)
    return "".join(collapsed) + final


_SURNAME_ENDINGS = re.compile(r"(?:I|ZD|ZDGN|PUR|NY|NJD|MNW|UND|LU|KY|YN)$")


@cache
def _given_name_keys() -> frozenset[str]:
    data = json.loads(resources.files("dadkhah.normalize").joinpath("data/given_name_keys.json").read_text(encoding="utf-8"))
    return frozenset(data["keys"])


def looks_like_given_name(key: str | None) -> bool:
    """The key (or its coarse form) is that of a common given name."""
    return bool(key) and (key in _given_name_keys() or coarse_key(key) in _given_name_keys())


def looks_like_family_name(key: str | None) -> bool:
    """Shaped like an Iranian family name (Mohammadi, Hosseinzadeh, Alipour, Rezanejad) and not a common given name."""
    return bool(key) and not looks_like_given_name(key) and _SURNAME_ENDINGS.search(key.replace(" ", "")) is not None and not key.endswith("SYN")


def looks_swapped(given_key: str | None, family_key: str | None) -> bool:
    """True when the "given" name looks like a family name and the "family" name like a given name.

    Lists swap the two (or write the family name first); linkage compares them the right way round.
    Only confident cases count: both names must fit, so a record is left alone when in doubt.
    """
    return looks_like_family_name(given_key) and looks_like_given_name(family_key) and not looks_like_family_name(family_key)


def coarse_key(key: str | None) -> str | None:
    """A key with its long-vowel letters (``U``, ``Y``) deleted: Muhammad and محمد meet here."""
    if key is None:
        return None
    words = []
    for word in key.split():
        stripped = word.replace("U", "").replace("Y", "")
        words.append("".join(c for i, c in enumerate(stripped) if i == 0 or c != stripped[i - 1]))
    return " ".join(w for w in words if w) or None


def name_key(text: str) -> str:
    """Keys of each word, joined by a space."""
    return " ".join(k for k in (token_key(t) for t in text.split()) if k)


def _fold_name(text: str) -> tuple[str, str | None]:
    script = detect_script(text)
    if script in ("fa", "mixed"):
        text = fold_persian(text)
    if script in ("latin", "mixed"):
        text = fold_latin(text)
    # Inside a name, the joiner and the hyphen both mean "one word": spaces decide the parts.
    return text.replace(ZWNJ, "").replace("-", ""), script


def _strip_aliases(text: str) -> tuple[str, tuple[str, ...]]:
    aliases = tuple(a.strip() for a in _BRACKETS.findall(text) if a.strip())
    if aliases:
        text = _BRACKETS.sub(" ", text)
    return text, aliases


def _title_code(token: str) -> str | None:
    return TITLES.get(token)


def _strip_titles(tokens: list[str]) -> tuple[list[str], tuple[str, ...]]:
    titles: list[str] = []
    # Multi-word titles ("آیت الله", "حجت الاسلام") are tried before single words.
    while len(tokens) > 1:
        pair = tokens[0] + tokens[1]
        if len(tokens) > 2 and _title_code(pair):
            titles.append(_title_code(pair))
            tokens = tokens[2:]
        elif _title_code(tokens[0]):
            titles.append(_title_code(tokens[0]))
            tokens = tokens[1:]
        else:
            break
    if tokens:
        first = tokens[0]
        for prefix in _JOINED_TITLE_PREFIXES:
            rest = first[len(prefix):]
            if first.startswith(prefix) and token_key(rest) in _COMMON_GIVEN_KEYS and len(rest) >= 2:
                titles.append(TITLES[prefix])
                tokens = [rest, *tokens[1:]]
                break
    return tokens, tuple(titles)


# Keys of common first elements of given names; used to recognise compounds and joined titles.
_COMMON_GIVEN = (
    "محمد", "علی", "حسین", "حسن", "رضا", "مهدی", "احمد", "محمود", "جواد", "جعفر", "کاظم", "باقر",
    "صادق", "تقی", "نقی", "هادی", "مرتضی", "مصطفی", "مجتبی", "ابراهیم", "اسماعیل", "یوسف", "موسی",
    "عباس", "قاسم", "حمید", "سعید", "مجید", "ناصر", "منصور", "اکبر", "اصغر", "امیر", "عبدالله",
    "فاطمه", "زهرا", "مریم", "معصومه",
)
_COMMON_GIVEN_KEYS = frozenset(token_key(n) for n in _COMMON_GIVEN)
# First elements that make a compound given name with the next word ("Gholam Reza", "محمد علی").
_COMPOUND_FIRST_KEYS = frozenset(
    token_key(n) for n in ("غلام", "محمد", "علی", "عبد", "امیر", "حسین", "حسن", "ابو", "اسد", "فتح",
                           "نصرت", "نور", "عزت", "شوکت", "فاطمه", "سید", "میر", "ولی", "قربان", "رمضان", "محمود")
)
# "Servant of the" and "father of the", written with the article: never a name alone, always the first
# half of a given name ("Abdol Reza", "Abol Ghasem", "عبد الحسین" with the next word's ال).
_WITH_ARTICLE = frozenset({"abdol", "abdul", "abdel", "abdal", "abol", "abul", "abel", "abal"})
_BEFORE_ARTICLE = frozenset({"عبد", "ابو"})
# Particles that continue a given name: "Jalal ed-Din", "Nosrat ol-lah", "Zein al-Abedin".
# Written as one word with the particle ("ed-din"), they continue the given name on their own;
# written apart ("al", "ol"), they take the next word with them ("al Abedin", "ol lah").
_STANDALONE_PARTICLES = frozenset(
    {"eddin", "edin", "oddin", "odin", "uddin", "aldin", "addin", "aldeen", "eddine", "olah", "ollah", "allah",
     "ullah", "olla", "lah", "llah", "الدین", "الله"}
)
_GIVEN_NAME_PARTICLES = _STANDALONE_PARTICLES | {"ol", "al", "ed", "od", "os", "ad", "oz", "ez", "el", "ul", "us", "ال"}
_COMPOUND_SECOND_KEYS = frozenset(
    token_key(n) for n in ("علی", "رضا", "حسین", "حسن", "اکبر", "اصغر", "باقر", "جواد", "مهدی", "صادق",
                           "تقی", "نقی", "کاظم", "رحیم", "کریم", "الله", "محمد", "امین", "قلی", "عباس",
                           "جعفر", "هادی", "زهرا", "الزمان", "السادات", "الملوک", "اسماعیل", "ابراهیم",
                           "یوسف", "مرتضی", "مصطفی", "مجتبی", "حمید", "سعید", "مجید", "نبی", "علا")
) - {"L"}


def _join_suffixes(tokens: list[str]) -> list[str]:
    """Join detached suffixes (Hossein Zadeh). "Pour" before another word begins that word instead."""
    joined: list[str] = []
    for index, token in enumerate(tokens):
        prefix_here = token in _FAMILY_PREFIXES and index + 1 < len(tokens)
        if joined and token in _FAMILY_SUFFIXES and not prefix_here:
            joined[-1] += token
        else:
            joined.append(token)
    return joined


def _join_prefixes(tokens: list[str]) -> list[str]:
    joined: list[str] = []
    for token in tokens:
        if joined and joined[-1] in _FAMILY_PREFIXES:
            joined[-1] += token
        else:
            joined.append(token)
    return joined


def _join_family_parts(tokens: list[str]) -> list[str]:
    return _join_prefixes(_join_suffixes(tokens))


def _value(original: str, tokens: list[str], script, titles, aliases, *, join: bool) -> NameValue | None:
    if not tokens:
        return None
    normalized = "".join(tokens) if join else " ".join(tokens)
    key = token_key(normalized) if join else name_key(normalized)
    return NameValue(original, normalized, key or None, script, titles, aliases)


@lru_cache(maxsize=131072)
def normalize_name(text: str | None, part: str = "given") -> NameValue | None:
    """Normalise a given, family or father's name (``part``); None for an empty or "unknown" cell.

    A given or father's name is one name however many words it is written in (Iran's civil
    registry treats "Mohammad Ali" as one given name), so its words are joined. A family name keeps
    separate words (double-barrelled names are real) but joins detached suffixes such as -zadeh.
    """
    if part not in ("given", "family", "father"):
        raise ValueError(f"part must be given, family or father, not {part!r}")
    if is_placeholder(text):
        return None
    original = text
    text, aliases = _strip_aliases(text)
    folded, script = _fold_name(text)
    tokens = [t for t in _TOKEN_SPLIT.split(folded) if t and not t.isdigit()]
    tokens, titles = _strip_titles(tokens)
    if part == "family":
        return _value(original, _join_family_parts(tokens), script, titles, aliases, join=False)
    return _value(original, tokens, script, titles, aliases, join=True)


@lru_cache(maxsize=131072)
def split_full_name(text: str | None) -> FullName | None:
    """Split a full name into given and family name, when only a full-name column exists.

    ``"Family, Given"`` (with a comma) is read family first. Otherwise the first word is the given
    name, or the first two when together they form a common compound ("Gholam Reza Mousavi",
    "محمد علی حسینی"); the rest is the family name. A single word stays a full name only: we cannot
    tell which name it is, and guessing would mislead the linkage.
    """
    if is_placeholder(text):
        return None
    original = text
    body, aliases = _strip_aliases(text)
    folded, script = _fold_name(body)
    if "," in folded or "،" in folded:
        family_part, given_part = _COMMA.split(folded, maxsplit=1)
        given_tokens, titles = _strip_titles(given_part.split())
        family_tokens = _join_family_parts(family_part.split())
    else:
        tokens, titles = _strip_titles(_TOKEN_SPLIT.split(folded))
        tokens = _join_suffixes([t for t in tokens if t and not t.isdigit()])
        if len(tokens) < 2:
            given_tokens, family_tokens = [], _join_prefixes(tokens)
        else:
            n_given = 1
            if len(tokens) >= 3 and (
                    (token_key(tokens[0]) in _COMPOUND_FIRST_KEYS and token_key(tokens[1]) in _COMPOUND_SECOND_KEYS)
                    or tokens[0] in _WITH_ARTICLE
                    or (tokens[0] in _BEFORE_ARTICLE and tokens[1].startswith("ال"))):
                n_given = 2
            # A particle (ed-din, ol-lah), with the word after it when that is itself a particle's
            # object ("Zein al Abedin"), stays with the given name.
            while n_given < len(tokens) and tokens[n_given] in _GIVEN_NAME_PARTICLES:
                take = 1 if tokens[n_given] in _STANDALONE_PARTICLES else 2
                ezafe = n_given + 1 < len(tokens) and tokens[n_given + 1] in ("e", "ye")  # Al-e Ahmad: a surname
                if ezafe or len(tokens) - n_given - take < 1:  # the family name keeps at least one word
                    break
                n_given += take
            given_tokens, family_tokens = tokens[:n_given], _join_prefixes(tokens[n_given:])
    given = _value(original, given_tokens, script, (), (), join=True)
    family = _value(original, family_tokens, script, (), (), join=False) if given else None
    words = ([given.normalized] if given else []) + family_tokens
    normalized = " ".join(words) or None
    full = NameValue(original, normalized, name_key(normalized) if normalized else None, script, titles, aliases)
    return FullName(full=full, given=given, family=family, titles=titles)


def key_tables() -> dict:
    """What :func:`token_key` and the query side of :func:`normalize_name` know, as plain data, for a
    port to another language (the memorial site's search computes the keys of a reader's query in
    the browser; ``tests/publish`` holds that port to the functions here, word for word)."""
    from dadkhah.normalize.script import fold_tables

    return fold_tables() | {
        "titles": TITLES, "joined_title_prefixes": list(_JOINED_TITLE_PREFIXES),
        "common_given_keys": sorted(_COMMON_GIVEN_KEYS), "family_suffixes": sorted(_FAMILY_SUFFIXES),
        "family_prefixes": sorted(_FAMILY_PREFIXES), "persian_key": _PERSIAN_KEY, "latin_key": _LATIN_KEY,
        "latin_digraphs": [list(pair) for pair in _LATIN_DIGRAPHS], "final_yeh_as_alef": sorted(_FINAL_YEH_AS_ALEF),
        "persian_leading": "".join(sorted(_PERSIAN_LEADING)), "persian_silent": "".join(sorted(_PERSIAN_SILENT)),
        "placeholders": sorted(PLACEHOLDERS),
    }
