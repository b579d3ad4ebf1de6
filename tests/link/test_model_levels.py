"""The levels' SQL says what the levels mean: the cheap tests in front of an edit distance change no outcome."""

from __future__ import annotations

import random

import duckdb

from dadkhah.link.model import _typo


def _one_edit(word: str, rng: random.Random, letters: str) -> str:
    at = rng.randrange(len(word) + 1)
    kind = rng.choice(["change", "add", "drop", "swap"])
    if kind == "add" or not word:
        return word[:at] + rng.choice(letters) + word[at:]
    at = min(at, len(word) - 1)
    if kind == "change":
        return word[:at] + rng.choice(letters) + word[at + 1:]
    if kind == "drop":
        return word[:at] + word[at + 1:]
    if at + 1 < len(word):
        return word[:at] + word[at + 1] + word[at] + word[at + 2:]
    return word


def test_one_typo_apart_holds_exactly_where_the_edit_distance_is_at_most_one():
    rng = random.Random(1988)
    pairs = [(None, "MHMD"), ("MHMD", None), ("", ""), ("", "A"), ("A", ""), ("", "AB"), ("A", "B"), ("AB", "BA"),
             ("ABC", "BCA"), ("HSN", "HSYN"), ("MHMD", "MHMUD"), ("LI SGRTQN", "LSGR TQN"), ("محمد", "محمود"),
             ("غلامرضا", "غلامرضا"), ("علی", "عای"), ("sadeghi", "asadi")]
    for letters in ("AB", "MHDSNRLTQ", "MHDSNRLTQUYI ", "مهدسنرلتقوی"):  # few letters: many near pairs
        for _ in range(3000):
            word = "".join(rng.choice(letters) for _ in range(rng.randrange(0, 12)))
            once = _one_edit(word, rng, letters)
            pairs += [(word, once), (once, word), (word, _one_edit(once, rng, letters)),
                      (word, "".join(rng.choice(letters) for _ in range(rng.randrange(0, 12))))]
    connection = duckdb.connect()
    connection.execute("CREATE TABLE p (a VARCHAR, b VARCHAR)")
    connection.executemany("INSERT INTO p VALUES (?, ?)", pairs)
    distance_at_most_one, differ = connection.execute(
        f"SELECT count(*) FILTER (WHERE damerau_levenshtein(a, b) <= 1), "  # noqa: S608 (our own expression)
        f"count(*) FILTER (WHERE ({_typo('a', 'b')}) IS DISTINCT FROM (damerau_levenshtein(a, b) <= 1)) FROM p"
    ).fetchone()
    assert distance_at_most_one > 10_000, "most pairs one edit apart, so that the test means something"
    assert differ == 0
