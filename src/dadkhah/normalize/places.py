"""Resolving place names ("Rasht", "Resht", "رشت", "زندان اوین") to gazetteer ids.

The gazetteer shipped with the package lives in ``data/gazetteer.json``; the store copies it into
the ``places`` tables, where users add their own aliases. This module is pure: it reads the shipped
file and builds a look-up index from (name, place id, type) triples, wherever they came from.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import shlex
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from dadkhah.normalize.names import name_key
from dadkhah.normalize.script import ZWNJ, fold_text

# Words that say what kind of place a name is, not which one. Persian puts them first ("زندان
# اوین", "شهر رشت"), English last ("Evin Prison"); inside a name they are part of it ("خمینی شهر").
_GENERIC_FIRST = frozenset({"زندان", "شهر", "شهرستان", "استان", "قبرستان", "گورستان", "آرامستان", "ندامتگاه", "the"})
_GENERIC_LAST = frozenset({"prison", "jail", "gaol", "city", "town", "province", "ostan", "cemetery", "graveyard"})
_GENERIC_ANYWHERE = frozenset({"central", "مرکزی", "of", "e", "ye"})
UNKNOWN_PLACE = "unknown place"  # how the warning for a place no spelling names begins
_SPLIT = re.compile(r"[\s,./()\-]+")
# Cells that name two places ("Evin Prison, Tehran", "Rasht (Gilan)"): tried part by part.
_PARTS = re.compile(r"\s*(?:[,،;؛/()\[\]]|\s[-–]\s)\s*")


def _specific_words(name: str) -> list[str]:
    words = [w for w in _SPLIT.split(fold_text(name).replace(ZWNJ, "")) if w]
    kept = [w for w in words if w not in _GENERIC_ANYWHERE]
    while len(kept) > 1 and kept[0] in _GENERIC_FIRST:
        kept = kept[1:]
    while len(kept) > 1 and kept[-1] in _GENERIC_LAST:
        kept = kept[:-1]
    return kept or words


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    place_id: str
    type: str
    name: str
    how: str  # "name" (a known spelling), "key" (same consonant skeleton, unambiguous) or "close" (a suggestion)


def place_lookup_key(name: str) -> str:
    """Canonical spelling for look-up: folded script, generic words dropped, no spaces."""
    return "".join(_specific_words(name))


def _skeleton(name: str) -> str:
    return name_key("".join(_specific_words(name))).replace(" ", "")


class Gazetteer:
    """An index of place names. Build it once per import; resolving is a dictionary look-up."""

    def __init__(self, names: Iterable[tuple[str, str, str]], display: dict[str, str] | None = None):
        """``names``: (name, place_id, type) triples; ``display``: place_id -> name to show."""
        self._by_name: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._by_key: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._display = dict(display or {})
        for name, place_id, place_type in names:
            self._by_name[(place_type, place_lookup_key(name))].add(place_id)
            skeleton = _skeleton(name)
            if len(skeleton) >= 2:
                self._by_key[(place_type, skeleton)].add(place_id)
            self._display.setdefault(place_id, name)
        self._cache: dict[tuple[str, tuple[str, ...]], PlaceMatch | None] = {}
        self._spellings: dict[str, list[str]] = defaultdict(list)  # type -> the looked-up spellings
        for place_type, lookup in self._by_name:
            self._spellings[place_type].append(lookup)

    def display_name(self, place_id: str) -> str:
        return self._display.get(place_id, place_id)

    def resolve(self, text: str, types: tuple[str, ...] = ("city",)) -> PlaceMatch | None:
        """The one place ``text`` names among ``types`` (tried in order), or None if unknown or ambiguous.

        When the whole text names nothing, each part of a cell such as "Evin Prison, Tehran" or
        "Rasht (Gilan)" is tried in turn, and the first part that names a place wins.
        """
        cache_key = (text, types)
        if cache_key in self._cache:
            return self._cache[cache_key]
        match = self._resolve_whole(text, types)
        if match is None:
            found = self._parts(text, types)
            match = found[0] if found and len(self._rivals(found)) < 2 else None
        if len(self._cache) < 100_000:
            self._cache[cache_key] = match
        return match

    def _parts(self, text: str, types: tuple[str, ...]) -> list[PlaceMatch]:
        """The places the parts of a cell name, in order (none when it has one part)."""
        parts = [p for p in _PARTS.split(text) if p.strip()]
        if len(parts) < 2:
            return []
        return [m for m in (self._resolve_whole(p, types) for p in parts) if m]

    @staticmethod
    def _rivals(found: list[PlaceMatch]) -> list[PlaceMatch]:
        """Different places of the first one's kind: "Tehran/Karaj" names two cities, and taking the
        first would be a guess; "Rasht (Gilan)" names a city and its province, which is one place."""
        first = found[0]
        return list({m.place_id: m for m in found if m.type == first.type}.values())

    def close_to(self, text: str, types: tuple[str, ...] = ("city",), limit: int = 3) -> list[PlaceMatch]:
        """Places among ``types`` with a spelling a typo or two away from ``text`` ("تهرات" is close to
        تهران), most alike first: suggestions for a person to confirm, never resolved by themselves
        (two towns may differ by one letter). Short names (under four letters) get none."""
        lookup = place_lookup_key(text)
        if len(lookup) < 4:
            return []
        close: dict[str, PlaceMatch] = {}  # by name: a city and its province of the same name, the city
        for place_type in types:
            for spelling in difflib.get_close_matches(lookup, self._spellings.get(place_type, ()), n=limit, cutoff=0.75):
                for place_id in sorted(self._by_name[(place_type, spelling)]):
                    name = self.display_name(place_id)
                    close.setdefault(name, PlaceMatch(place_id, place_type, name, "close"))
        return list(close.values())[:limit]

    def unknown_place(self, text: str, types: tuple[str, ...] = ("city",)) -> str:
        """The warning for a place ``text`` that names nothing known: kept as given, with the places
        it may be a typo of, and the command that teaches the gazetteer this spelling."""
        found = self._parts(text, types)
        if found and len(rivals := self._rivals(found)) > 1:
            return (f"{text!r} names more than one place ({', '.join(m.name for m in rivals)}): kept as given, none "
                    "chosen; a record names one place")
        close = self.close_to(text, types)
        if not close:
            return f"{UNKNOWN_PLACE} {text!r}, kept as given (teach it with `dadkhah places add-alias PLACE {shlex.quote(text)}`)"
        named = [f"{m.name} ({m.place_id})" for m in close]
        named = " or ".join([", ".join(named[:-1]), named[-1]] if len(named) > 1 else named)
        return (f"{UNKNOWN_PLACE} {text!r}, kept as given; did you mean {named}? (if so, teach it with "
                f"`dadkhah places add-alias {close[0].place_id if len(close) == 1 else 'PLACE'} {shlex.quote(text)}`)")

    def _resolve_whole(self, text: str, types: tuple[str, ...]) -> PlaceMatch | None:
        match = None
        lookup = place_lookup_key(text)
        skeleton = _skeleton(text)
        for place_type in types:
            ids = self._by_name.get((place_type, lookup))
            how = "name"
            if not ids and len(skeleton) >= 3:
                ids = self._by_key.get((place_type, skeleton))
                how = "key"
            if ids and len(ids) == 1:
                place_id = next(iter(ids))
                match = PlaceMatch(place_id, place_type, self.display_name(place_id), how)
                break
        return match


@dataclass(frozen=True)
class GazetteerData:
    version: str
    digest: str
    places: tuple[dict, ...]


@cache
def load_builtin_gazetteer() -> GazetteerData:
    """The gazetteer shipped with this version of Dadkhah."""
    raw = resources.files("dadkhah.normalize").joinpath("data/gazetteer.json").read_bytes()
    data = json.loads(raw)
    return GazetteerData(version=data["version"], digest=hashlib.sha256(raw).hexdigest(), places=tuple(data["places"]))


def place_names(place: dict) -> list[str]:
    """Every spelling of a gazetteer entry: English, Persian, variants."""
    names = [place["name_en"]]
    if place.get("name_fa"):
        names.append(place["name_fa"])
    names.extend(place.get("variants") or ())
    return names
