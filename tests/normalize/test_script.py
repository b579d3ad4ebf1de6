"""Letter, digit, space and joiner folding."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dadkhah.normalize.script import (
    ZWNJ,
    detect_script,
    fold_latin,
    fold_persian,
    fold_text,
    to_ascii_digits,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("علي", "علی"),                      # Arabic yeh -> Persian yeh
        ("مصطفى", "مصطفی"),                  # alef maksura -> Persian yeh
        ("كريمي", "کریمی"),                  # Arabic kaf -> keheh
        ("فاطمة", "فاطمه"),                  # teh marbuta -> heh
        ("خانهٔ", "خانه"),                   # heh with hamza above
        ("أحمد", "احمد"),                    # alef with hamza above
        ("إسماعيل", "اسماعیل"),              # alef with hamza below
        ("رئیسی", "رییسی"),                  # yeh with hamza
        ("مُحَمَّد", "محمد"),                 # harakat and shadda removed
        ("محـــمد", "محمد"),                 # tatweel removed
        ("۱۳۶۷/۰۵/۰۸", "1367/05/08"),        # Persian digits
        ("١٣٦٧", "1367"),                     # Arabic-Indic digits
        ("علی\u200c \u200cاکبر", "علی اکبر"),  # joiner beside a space becomes the space
        ("غلام\u200c\u200cرضا", "غلام\u200cرضا"),  # repeated joiners become one
        ("\u200cرضا\u200c", "رضا"),          # joiners at the ends go
        ("  حسین   \u00a0 رضایی ", "حسین رضایی"),  # spaces collapsed, NBSP too
        ("\u200fرشت\u200e", "رشت"),          # bidi marks removed
        ("ﻣﺤﻤﺪ", "محمد"),                    # presentation forms (NFKC)
    ],
)
def test_fold_persian(text, expected):
    assert fold_persian(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ja'far", "jafar"),
        ("Gholam-Reza", "gholamreza"),
        ("Ābādān", "abadan"),
        ("Hoseyn  Mūsavī", "hoseyn musavi"),
        ("Ra’isi", "raisi"),
        ("ʿAbbās", "abbas"),
        ("\u200fReza\u200e Karimi\u00a0", "reza karimi"),
    ],
)
def test_fold_latin(text, expected):
    assert fold_latin(text) == expected


def test_mixed_text_keeps_persian_marks_while_folding_latin():
    assert fold_text("آمل Āmol") == "آمل amol"


@pytest.mark.parametrize(("text", "script"), [("رشت", "fa"), ("Rasht", "latin"), ("رشت Rasht", "mixed"), ("1367", None), ("", None)])
def test_detect_script(text, script):
    assert detect_script(text) == script


def test_ascii_digits_touches_nothing_else():
    assert to_ascii_digits("سال ۱۳۶۷ و ١٩٨٨") == "سال 1367 و 1988"


@given(st.text())
def test_folding_never_crashes_and_is_idempotent(text):
    once = fold_text(text)
    assert fold_text(once) == once
    assert not once.startswith((" ", ZWNJ)) and not once.endswith((" ", ZWNJ))
