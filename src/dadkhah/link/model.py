"""The linkage model: what is compared, how records are paired, how the model is trained.

This is the domain work, written as plain data so it can be read, reviewed and versioned without
knowing the engine; :mod:`dadkhah.link.engine` turns it into a Splink model. Conditions are SQL
over the columns of :mod:`dadkhah.link.features`, with ``_l``/``_r`` suffixes for the two records
of a pair (``l.``/``r.`` prefixes in blocking rules), in DuckDB's dialect.

Why these comparisons (see docs/methods.md for the plain-language account):

* Given and family name: exact normalised spelling (weighted by how common the name is: agreeing
  on "Mohammad" says less than agreeing on a rare name), then the cross-script key (محمد =
  Mohammad), the coarse key (Muhammad), string similarity of keys (typos), and a level for given
  and family name written in each other's place.
* A full name compared whole when one record lacks a given or family name of its own, or when the
  two records cut the same whole name at different places (weighed by how common the whole name is).
* Father's name: often the only thing that tells two namesakes apart in Iranian records.
* Dates as intervals: overlapping, within a year (a Jalali year straddles two Gregorian ones),
  within a few days (transcription), within a month.
* City, then province; prison; gender.
* Whether the two records come from one list (a list seldom names one person twice).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Level:
    """One level of a comparison, tried in order; the first whose condition holds applies."""

    label: str
    kind: str  # "null", "sql", "exact", "jaro_winkler" or "else"
    sql: str | None = None
    column: str | None = None
    threshold: float | None = None
    tf_column: str | None = None
    m_prior: float | None = None  # used where training never observed the level
    u_prior: float | None = None


@dataclass(frozen=True)
class Comparison:
    name: str
    description: str
    levels: tuple[Level, ...]


@dataclass(frozen=True)
class Blocking:
    """Pairs agreeing on ``sql`` are scored. ``explode`` names array columns joined element-wise."""

    sql: str
    explode: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainingPlan:
    deterministic_rules: tuple[str, ...]  # pairs surely the same person, to estimate the prior
    recall: float  # share of true matches those rules are thought to find
    u_max_pairs: float
    em_blocking_rules: tuple[str, ...]
    em_max_pairs: float | None = 5e5
    # Pseudo-probability added to every trained m before renormalising: no level is impossible
    # among true matches, so no single disagreement can veto a match (it would, with m = 0).
    m_smoothing: float = 0.01


@dataclass(frozen=True)
class LinkageModel:
    comparisons: tuple[Comparison, ...]
    blocking_rules: tuple[Blocking, ...]
    training: TrainingPlan
    version: str = "1"
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _null(*columns: str) -> Level:
    condition = " OR ".join(f"{c}_l IS NULL OR {c}_r IS NULL" for c in columns)
    return Level("missing on either side", "null", sql=condition)


def _typo(left: str, right: str) -> str:
    """At most one edit apart: a letter missing, added or changed, or two neighbours swapped.

    The edit distance costs more than the rest of a pair's comparisons together, and most pairs that
    reach this level are far apart. So two cheap tests that every pair one edit apart passes come
    first: the lengths differ by at most one, and the first k or the last k letters agree, k being
    (the shorter length - 1) // 2 (one edit, even a swap, leaves one of those ends untouched). The
    level holds for exactly the same pairs (tests/link/test_model_levels.py); on 268,447 records the
    name comparisons cost half as much.
    """
    k = f"((least(length({left}), length({right})) - 1) // 2)"
    return (f"(abs(length({left}) - length({right})) <= 1 "
            f"AND (left({left}, {k}) = left({right}, {k}) OR right({left}, {k}) = right({right}, {k})) "
            f"AND damerau_levenshtein({left}, {right}) <= 1)")


# The whole name the same, its parts split at another place: "Ali | Abbassadeghpour" and "Aliabbas |
# Sadeghpour". Both parts then differ, and counted as two disagreements they would outweigh a father's
# name and a date of death in common. So the name is weighed once, whole, by the full-name comparison.
SPLIT_ELSEWHERE = (
    "(full_key_l = full_key_r OR (full_coarse_l = full_coarse_r AND abs(length(given_key_l) - length(given_key_r)) >= 2)) "
    "AND given_key_l <> given_key_r AND family_key_l <> family_key_r"
)


def _name_levels(part: str, other: str, *, swap_counted_here: bool) -> tuple[Level, ...]:
    swapped = f"{part}_key_l = {other}_key_r AND {other}_key_l = {part}_key_r"
    swapped_typo = (
        f"({part}_key_l = {other}_key_r AND {_typo(f'{other}_key_l', f'{part}_key_r')}) "
        f"OR ({other}_key_l = {part}_key_r AND {_typo(f'{part}_key_l', f'{other}_key_r')})"
    )
    if swap_counted_here:
        swaps = (
            Level("given and family name swapped", "sql", sql=swapped),
            Level("swapped, with one typo", "sql", sql=swapped_typo),
        )
    else:
        # A swap is evidence about both names at once: counted once, under the given name.
        swaps = (Level("swapped (counted under given name)", "null", sql=f"({swapped}) OR ({swapped_typo})"),)
    return (
        _null(f"{part}_key"),
        Level("whole name the same, split elsewhere (counted under full name)", "null", sql=SPLIT_ELSEWHERE),
        Level("same spelling", "exact", column=f"{part}_norm", tf_column=f"{part}_norm"),
        Level("same cross-script key", "exact", column=f"{part}_key", tf_column=f"{part}_key"),
        *swaps,
        Level("same coarse key", "exact", column=f"{part}_coarse"),
        Level(
            "long keys one typo apart",
            "sql",
            # Within one script, a typo is small in the spelling too (Sadeghi/Asadi are not one).
            sql=(
                f"length({part}_key_l) >= 4 AND {_typo(f'{part}_key_l', f'{part}_key_r')} AND "
                f"(script_l <> script_r OR damerau_levenshtein({part}_norm_l, {part}_norm_r) <= 2)"
            ),
        ),
        # Short names (Hassan HSN, Ahmad HMD) collide more by chance: weighed on their own.
        Level("short keys one typo apart", "sql", sql=_typo(f"{part}_key_l", f"{part}_key_r")),
        Level("coarse keys one typo apart", "sql", sql=_typo(f"{part}_coarse_l", f"{part}_coarse_r")),
        Level("keys similar", "jaro_winkler", column=f"{part}_key", threshold=0.85),
        Level("different", "else"),
    )


GIVEN_NAME = Comparison("given_name", "Given name", _name_levels("given", "family", swap_counted_here=True))
FAMILY_NAME = Comparison("family_name", "Family name", _name_levels("family", "given", swap_counted_here=False))

FULL_NAME = Comparison(
    "full_name",
    "Full name, compared whole when a record has no separate given or family name, or when the two "
    "split the same name at different places",
    (
        Level(
            "not needed (both records have given and family names, split alike) or missing",
            "null",
            sql=(
                "((given_key_l IS NOT NULL AND family_key_l IS NOT NULL AND given_key_r IS NOT NULL "
                f"AND family_key_r IS NOT NULL) AND NOT coalesce({SPLIT_ELSEWHERE}, false)) "
                "OR full_key_l IS NULL OR full_key_r IS NULL"
            ),
        ),
        # Few pairs are compared whole, too few for training: the priors decide. u: how often two
        # different persons' whole names agree so (counted with the random pairs that do apply, see
        # dadkhah.link.engine.U_PRIOR_PAIRS). m: one person's name cut at two places keeps its
        # letters, so most matches have the same key or the same coarse key, few a different name.
        Level("same full key", "exact", column="full_key", tf_column="full_key", m_prior=0.5, u_prior=0.0005),
        Level("same coarse full key", "exact", column="full_coarse", m_prior=0.3, u_prior=0.001),
        Level(
            "one name is the other's given or family name",
            "sql",
            sql=(
                "full_key_l = family_key_r OR full_key_r = family_key_l "
                "OR full_key_l = given_key_r OR full_key_r = given_key_l"
            ),
            m_prior=0.1,
            u_prior=0.01,
        ),
        Level("full keys similar", "jaro_winkler", column="full_key", threshold=0.88, m_prior=0.05, u_prior=0.005),
        Level("different", "else", m_prior=0.05, u_prior=0.98),
    ),
)

FATHER_NAME = Comparison(
    "father_name",
    "Father's name",
    (
        _null("father_key"),
        Level("same spelling", "exact", column="father_norm", tf_column="father_norm"),
        Level("same cross-script key", "exact", column="father_key", tf_column="father_key"),
        Level("same coarse key", "exact", column="father_coarse"),
        Level("long keys one typo apart", "sql", sql=f"length(father_key_l) >= 4 AND {_typo('father_key_l', 'father_key_r')}"),
        Level("short keys one typo apart", "sql", sql=_typo("father_key_l", "father_key_r")),
        Level("coarse keys one typo apart", "sql", sql=_typo("father_coarse_l", "father_coarse_r")),
        Level("different", "else"),
    ),
)


def _interval_gap(column: str, days: int) -> str:
    return f"{column}_lo_l <= {column}_hi_r + {days} AND {column}_lo_r <= {column}_hi_l + {days}"


BIRTH_DATE = Comparison(
    "birth_date",
    "Birth date as an interval (a year in one list, a day in another)",
    (
        _null("birth_lo"),
        Level(
            "same day",
            "sql",
            sql="birth_lo_l = birth_hi_l AND birth_lo_r = birth_hi_r AND birth_lo_l = birth_lo_r",
        ),
        Level("intervals overlap", "sql", sql=_interval_gap("birth", 0)),
        Level("within a year", "sql", sql=_interval_gap("birth", 366)),
        Level("within three years", "sql", sql=_interval_gap("birth", 1096)),
        Level("different", "else"),
    ),
)

DEATH_DATE = Comparison(
    "death_date",
    "Date of death as an interval",
    (
        _null("death_lo"),
        Level(
            "same day",
            "sql",
            sql="death_lo_l = death_hi_l AND death_lo_r = death_hi_r AND death_lo_l = death_lo_r",
        ),
        Level("intervals overlap", "sql", sql=_interval_gap("death", 0)),
        Level("within three days", "sql", sql=_interval_gap("death", 3)),
        Level("within ten days", "sql", sql=_interval_gap("death", 10)),
        Level("within a month", "sql", sql=_interval_gap("death", 31)),
        Level("different", "else"),
    ),
)

CITY = Comparison(
    "city",
    "City, then province",
    (
        _null("city_id"),
        Level("same city", "exact", column="city_id", tf_column="city_id"),
        Level("same province", "exact", column="province_id"),
        Level("different", "else"),
    ),
)

PRISON = Comparison(
    "prison",
    "Prison",
    (_null("prison_id"), Level("same prison", "exact", column="prison_id"), Level("different", "else")),
)

GENDER = Comparison(
    "gender",
    "Gender",
    (_null("gender"), Level("same", "exact", column="gender"), Level("different", "else")),
)

# Two records of one list are seldom one person (a list is mostly one line per person), while two
# records of different lists often are. How seldom is learnt from the records (EM), one weight for
# every list: where the lists do repeat their people, the weight learnt is smaller. (A model trained
# on a single list never saw two lists: see dadkhah.link.run._changes.)
LIST = Comparison(
    "list",
    "List the records come from",
    (Level("same list", "exact", column="source_id"), Level("different lists", "else")),
)

# Pairs are only scored when they agree on one of these; each survives script and
# transliteration because it uses keys, not spellings. Their union is what is compared.
# Pairs are only scored when they agree on one of these; each survives script and
# transliteration because it uses keys, not spellings. Their union is what is compared. Rules that
# tolerate a typo, or rest on a common value (a death day in the weeks of the killings), also ask
# for the same city or day, so that a million records make tens of millions of pairs, not hundreds.
BLOCKING_RULES = (
    Blocking("l.given_key = r.given_key AND l.family_key = r.family_key"),
    Blocking("l.given_key = r.family_key AND l.family_key = r.given_key"),
    Blocking("l.given_coarse = r.given_coarse AND l.family_coarse = r.family_coarse AND l.city_id = r.city_id"),
    # One name the same, the other within one typo (see features.deletion_neighbourhood).
    Blocking("l.given_key = r.given_key AND l.family_del = r.family_del AND l.city_id = r.city_id", explode=("family_del",)),
    Blocking("l.given_key = r.given_key AND l.family_del = r.family_del AND l.death_lo = r.death_lo", explode=("family_del",)),
    Blocking("l.family_key = r.family_key AND l.given_del = r.given_del AND l.city_id = r.city_id", explode=("given_del",)),
    Blocking("l.family_key = r.family_key AND l.given_del = r.given_del AND l.death_lo = r.death_lo", explode=("given_del",)),
    Blocking("l.given_key = r.given_key AND l.family_del = r.family_del AND (l.city_id IS NULL OR r.city_id IS NULL)", explode=("family_del",)),
    Blocking("l.family_key = r.family_key AND l.given_del = r.given_del AND (l.city_id IS NULL OR r.city_id IS NULL)", explode=("given_del",)),
    # Both names within one typo, in the same city, on the same day of death, or with the same father
    # (on the generator's hard 57,274-record case, the last two lifted recall from 0.927 to 0.934 for
    # 2% more pairs; most pairs never compared had a typo in both names and no city on one side).
    Blocking("l.given_del = r.given_del AND l.family_del = r.family_del AND l.city_id = r.city_id", explode=("given_del", "family_del")),
    Blocking("l.given_del = r.given_del AND l.family_del = r.family_del AND l.death_lo = r.death_lo", explode=("given_del", "family_del")),
    Blocking("l.given_del = r.given_del AND l.family_del = r.family_del AND l.father_key = r.father_key", explode=("given_del", "family_del")),
    # The same, with given and family name swapped in one of the records.
    Blocking("l.given_key = r.family_key AND l.family_del = r.given_del", explode=("family_del", "given_del")),
    Blocking("l.family_key = r.given_key AND l.given_del = r.family_del", explode=("given_del", "family_del")),
    Blocking("l.family_key = r.family_key AND l.father_key = r.father_key"),
    Blocking("l.given_key = r.given_key AND l.father_key = r.father_key AND l.city_id = r.city_id"),
    Blocking("l.family_key = r.family_key AND l.death_lo = r.death_lo AND l.city_id = r.city_id"),
    Blocking("l.given_key = r.given_key AND l.death_lo = r.death_lo AND l.city_id = r.city_id"),
    Blocking("l.full_key = r.full_key"),
    Blocking("l.full_coarse = r.full_coarse AND l.death_month = r.death_month"),
)

TRAINING = TrainingPlan(
    deterministic_rules=(
        "l.given_key = r.given_key AND l.family_key = r.family_key AND l.father_key = r.father_key",
        "l.given_key = r.given_key AND l.family_key = r.family_key AND l.death_lo = r.death_lo",
    ),
    recall=0.6,
    # Bounded samples: training costs the same at 50,000 records as at a million. Halving both (from
    # 2e6 and 5e5) cut training's CPU time from 13.2 s to 9.1 s on a 57,274-record case, and moved
    # pairwise F1 by -0.0006 (realistic case) and +0.004 (hard case).
    u_max_pairs=1e6,
    em_max_pairs=2.5e5,
    em_blocking_rules=(
        "l.given_key = r.given_key AND l.family_key = r.family_key",
        "l.death_lo = r.death_lo AND l.city_id = r.city_id",
        "l.father_key = r.father_key AND l.death_month = r.death_month",
    ),
)

DEFAULT_MODEL = LinkageModel(
    comparisons=(GIVEN_NAME, FAMILY_NAME, FULL_NAME, FATHER_NAME, BIRTH_DATE, DEATH_DATE, CITY, PRISON, GENDER, LIST),
    blocking_rules=BLOCKING_RULES,
    training=TRAINING,
)
