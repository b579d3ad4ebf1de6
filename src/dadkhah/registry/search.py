"""Finding persons in the registry: the search index and the search itself (see the dossier for one person).

**The index.** :func:`build_search_index` rebuilds, in a few set-based SQL statements that run the
same on SQLite and PostgreSQL, two derived tables: ``person_search``, one row per active person
(best name in each script, city, span of death dates, sources), and ``person_search_keys``, the
terms that find each person: every word of the cross-script comparison keys of the given, family,
full and father's names of the person's current records (:mod:`dadkhah.normalize.names`, the
keys the importer stored), each with where it stands at best in the person's names (its ``field``,
:data:`MATCH_FIELDS`); each whole full name (``=MHMD RZI``); the place id of each city they name
and each source they come from.
A linkage run brings it up to date, and so does a search that finds it missing or older than the
last linkage run or import (:func:`ensure_search_index`): when the index was made for the latest
run, only the rows of the persons whose records changed since (:func:`changed_since_built`) or whose
records the run moved are made again (:func:`update_search_index`), if they are few; otherwise it is
rebuilt (:func:`refresh_search_index`).

**A search.** The query is normalised by the importer's own name normaliser (titles dropped,
detached suffixes joined), so 'Mohammad Rezaei' and 'محمد رضایی' give the same keys. A person
matches when every word's key is one of the person's name keys; two adjacent words also match a
name written as one word (the keys of "Ali Mohammad" meet the given name "Alimohammad"). Filters
(city, source) are terms like any other; death dates must overlap the range asked for.

**Relevance.** Hits to a name come best first, each saying where the query matched (``matched``):
the whole query is one of the person's own full names (``full name``); then every word is a whole
given name or family name, then part of one (a word of a family name of two words, "Sadat
Mohammad"; a given name of two is joined into one on import), then another name (a word of the full
name only), then the father's name. A person ranks by the weakest place any of the query's
words needed: "Mohammad Rezaei" ranks a Mohammad whose father is Rezaei below a Mohammad Rezaei.
Ties, and searches without a name (filters alone), go in person-id order. A one-word search walks
its key's rows in that order in the index (key, field, person) and stops at the page's end, so a
common name stays fast however many persons hold it; a search of several words ranks the persons
holding its rarest term (two or three index look-ups each) and sorts them, so it costs what that
term's persons number: a given and a family name, little; two common given names ("Mohammad Ali"),
the most.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections.abc import Collection, Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.errors import InputError
from dadkhah.model import (
    LinkageRun,
    Person,
    PersonRecord,
    PersonSearch,
    PersonSearchKey,
    PersonSearchTerm,
    Place,
    Record,
    Setting,
    Source,
)
from dadkhah.model.search import SEARCH_INDEX_SETTING
from dadkhah.normalize.dates import DateParseError, parse_date
from dadkhah.normalize.names import normalize_name, token_key
from dadkhah.normalize.script import to_ascii_digits
from dadkhah.registry.persons import format_person_id, get_person, surviving_person_id
from dadkhah.store import Store

INDEX_SETTING = SEARCH_INDEX_SETTING
SOURCES_SEPARATOR = "\x1f"
# A term naming more persons than this, whose keys are several, is not used to start a search
# (its rows would have to be sorted); the search walks persons in order instead.
_SORT_BOUND = 20_000
_PERSON_ID = re.compile(r"^\s*P\s*-?\s*0*(\d{1,9})\s*$", re.IGNORECASE)
# Where a name term stands in a person's names, best first: what a hit's ``matched`` says. A person's
# rank for a query is the weakest field any of its words needed (0 only for the whole query).
MATCH_FIELDS = {0: "full name", 1: "given name", 2: "family name", 3: "part of the given name",
                4: "part of the family name", 5: "other name", 6: "father's name"}
WHOLE_NAME = "="  # the prefix of a whole full name's term (``=MHMD RZI``)
_rebuilding = threading.Lock()
_BUILD_LOCK = 1988_0806  # PostgreSQL advisory lock held while the index is rebuilt


# --- the index ---------------------------------------------------------------------------------

# Each current record of each active person, with what the index needs from it: a temporary
# table, filled once per build and read by the statements that follow.
_members = sa.Table(
    "person_search_members", sa.MetaData(),
    sa.Column("person_pk", sa.Integer), sa.Column("source_id", sa.Integer), sa.Column("city_place_id", sa.String(100)),
    sa.Column("death_earliest", sa.Date), sa.Column("death_latest", sa.Date), sa.Column("script", sa.String(10)),
    sa.Column("display", sa.Text), sa.Column("given_key", sa.String(100)), sa.Column("family_key", sa.String(100)),
    sa.Column("full_key", sa.String(200)), sa.Column("father_key", sa.String(100)),
    prefixes=["TEMPORARY"],
)


def _fill_members(session: Session, only=None) -> None:
    """``only``: a select of the person row ids to take (every active person when None)."""
    r = Record
    pair = sa.func.trim(sa.func.coalesce(r.given_name, "") + " " + sa.func.coalesce(r.family_name, ""))
    pair_normalized = sa.func.trim(sa.func.coalesce(r.given_name_norm, "") + " " + sa.func.coalesce(r.family_name_norm, ""))
    # Persian as written (given and family name, else the full name); Latin as normalised, so
    # that "Family, Given" and capitals do not make two spellings of one name.
    display = sa.case((r.name_script == "latin", pair_normalized),
                      (sa.or_(r.given_name.is_not(None), r.family_name.is_not(None)), pair),
                      else_=sa.func.trim(r.full_name))
    script = sa.case((r.name_script.in_(("fa", "latin")), r.name_script))
    query = (
        sa.select(PersonRecord.person_pk, r.source_id, r.city_place_id, r.death_earliest, r.death_latest, script, display,
                  r.given_name_key, r.family_name_key, r.full_name_key, r.father_name_key)
        .join(Person, Person.id == PersonRecord.person_pk)
        .join(r, sa.and_(r.source_id == PersonRecord.source_id, r.record_id == PersonRecord.record_id))
        .where(Person.status == "active", r.superseded_by.is_(None),
               *(() if only is None else (PersonRecord.person_pk.in_(only),)))
    )
    session.execute(_members.insert().from_select([c.name for c in _members.columns], query))


# The value most of a person's records give, per kind (``city``, ``fa`` and ``latin`` names) and the
# person's source names (``sources``): one row per person and kind, found by its primary key.
_facts = sa.Table(
    "person_search_facts", sa.MetaData(),
    sa.Column("person_pk", sa.Integer, primary_key=True), sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("value", sa.Text),
    prefixes=["TEMPORARY"],
)


def _most_common(value, kind, *where):
    """(person_pk, kind, the value most of the person's records give).

    Ties go to the greatest value: Persian letters (ی, ک) sort after their Arabic look-alikes (ي, ك),
    so of two spellings as common, the one in Persian letters is shown.
    """
    m = _members.c
    ranked = (sa.select(m.person_pk, kind.label("kind"), value.label("value"),
                        sa.func.row_number().over(partition_by=(m.person_pk, kind),
                                                  order_by=(sa.func.count().desc(), value.desc())).label("pick"))
              .where(value.is_not(None), *where).group_by(m.person_pk, kind, value).subquery("ranked"))
    return sa.select(ranked.c.person_pk, ranked.c.kind, ranked.c.value).where(ranked.c.pick == 1)


def _fill_persons(session: Session) -> None:
    m = _members.c
    columns = ["person_pk", "kind", "value"]
    session.execute(_facts.insert().from_select(columns, _most_common(m.city_place_id, sa.literal("city"))))
    session.execute(_facts.insert().from_select(columns, _most_common(m.display, m.script, m.script.is_not(None),
                                                                      m.display != "")))
    # Source names in their order, so that the index is the same however it was made: SQLite's
    # group_concat (before 3.44) takes its rows as the ordered subquery gives them; string_agg is told.
    named = (sa.select(m.person_pk, Source.name).distinct().join(Source, Source.id == m.source_id)
             .order_by(m.person_pk, Source.name).subquery("named"))
    joined = sa.func.aggregate_strings(named.c.name, SOURCES_SEPARATOR)  # group_concat / string_agg
    if session.get_bind().dialect.name == "postgresql":
        joined = joined.aggregate_order_by(named.c.name)
    session.execute(_facts.insert().from_select(columns, sa.select(named.c.person_pk, sa.literal("sources"), joined)
                                                .group_by(named.c.person_pk)))
    base = (sa.select(m.person_pk, sa.func.count().label("records"), sa.func.min(m.death_earliest).label("death_earliest"),
                      sa.func.max(m.death_latest).label("death_latest"))
            .group_by(m.person_pk).subquery("base"))
    fact = {kind: _facts.alias(f"fact_{kind}") for kind in ("city", "fa", "latin", "sources")}
    query = sa.select(base.c.person_pk, Person.person_id, fact["fa"].c.value, fact["latin"].c.value, fact["city"].c.value,
                      base.c.death_earliest, base.c.death_latest, base.c.records, fact["sources"].c.value)
    joined_from = base.join(Person, Person.id == base.c.person_pk)
    for kind, table in fact.items():
        joined_from = joined_from.outerjoin(table, sa.and_(table.c.person_pk == base.c.person_pk, table.c.kind == kind))
    query = query.select_from(joined_from).order_by(base.c.person_pk)
    session.execute(sa.insert(PersonSearch).from_select(
        ["person_pk", "person_id", "name_fa", "name_latin", "city_place_id", "death_earliest", "death_latest", "records",
         "sources"], query))


def _fill_keys(session: Session, dialect: str) -> None:
    """Every word of every name key of each person, each city and each source: one row per (term, person)."""
    m = _members.c
    position = sa.func.strpos if dialect == "postgresql" else sa.func.instr

    def whole_or_part(column, whole: int, part: int):
        return sa.case((position(column, " ") == 0, whole), else_=part)

    fields = ((m.given_key, whole_or_part(m.given_key, 1, 3)), (m.family_key, whole_or_part(m.family_key, 2, 4)),
              (m.full_key, sa.literal(5)), (m.father_key, sa.literal(6)))
    # A key of one word is its own term; only keys of several words are split into words, one by one
    # (most keys are one word: at a million records the build took a tenth less time than when every
    # key went through the splitting).
    single = [sa.select(sa.cast(column, sa.Text).label("term"), m.person_pk, sa.cast(field, sa.SmallInteger).label("field"))
              .where(column.is_not(None), column != "", position(column, " ") == 0) for column, field in fields]
    anchors = [sa.select(m.person_pk.label("person_pk"), sa.cast(field, sa.SmallInteger).label("field"),
                         sa.cast(sa.literal(""), sa.Text).label("word"),
                         sa.cast(column + " ", sa.Text).label("rest")).where(column.is_not(None), position(column, " ") > 0)
               for column, field in fields]
    named = sa.union_all(*anchors).subquery("keys")
    words = sa.select(named.c.person_pk, named.c.field, named.c.word, named.c.rest).cte("words", recursive=True)
    space = position(words.c.rest, " ")
    words = words.union_all(
        sa.select(words.c.person_pk, words.c.field, sa.cast(sa.func.substr(words.c.rest, 1, space - 1), sa.Text),
                  sa.cast(sa.func.substr(words.c.rest, space + 1), sa.Text))
        .where(words.c.rest != ""))
    none = sa.cast(sa.literal(0), sa.SmallInteger)
    terms = sa.union_all(
        *single,
        sa.select(words.c.word.label("term"), words.c.person_pk, words.c.field).where(words.c.word != ""),
        sa.select(sa.literal(WHOLE_NAME) + sa.func.substr(m.full_key, 1, 199), m.person_pk, none)
        .where(m.full_key.is_not(None)),
        sa.select(m.city_place_id, m.person_pk, none).where(m.city_place_id.is_not(None)),
        sa.select(sa.literal("source:") + sa.cast(m.source_id, sa.String(20)), m.person_pk, none),
    ).subquery("terms")
    query = (sa.select(terms.c.term, terms.c.person_pk, sa.func.min(terms.c.field))
             .group_by(terms.c.term, terms.c.person_pk).order_by(terms.c.term, terms.c.person_pk))
    session.execute(sa.insert(PersonSearchKey).from_select(["key", "person_pk", "field"], query))


def _count_terms(session: Session, only=None) -> None:
    """How many persons each term finds; ``only``: a select of the terms to count (all when None)."""
    counts = (sa.select(PersonSearchKey.key, sa.func.count())
              .where(*(() if only is None else (PersonSearchKey.key.in_(only),))).group_by(PersonSearchKey.key))
    session.execute(sa.insert(PersonSearchTerm).from_select(["key", "persons"], counts))


_LATEST_RUN = sa.select(sa.func.max(LinkageRun.id)).scalar_subquery()
# An import changes what the index shows only where it brings a new version of a record some person
# already holds (records no person holds yet wait for the next run); a list of new records does not
# make every search rebuild the index.
_LATEST_IMPORT = (sa.select(sa.func.max(Record.superseded_by))
                  .where(Record.superseded_by.is_not(None),
                         sa.exists().where(PersonRecord.source_id == Record.source_id,
                                           PersonRecord.record_id == Record.record_id))
                  .scalar_subquery())
_INDEX_STATE = sa.select(sa.select(Setting.value).where(Setting.key == INDEX_SETTING).scalar_subquery(),
                         _LATEST_RUN, _LATEST_IMPORT)


def _index_state(session: Session) -> dict:
    """What the index must reflect: the latest linkage run and the latest import."""
    run, imported = session.execute(sa.select(_LATEST_RUN, _LATEST_IMPORT)).one()
    return {"run": run or 0, "import": imported or 0}


_POSTGRESQL_ANALYZE = ("ANALYZE person_search", "ANALYZE person_search_keys", "ANALYZE person_search_terms")


def build_search_index(session: Session) -> dict:
    """Rebuild the person search index in full, in the caller's transaction. Returns counts and seconds."""
    started = time.perf_counter()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _BUILD_LOCK})
    # DELETE, not TRUNCATE: searches keep reading the old index until this transaction commits.
    for table in (PersonSearchKey, PersonSearchTerm, PersonSearch):
        session.execute(sa.delete(table))
    connection = session.connection()
    for table in (_members, _facts):
        table.drop(connection, checkfirst=True)
        table.create(connection)
    _fill_members(session)
    _fill_persons(session)
    _fill_keys(session, dialect)
    _count_terms(session)
    for table in (_members, _facts):
        table.drop(connection)
    if dialect == "postgresql":
        for statement in _POSTGRESQL_ANALYZE:
            session.execute(sa.text(statement))
    return _built(session, started)


