"""What linkage compares: one row per current record, as an Arrow table.

Everything a comparison or a blocking rule needs is computed here, once, in Python, so that the SQL
the engine runs is plain column arithmetic that any backend (DuckDB, Spark) executes alike:
names as normalised text, cross-script keys and coarse keys; dates as day numbers (days since
1970-01-01) bounding the interval the record allows; places as gazetteer ids with their province.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.model import PLACES_REVISION_SETTING, Place, Record, Setting, Source
from dadkhah.normalize.names import coarse_key, looks_swapped
from dadkhah.store import collector_paused

EPOCH = dt.date(1970, 1, 1)

SCHEMA = pa.schema(
    [
        ("unique_id", pa.int64()),
        ("source_id", pa.int64()),
        ("source", pa.string()),
        ("record_id", pa.string()),
        ("given_norm", pa.string()),
        ("given_key", pa.string()),
        ("given_coarse", pa.string()),
        ("family_norm", pa.string()),
        ("family_key", pa.string()),
        ("family_coarse", pa.string()),
        ("given_del", pa.list_(pa.string())),
        ("family_del", pa.list_(pa.string())),
        ("full_key", pa.string()),
        ("full_coarse", pa.string()),
        ("father_norm", pa.string()),
        ("father_key", pa.string()),
        ("father_coarse", pa.string()),
        ("birth_lo", pa.int32()),
        ("birth_hi", pa.int32()),
        ("death_lo", pa.int32()),
        ("death_hi", pa.int32()),
        ("death_month", pa.int32()),
        ("city_id", pa.string()),
        ("province_id", pa.string()),
        ("prison_id", pa.string()),
        ("gender", pa.string()),
        ("script", pa.string()),
        ("names_swapped", pa.bool_()),
    ]
)


# Raise when a feature is computed differently: a model trained on the old features is then retrained.
FEATURES_VERSION = 3  # 2: full_coarse without "I" and as one word; 3: Latin keys write ی and و in order (Dariush DRYUW)


def day_number(value: dt.date | None) -> int | None:
    return (value - EPOCH).days if value is not None else None


def _single_word(key: str | None) -> str | None:
    return key.replace(" ", "") if key else None


def _skeleton(coarse: str | None) -> str | None:
    """A coarse full-name key as one word, without ``I`` either: where a compound name is split
    differently ("Ali | Asgartaghinia", "Aliasgar | Taqinia"), the coarse keys differ only in the
    ``I`` that ends the first part ("LI SGRTQN" against "LSGR TQN"); both become "LSGRTQN"."""
    if not coarse:
        return None
    letters = coarse.replace(" ", "").replace("I", "")
    return "".join(c for i, c in enumerate(letters) if i == 0 or c != letters[i - 1]) or None


def deletion_neighbourhood(key: str | None) -> list[str] | None:
    """The key and every copy of it with one letter deleted.

    Two keys within one edit of each other (a typo: a letter missing, added or changed) share at
    least one element, so joining on these finds misspelt names without comparing every pair.
    A one-letter key stands alone.
    """
    if not key:
        return None
    if len(key) <= 1:
        return [key]
    return sorted({key, *(key[:i] + key[i + 1:] for i in range(len(key)))})


def _batches(session: Session, batch_size: int, only: sa.ColumnElement[bool] | None = None
             ) -> Iterator[pa.RecordBatch]:
    """The features of the current records (those ``only`` names, when given), ``batch_size`` rows at a
    time, in record-id order. Built column by column (a list per column, not a dictionary per row)."""
    # Names repeat (a registry holds thousands of Mohammads): each key is worked out once.
    coarse_of: dict[str | None, str | None] = {}
    neighbours_of: dict[str | None, tuple[str, ...] | None] = {}
    swapped_of: dict[tuple[str | None, str | None], bool] = {}
    skeleton_of: dict[str | None, str | None] = {}

    def coarse(key: str | None) -> str | None:
        if key not in coarse_of:
            coarse_of[key] = coarse_key(key)
        return coarse_of[key]

    def neighbours(key: str | None) -> list[str] | None:
        if key not in neighbours_of:
            found = deletion_neighbourhood(key)
            neighbours_of[key] = tuple(found) if found is not None else None
        found = neighbours_of[key]
        return list(found) if found is not None else None

    def skeleton(full_key: str | None) -> str | None:
        if full_key not in skeleton_of:
            skeleton_of[full_key] = _skeleton(coarse_key(full_key))
        return skeleton_of[full_key]

    province = dict(session.execute(sa.select(Place.id, Place.province_now).where(Place.province_now.is_not(None))).all())
    query = (
        sa.select(
            Record.id, Record.source_id, Source.name, Record.record_id,
            Record.given_name_norm, Record.given_name_key,
            Record.family_name_norm, Record.family_name_key,
            Record.full_name_key,
            Record.father_name_norm, Record.father_name_key,
            Record.birth_earliest, Record.birth_latest, Record.death_earliest, Record.death_latest,
            Record.city_place_id, Record.prison_place_id, Record.gender_norm, Record.name_script,
        )
        .join(Source, Source.id == Record.source_id)
        .where(Record.superseded_by.is_(None), *(() if only is None else (only,)))
        .order_by(Record.id)
        .execution_options(yield_per=batch_size)
    )
    rows: list[tuple] = []  # in SCHEMA's order; turned into columns a batch at a time
    for (uid, source_id, source, record_id, given_norm, given_key, family_norm, family_key, full_key, father_norm, father_key,
         birth_lo, birth_hi, death_lo, death_hi, city, prison, gender, script) in session.execute(query):
        family_key = _single_word(family_key)
        family_norm = family_norm.replace(" ", "") if family_norm else None
        pair = (given_key, family_key)
        if pair not in swapped_of:
            swapped_of[pair] = looks_swapped(given_key, family_key)
        swapped = swapped_of[pair]
        if swapped:  # compared the right way round; the record itself stays as given
            given_norm, family_norm = family_norm, given_norm
            given_key, family_key = family_key, given_key
        death_lo_n = day_number(death_lo)
        death_hi_n = day_number(death_hi)
        rows.append((
            uid, source_id, source, record_id,
            given_norm, given_key, coarse(given_key), family_norm, family_key, coarse(family_key),
            neighbours(given_key), neighbours(family_key), _single_word(full_key), skeleton(full_key),
            father_norm, father_key, coarse(father_key),
            day_number(birth_lo), day_number(birth_hi), death_lo_n, death_hi_n,
            # The month of a death known to the month or better: a cheap blocking key.
            (death_lo.year * 12 + death_lo.month) if death_lo and death_hi_n - death_lo_n <= 31 else None,
            city, province.get(city) if city else None, prison, gender, script, swapped,
        ))
        if len(rows) >= batch_size:
            yield _batch(rows)
            rows = []
    if rows:
        yield _batch(rows)


def _batch(rows: list[tuple]) -> pa.RecordBatch:
    """Rows given as tuples in SCHEMA's order, as one record batch."""
    columns = zip(*rows, strict=True)
    return pa.RecordBatch.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, SCHEMA, strict=True)],
                                      schema=SCHEMA)


