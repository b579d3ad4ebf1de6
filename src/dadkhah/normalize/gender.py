"""Gender as lists write it: M/F, male/female, مرد/زن, and the like."""

from __future__ import annotations

from functools import lru_cache

from dadkhah.normalize.names import is_placeholder
from dadkhah.normalize.script import fold_text


class GenderParseError(ValueError):
    """The value is not a gender this reader knows; the message quotes it."""


_MALE = {"m", "male", "man", "men", "boy", "h", "homme", "masculin", "mann", "مرد", "مذکر", "ذکر", "پسر", "آقا", "اقا", "م"}
_FEMALE = {"f", "female", "woman", "women", "girl", "w", "femme", "feminin", "frau", "زن", "مونث", "موونث", "انثی", "دختر", "خانم", "بانو", "ز"}


@lru_cache(maxsize=1024)
def parse_gender(text: str | None) -> str | None:
    """``"male"``, ``"female"``, or None for an empty or "unknown" cell; raises on anything else."""
    if is_placeholder(text):
        return None
    folded = fold_text(text).replace("\u200c", "").rstrip(".")
    if folded in _MALE:
        return "male"
    if folded in _FEMALE:
        return "female"
    raise GenderParseError(f"{text!r} is not a gender this reader knows (expected e.g. M/F, male/female, مرد/زن)")