def _built(session: Session, started: float) -> dict:
    state = json.dumps(_index_state(session), sort_keys=True)
    setting = session.get(Setting, INDEX_SETTING)
    if setting is None:
        session.add(Setting(key=INDEX_SETTING, value=state))
    else:
        setting.value = state
    session.flush()
    persons = session.scalar(sa.select(sa.func.count()).select_from(PersonSearch))
    keys = session.scalar(sa.select(sa.func.count()).select_from(PersonSearchKey))
    return {"persons": persons, "keys": keys, "seconds": round(time.perf_counter() - started, 3)}


# The persons an update rewrites, and the terms whose counts it may change.
_touched = sa.Table("person_search_touched", sa.MetaData(), sa.Column("person_pk", sa.Integer, primary_key=True),
                    prefixes=["TEMPORARY"])
_touched_terms = sa.Table("person_search_touched_terms", sa.MetaData(), sa.Column("key", sa.String(200)),
                          prefixes=["TEMPORARY"])


def update_search_index(session: Session, persons: Collection[int]) -> dict:
    """Rewrite the index rows of ``persons`` (row ids) only, in the caller's transaction: the persons
    whose rows may differ from what a full build would make now (those a linkage run changed, and
    those whose records an import changed since the index was made: :func:`changed_since_built`).
    The index is then what :func:`build_search_index` would make: the rows of persons no longer
    active go, those of the others are worked out again from their current records, and the counts
    of the terms either had are counted again."""
    started = time.perf_counter()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _BUILD_LOCK})
    connection = session.connection()
    tables = (_members, _facts, _touched, _touched_terms)
    for table in tables:
        table.drop(connection, checkfirst=True)
        table.create(connection)
    chosen = sorted(set(persons))
    for start in range(0, len(chosen), 5000):
        session.execute(_touched.insert(), [{"person_pk": pk} for pk in chosen[start:start + 5000]])
    touched = sa.select(_touched.c.person_pk)
    had = sa.select(PersonSearchKey.key).where(PersonSearchKey.person_pk.in_(touched))
    session.execute(_touched_terms.insert().from_select(["key"], had))
    session.execute(sa.delete(PersonSearchKey).where(PersonSearchKey.person_pk.in_(touched)))
    session.execute(sa.delete(PersonSearch).where(PersonSearch.person_pk.in_(touched)))
    _fill_members(session, only=touched)
    _fill_persons(session)
    _fill_keys(session, dialect)
    session.execute(_touched_terms.insert().from_select(["key"], had))
    terms = sa.select(_touched_terms.c.key).distinct()
    session.execute(sa.delete(PersonSearchTerm).where(PersonSearchTerm.key.in_(terms)))
    _count_terms(session, only=terms)
    for table in tables:
        table.drop(connection)
    return _built(session, started) | {"updated_persons": len(chosen)}


