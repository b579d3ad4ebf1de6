"""A synthetic open letter and a few synthetic signatories, for the demo and for tests.

:func:`generate_appeal` writes ``letter.txt`` and ``letter-fa.txt`` (the letter in English and in
Persian) and ``signatories.txt``: one signatory per line, its fields separated by ``|`` (name, kind,
role, affiliation, country, public or count-only), a format a shell loop reads. Every person is
made up from the victims' name tables, never a victim's name nor a real official's family name; the
organisations are plainly fictional. Same seed, same bytes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from dadkhah.synth.accountability import _Namer
from dadkhah.synth.population import Victim

LETTER = """To the Secretary-General of a fictional international body

We, the undersigned, write about the killing of prisoners recorded in this synthetic case. The
lists gathered here name people who were taken from their cells in one summer and never seen again;
their families were given no body, no grave and no reason.

We ask for an independent inquiry: to establish the facts, to identify those responsible, to locate
the graves and to protect them from destruction, and to let the families mourn.

This letter and every name under it are synthetic: they were made up for a demonstration."""

LETTER_FA = """به دبیرکل یک نهاد بین‌المللی خیالی

ما امضاکنندگان دربارهٔ کشتار زندانیانی می‌نویسیم که در این پروندهٔ ساختگی ثبت شده‌اند. فهرست‌هایی که
اینجا گرد آمده‌اند نام کسانی را دارند که در یک تابستان از سلول‌هایشان برده شدند و دیگر دیده نشدند؛ به
خانواده‌هایشان نه پیکری داده شد، نه گوری و نه دلیلی.

ما خواستار تحقیقی مستقل هستیم: برای روشن شدن واقعیت‌ها، شناسایی مسئولان، یافتن گورها و نگاهداری آنها
از ویرانی، و تا خانواده‌ها بتوانند سوگواری کنند.

این نامه و همهٔ نام‌های زیر آن ساختگی‌اند: برای نمایش ساخته شده‌اند."""

ORGANISATIONS = [
    ("Synthetic Rights Watch", "Netherlands"),
    ("Fictional Families Association", "Germany"),
]
ROLES = ["Jurist", "Former judge", "Historian", "Physician", "Journalist", "Lawyer", "Teacher"]
AFFILIATIONS = ["Example University", "Imaginary Bar Association", "Sample Institute", None]
COUNTRIES = ["United Kingdom", "Canada", "Sweden", "France", "Norway", "Iran"]


def generate_appeal(folder: Path, population: Sequence[Victim], *, seed: int, people: int = 6) -> dict:
    """Write the letter and ``people`` synthetic signatories (plus two organisations) into ``folder``."""
    rng = random.Random(f"appeal:{seed}")
    namer = _Namer(population, rng)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "letter.txt").write_text(LETTER + "\n", encoding="utf-8")
    (folder / "letter-fa.txt").write_text(LETTER_FA + "\n", encoding="utf-8")
    lines = [f"{name}|organisation|||{country}|public" for name, country in ORGANISATIONS]
    for index in range(people):
        given, family = namer.draw("female" if index % 2 else "male")
        persian = index == people - 1  # one signs in Persian script
        name = f"{given.fa} {family.fa}" if persian else f"{given.latin[0]} {family.latin[0]}"
        public = "count-only" if index == 1 else "public"
        affiliation = rng.choice(AFFILIATIONS) or ""
        lines.append(f"{name}|person|{rng.choice(ROLES)}|{affiliation}|{rng.choice(COUNTRIES)}|{public}")
    (folder / "signatories.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"folder": str(folder), "signatories": len(lines)}