def record_features(session: Session, *, batch_size: int = 50_000, earlier: pa.Table | None = None) -> pa.Table:
    """Features of every current record, in record-id order.

    ``earlier`` is a table this function gave before, under the same :func:`features_context` (a
    run keeps its own): a record's row never changes once imported (a correction is a new record;
    places resolved anew change the context), so the rows of records still current are taken from
    it, and only the others are worked out. The result is the same table either way.
    """
    if earlier is not None and earlier.schema.remove_metadata() != SCHEMA:
        earlier = None
    only, older = None, []
    if earlier is not None:
        # (Through the connection: the ORM's result handling cost twice as long for 58,000 ids.)
        current = pa.array(session.connection().execute(sa.select(Record.id).where(Record.superseded_by.is_(None)))
                           .scalars().all(), pa.int64())
        earlier = earlier.filter(pc.is_in(earlier["unique_id"], value_set=current))
        known = earlier["unique_id"]
        newest = pc.max(known).as_py() if len(known) else None
        # Records newer than every known one, and any older one not known (a record made current
        # again), named one by one: a few, or the statement would exceed the database's limit.
        missing = pc.filter(current, pc.invert(pc.is_in(current, value_set=known))).to_pylist()
        older = [uid for uid in missing if newest is not None and uid <= newest]
        if len(older) > _OLDER_AT_MOST:
            earlier, only, older = None, None, []  # worked out afresh
        else:
            only = Record.id > newest if newest is not None else None
            if older:
                only = sa.or_(only, Record.id.in_(older)) if only is not None else Record.id.in_(older)
    if earlier is not None:  # a source's name as it is now
        sources = dict(session.execute(sa.select(Source.id, Source.name)).all())
        ids = pa.array(sorted(sources), pa.int64())
        names = pa.array([sources[i] for i in ids.to_pylist()], pa.string())
        position = SCHEMA.get_field_index("source")
        earlier = earlier.set_column(position, SCHEMA.field("source"),
                                     pc.take(names, pc.index_in(earlier["source_id"], value_set=ids)))
    batches = [] if earlier is None else earlier.to_batches()
    with collector_paused():
        batches.extend(_batches(session, batch_size, only))
    if not batches:
        batches.append(pa.RecordBatch.from_pylist([], schema=SCHEMA))
    table = pa.Table.from_batches([b.replace_schema_metadata(None) for b in batches], schema=SCHEMA)
    if earlier is not None and older:
        table = table.take(pc.sort_indices(table, [("unique_id", "ascending")]))
    return table


_OLDER_AT_MOST = 5_000  # bound parameters of one statement: SQLite allows 32,766


def features_context(session: Session) -> str:
    """What a record's features depend on besides the record itself: how they are computed (this
    module's version and the software's), each place's province, and how many times records' places
    were resolved anew (:func:`dadkhah.places.resolve_records_again`). Features kept under another
    context are not reused. (Sources' names are read afresh: adding a list does not change them.)"""
    from dadkhah import __version__

    revision = session.get(Setting, PLACES_REVISION_SETTING)
    digest = hashlib.sha256(json.dumps({
        "features": FEATURES_VERSION, "software": __version__,
        "provinces": sorted(tuple(p) for p in session.execute(sa.select(Place.id, Place.province_now))),
        # records whose places were resolved anew (an alias taught) since: their rows changed
        **({"places_revision": revision.value} if revision is not None else {}),
    }, default=str).encode())
    return digest.hexdigest()


def features_digest(table: pa.Table) -> str:
    """SHA-256 over the features: two runs on the same digest saw the same data.

    Taken over slices of 50,000 rows, each as one batch, so that it depends on the rows alone, not on
    how the table happens to be divided (a table partly reused from an earlier run is divided
    differently from one worked out afresh)."""
    digest = hashlib.sha256()
    for start in range(0, table.num_rows, _DIGEST_ROWS):
        for batch in table.slice(start, _DIGEST_ROWS).combine_chunks().to_batches():
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_batch(batch)
            digest.update(sink.getvalue().to_pybytes())
    return digest.hexdigest()


_DIGEST_ROWS = 50_000