# An update rewrites each changed person's rows where a rebuild writes every person's in bulk: past
# this share of the index's persons, rebuilding is quicker. Measured on 119,860 persons (SQLite):
# updating 70,791 of them took 16.3 s, rebuilding all 12.2 s; updating ~1,000 of 453,365, 2.4 s
# against 33 s.
_UPDATE_AT_MOST = 0.25


def refresh_search_index(session: Session, changed: Collection[int] | None) -> int | None:
    """Bring the index up to date in the caller's transaction, given the persons whose rows changed
    (None: not known, see :func:`changed_since_built`): their rows only when they are few, else the
    whole index. Returns how many persons' rows were updated, or None when it was rebuilt."""
    if changed is not None:
        indexed = session.scalar(sa.select(sa.func.count()).select_from(PersonSearch)) or 0
        if len(changed) <= _UPDATE_AT_MOST * indexed:
            update_search_index(session, changed)
            return len(set(changed))
    build_search_index(session)
    return None


def search_index_is_current(session: Session) -> bool:
    """True when the index was built after the latest linkage run and import (one small query)."""
    built, run, imported = session.connection().execute(_INDEX_STATE).one()
    return built is not None and json.loads(built) == {"run": run or 0, "import": imported or 0}


def changed_since_built(session: Session) -> set[int] | None:
    """Row ids of the persons whose current records changed since the index was made, when it was
    made for the latest linkage run (an import since brought new versions of records they hold);
    None when it was not (never made, or made before the latest run): then it must be rebuilt."""
    built, run, imported = session.connection().execute(_INDEX_STATE).one()
    state = json.loads(built) if built is not None else None
    if not isinstance(state, dict) or state.get("run") != (run or 0):
        return None
    since = state.get("import") or 0
    if (imported or 0) == since:
        return set()
    held = (sa.select(PersonRecord.person_pk).distinct()
            .join(Record, sa.and_(Record.source_id == PersonRecord.source_id, Record.record_id == PersonRecord.record_id))
            .where(Record.superseded_by > since))
    return set(session.scalars(held))


