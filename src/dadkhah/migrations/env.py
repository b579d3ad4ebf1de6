"""Alembic environment: run migrations on the connection the store hands over.

Dadkhah never reads alembic.ini; :func:`dadkhah.store.migrate` configures everything in code so the
migrations ship inside the package and run the same on SQLite and PostgreSQL.
"""

from alembic import context

from dadkhah.model import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable when someone runs `alembic` by hand
    raise RuntimeError("run migrations through dadkhah.store.migrate(), not the alembic command")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
