"""Latin spellings' name keys write every long vowel of a vowel group, in order, as Persian writes
them: Dariush and Daryoush now give ``DRYUW`` like داریوش (they gave ``DRYW``), Pouya ``PUY`` like
پویا, Makouei ``MKUI`` like ماکویی. A Latin query for "Dariush" did not find a person whose
records are in Persian script only, and the linkage weighed such pairs by their coarse key alone.

A record's keys are derived from its normalised names (which do not change): this recomputes them
with the key function as it is when the migration runs, writes only the rows whose keys change, and
forgets what the person search index was built for (the next search rebuilds it). The linkage
retrains at its next run (its features' version was raised with this change).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 06:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_BATCH = 20_000


def upgrade() -> None:
    from dadkhah.normalize.names import name_key, token_key

    records = sa.table("records", sa.column("id", sa.Integer),
                       *(sa.column(f"{part}_name_{kind}", sa.Text) for part in ("given", "family", "full", "father")
                         for kind in ("norm", "key")))
    # As the importer keys them (dadkhah.normalize.names._value): a given or father's name is one
    # word, a family or full name keeps its words.
    keyed = {"given": token_key, "father": token_key, "family": name_key, "full": name_key}
    cache: dict[tuple[str, str], str | None] = {}

    def key_of(part: str, norm: str | None) -> str | None:
        if norm is None:
            return None
        found = cache.get((part, norm), False)
        if found is False:
            found = cache[(part, norm)] = keyed[part](norm) or None
            if len(cache) > 500_000:
                cache.clear()
        return found

    bind = op.get_bind()
    columns = [records.c.id] + [records.c[f"{part}_name_{kind}"] for part in keyed for kind in ("norm", "key")]
    update = (records.update().where(records.c.id == sa.bindparam("row_id"))
              .values({f"{part}_name_key": sa.bindparam(f"new_{part}") for part in keyed}))
    last = 0
    while True:
        rows = bind.execute(sa.select(*columns).where(records.c.id > last).order_by(records.c.id).limit(_BATCH)).all()
        if not rows:
            break
        last = rows[-1].id
        changed = []
        for row in rows:
            new = {part: key_of(part, row._mapping[f"{part}_name_norm"]) for part in keyed}
            if any(new[part] != row._mapping[f"{part}_name_key"] for part in keyed):
                changed.append({"row_id": row.id, **{f"new_{part}": value for part, value in new.items()}})
        if changed:
            bind.execute(update, changed)
    op.execute("DELETE FROM settings WHERE key = 'person_search_built_for'")


def downgrade() -> None:
    """Nothing to undo in the schema; the earlier keys cannot be rebuilt without the earlier function,
    so the keys stay as they are."""