def ensure_search_index(store: Store) -> bool:
    """Bring the index up to date when it is missing or stale (once, even when many requests ask at
    once): only the rows of the persons whose records changed when it was made for the latest
    linkage run (:func:`changed_since_built`), in full otherwise.

    Returns True when it was rebuilt or updated. Workspaces linked before the index existed get it
    here, on the first search, rather than in the migration.
    """
    with store.session() as session:
        if search_index_is_current(session):
            return False
    with _rebuilding:
        with store.session() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Other server processes may be rebuilding too: wait for them, then look again.
                session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _BUILD_LOCK})
            if search_index_is_current(session):
                return False
            refresh_search_index(session, changed_since_built(session))
    return True


# --- searching ---------------------------------------------------------------------------------

def query_words(query: str) -> list[str]:
    """The query's words as the name normaliser writes them (titles dropped, suffixes joined)."""
    value = normalize_name(query, "family") if query and query.strip() else None
    return value.normalized.split() if value and value.normalized else []


def query_terms(query: str) -> list[list[str]]:
    """Each word's acceptable keys: its own, and those of it written together with a neighbour."""
    words = query_words(query)
    keys = [token_key(word) for word in words]
    joined = [token_key(words[i] + words[i + 1]) for i in range(len(words) - 1)]
    terms = []
    for i, key in enumerate(keys):
        if not key:
            continue
        alternatives = [key]
        for pair in (joined[i - 1] if i > 0 else None, joined[i] if i < len(joined) else None):
            if pair and pair not in alternatives:
                alternatives.append(pair)
        terms.append(alternatives)
    return terms


def parse_search_date(text: str | None, *, field: str, end: bool) -> date | None:
    """A date filter: ISO (1988-08-06) or any date the importer reads, Jalali included (1367/05/15).

    A date that names a span (1367/05, 1988) counts from its first day, or to its last (``end``).
    """
    value = _date_given(text, field=field)
    if value is None:
        return None
    return value.latest if end else value.earliest


def _date_given(text: str | None, *, field: str):
    """The date ``text`` gives, as the importer reads dates (None: nothing given)."""
    if text is None or not str(text).strip():
        return None
    try:
        return parse_date(str(text).strip())
    except DateParseError as exc:
        raise InputError(str(exc), field=field) from None


def parse_one_day(text: str | None, *, field: str) -> date | None:
    """One day, as :func:`parse_search_date` reads it (ISO, Jalali, …); a date naming a span (1367,
    summer 1367, 1988-08) is refused, since the question is about one day (who held which post on it)."""
    value = _date_given(text, field=field)
    if value is None:
        return None
    if value.earliest != value.latest:
        raise InputError(f"{str(text).strip()!r} names the days from {value.earliest.isoformat()} to "
                         f"{value.latest.isoformat()}, not one day: give the day (1988-08-06, 1367/05/15)", field=field)
    return value.earliest


def find_persons(store: Store, **search) -> dict:
    """:func:`search_persons` on a store: one transaction when the index is current, else built first."""
    with store.session() as session:
        if search_index_is_current(session):
            return search_persons(session, **search)
    ensure_search_index(store)
    with store.session() as session:
        return search_persons(session, **search)


def _person_id_query(query: str | None) -> str | None:
    match = _PERSON_ID.match(to_ascii_digits(query or ""))
    return format_person_id(int(match.group(1))) if match else None


def _hit_query(*joined, rank=None):
    """The columns of a hit, from ``person_search`` (after any tables it is joined to) and the city's
    names; with ``rank``, that too (what :data:`MATCH_FIELDS` names)."""
    table, places = PersonSearch.__table__, Place.__table__
    columns = (table.c.person_id, table.c.name_fa, table.c.name_latin, table.c.city_place_id, places.c.name_en,
               places.c.name_fa, table.c.death_earliest, table.c.death_latest, table.c.records, table.c.sources)
    if rank is not None:
        columns += (rank,)
    source = joined[0] if joined else table
    return sa.select(*columns).select_from(source.outerjoin(places, places.c.id == table.c.city_place_id))


_BY_PERSON = _hit_query().where(PersonSearch.__table__.c.person_pk == sa.bindparam("person_pk"))
_TERM_COUNTS = sa.select(PersonSearchTerm.__table__.c.key, PersonSearchTerm.__table__.c.persons).where(
    PersonSearchTerm.__table__.c.key.in_(sa.bindparam("keys", expanding=True)))


def latin_display(name: str | None) -> str | None:
    """A normalised Latin name (kept lower-case) as it is shown: each word capitalised."""
    return " ".join(word[:1].upper() + word[1:] for word in name.split()) if name else name


def _hits(rows, matched: str | None = None) -> list[dict]:
    """Hits as documents; ``matched`` what every hit matched on, else each row's rank says (a name search)."""
    hits = []
    for row in rows:
        person_id, name_fa, name_latin, city, city_en, city_fa, death_earliest, death_latest, records, sources = row[:10]
        hits.append({
            "person_id": person_id,
            "name_fa": name_fa,
            "name_latin": latin_display(name_latin),
            "city": {"place_id": city, "name_en": city_en, "name_fa": city_fa} if city else None,
            "death_earliest": death_earliest.isoformat() if death_earliest else None,
            "death_latest": death_latest.isoformat() if death_latest else None,
            "records": records,
            "sources": sorted(sources.split(SOURCES_SEPARATOR)) if sources else [],
            "matched": MATCH_FIELDS.get(row[10]) if len(row) > 10 else matched,
        })
    return hits


def search_persons(
    session: Session,
    *,
    query: str | None = None,
    city: str | None = None,
    source: str | None = None,
    death_from: date | None = None,
    death_to: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict:
    """Persons matching ``query`` (names in either script, or a person id) and the filters.

    Returns ``{"hits": [...], "has_next": bool, "terms": [...]}``: at most ``limit`` hits from
    ``offset``, best first for a name (see the module's docstring), else in person-id order, each
    with the person's names in both scripts where known, city, span of death dates, record count,
    sources and what the query matched (``matched``: one of :data:`MATCH_FIELDS`' names, ``person
    id``, or None when only filters were given). A person id (``P-000123``) finds that person, or
    the one it was merged into, whatever the filters. An empty query lists persons.
    """
    if limit < 1 or offset < 0:
        raise InputError("limit must be at least 1 and offset at least 0")
    wanted_id = _person_id_query(query)
    if wanted_id is not None:
        return _search_by_id(session, wanted_id, offset=offset)
    terms = query_terms(query or "")
    if query and query.strip() and not terms:
        return {"hits": [], "has_next": False, "terms": []}
    names = len(terms)  # the first terms are the query's words; filters follow
    whole = WHOLE_NAME + " ".join(term[0] for term in terms) if names > 1 else None
    if city:
        place = session.get(Place, city)
        if place is None or place.type != "city":
            raise InputError(f"no city with place id {city!r} in the gazetteer", field="city")
        terms.append([place.id])
    if source:
        source_pk = session.scalar(sa.select(Source.id).where(Source.name == source))
        if source_pk is None:
            raise InputError(f"no source named {source!r}", field="source")
        terms.append([f"source:{source_pk}"])
    if death_from and death_to and death_from > death_to:
        raise InputError("the death-date range ends before it starts", field="death_to")

    connection = session.connection()
    counts = dict(connection.execute(_TERM_COUNTS, {"keys": sorted({k for term in terms for k in term})}).all()) if terms else {}
    # A joined alternative no person has is dropped; a word no person has means no hit at all.
    terms = [[k for k in term if counts.get(k)] for term in terms]
    described = [sorted(term) for term in terms]
    if any(not term for term in terms):
        return {"hits": [], "has_next": False, "terms": described}
    name_terms: list[list[str]] = []
    filter_terms: list[list[str]] = []
    for i, term in enumerate(terms):
        chosen = name_terms if i < names else filter_terms
        if term not in name_terms and term not in filter_terms:
            chosen.append(term)
    rows = _run_search(connection, name_terms, filter_terms, counts, whole=whole, death_from=death_from,
                       death_to=death_to, limit=limit + 1, offset=offset)
    return {"hits": _hits(rows[:limit]), "has_next": len(rows) > limit, "terms": described}


def _search_by_id(session: Session, person_id: str, *, offset: int) -> dict:
    from dadkhah.errors import NotFound

    try:
        surviving = surviving_person_id(session, person_id)
    except NotFound:
        return {"hits": [], "has_next": False, "terms": [person_id]}
    person_pk = get_person(session, surviving).id
    rows = session.connection().execute(_BY_PERSON, {"person_pk": person_pk}).all()
    return {"hits": _hits(rows, matched="person id")[offset:], "has_next": False, "terms": [person_id]}


def _run_search(connection: sa.Connection, names: list[list[str]], filters: list[list[str]], counts: dict[str, int],
                *, whole: str | None, death_from, death_to, limit: int, offset: int) -> Sequence:
    """One query. Without a name: start from the rarest filter (or walk persons in order) and check
    the others per person. A one-word name: walk its key's rows best field first (unless a filter
    is so rare that ranking its persons costs less). Several words: rank the persons holding the
    rarest term."""
    terms = names + filters
    weight = {id(term): sum(counts[k] for k in term) for term in terms}
    ordered = sorted(terms, key=lambda term: weight[id(term)])
    driver = ordered[0] if ordered else None
    if driver is not None and len(driver) > 1 and weight[id(driver)] > _SORT_BOUND:
        driver = next((t for t in ordered if len(t) == 1), None)
    if len(names) == 1 and len(names[0]) == 1 and (driver is names[0] or not _filter_is_cheaper(
            connection, weight[id(names[0])], weight[id(driver)] if driver else None, limit + offset)):
        driver, plan = names[0], "walk"
    else:
        plan = "rank" if names else "plain"
    shape = "none" if driver is None else "one" if len(driver) == 1 else "many"
    # In a ranking, the driving word's field is its row's; another's, the least of its keys' for the
    # person (a sub-query: sub-queries keep the database walking from the rarest term, where a join
    # would let SQLite, which keeps no statistics of this index, start from a common name).
    roles = tuple("driver" if term is driver and shape == "one" else "least" for term in names) if plan == "rank" else ()
    ranked = list(zip(names, roles, strict=True)) if plan == "rank" else []
    others = [t for t in ordered if t is not driver]
    statement = _search_statement(plan, shape, len(others), roles, whole is not None and plan == "rank",
                                  death_from is not None, death_to is not None, connection.dialect.name)
    params = {f"term_{i}": term for i, term in enumerate(others)} | {"limit": limit, "offset": offset}
    for i, (term, role) in enumerate(ranked):
        if role != "driver":
            params[f"name_{i}"] = term
    if plan == "rank" and whole is not None:
        params["whole"] = whole
    if driver is not None:
        params["driver"] = driver[0] if shape == "one" else driver
    if death_from is not None:
        params["death_from"] = death_from
    if death_to is not None:
        params["death_to"] = death_to
    return connection.execute(statement, params).all()


_LAST_PERSON = sa.select(sa.func.max(PersonSearch.__table__.c.person_pk))


def _filter_is_cheaper(connection: sa.Connection, name_persons: int, filter_persons: int | None, wanted: int) -> bool:
    """Whether ranking the persons of a rare filter (a look-up each, and a sort) costs less than
    walking one name's persons best first until ``wanted`` of them pass the filter (about ``wanted``
    times the share of all persons the filter keeps, or all the name's persons when few pass)."""
    if filter_persons is None or filter_persons > _SORT_BOUND:
        return False
    persons = connection.execute(_LAST_PERSON).scalar() or 1  # an upper bound of their number, by the index
    walked = min(name_persons, wanted * persons / max(filter_persons, 1))
    return filter_persons < walked


@functools.lru_cache(maxsize=256)
def _search_statement(plan: str, shape: str, others: int, roles: tuple[str, ...], with_whole: bool, with_from: bool,
                      with_to: bool, dialect: str) -> sa.Select:
    """The search's statement for one shape of query, built once and then reused with new values.

    ``shape``: ``one`` walks the key index from the rarest term (one key) and stops at the page's
    end; ``many`` starts from the persons holding any of a term's keys; ``none`` walks every person
    in order. Each of the ``others`` terms is checked per person by a primary-key look-up.
    ``plan``: ``plain`` (no name: person order), ``walk`` (one name key drives, in the order of the
    index (key, field, person): best field first), ``rank`` (each hit ranked by the weakest field
    of its name terms, whose ``roles`` say where each one's field comes from: the driving row, or
    the least over its keys; 0 when the person has the whole query as a full name).
    """
    table = PersonSearch.__table__
    keys = PersonSearchKey.__table__
    conditions = []
    for i in range(others):
        other = keys.alias(f"term_{i}")
        conditions.append(sa.exists().where(other.c.key.in_(sa.bindparam(f"term_{i}", expanding=True)),
                                            other.c.person_pk == table.c.person_pk))
    if with_from:
        conditions.append(table.c.death_latest >= sa.bindparam("death_from", type_=sa.Date()))
    if with_to:
        conditions.append(table.c.death_earliest <= sa.bindparam("death_to", type_=sa.Date()))
    first = keys.alias("first_term")
    if plan == "walk":
        query = (_hit_query(first.join(table, table.c.person_pk == first.c.person_pk), rank=first.c.field.label("rank"))
                 .where(first.c.key == sa.bindparam("driver"), *conditions).order_by(first.c.field, first.c.person_pk))
        return query.limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
    source = first.join(table, table.c.person_pk == first.c.person_pk) if shape == "one" else table
    rank = None
    if plan == "rank":
        fields = []
        for i, role in enumerate(roles):
            if role == "driver":
                fields.append(first.c.field)
            else:
                named = keys.alias(f"name_{i}")
                fields.append(sa.select(sa.func.min(named.c.field))
                              .where(named.c.key.in_(sa.bindparam(f"name_{i}", expanding=True)),
                                     named.c.person_pk == table.c.person_pk).scalar_subquery())
        worst = fields[0] if len(fields) == 1 else (sa.func.greatest if dialect == "postgresql" else sa.func.max)(*fields)
        if with_whole:
            whole = keys.alias("whole_name")
            worst = sa.case((sa.exists().where(whole.c.key == sa.bindparam("whole"),
                                               whole.c.person_pk == table.c.person_pk), 0), else_=worst)
        rank = worst.label("rank")  # ordered by its name: computed once per person
    order = (rank, table.c.person_pk) if rank is not None else (table.c.person_pk,)
    if shape == "none":
        query = _hit_query(source, rank=rank).where(*conditions).order_by(*order)
    elif shape == "one":
        query = (_hit_query(source, rank=rank).where(first.c.key == sa.bindparam("driver"), *conditions)
                 .order_by(*(order if rank is not None else (first.c.person_pk,))))
    else:
        starts = sa.select(first.c.person_pk).where(first.c.key.in_(sa.bindparam("driver", expanding=True)))
        query = _hit_query(source, rank=rank).where(table.c.person_pk.in_(starts), *conditions).order_by(*order)
    return query.limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))


def search_filters(session: Session) -> dict:
    """What a search can be narrowed by: the gazetteer's cities and the sources."""
    cities = [{"place_id": pid, "name_en": en, "name_fa": fa} for pid, en, fa in session.execute(
        sa.select(Place.id, Place.name_en, Place.name_fa).where(Place.type == "city").order_by(Place.name_en))]
    # sources that hold records (a source that only cites claims about officials finds no one)
    sources = list(session.scalars(sa.select(Source.name).where(
        sa.exists().where(Record.source_id == Source.id)).order_by(Source.name)))
    return {"cities": cities, "sources": sources}
