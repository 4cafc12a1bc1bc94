"""Alembic environment for the plain `alembic` CLI.

`reflex db makemigrations` / `reflex db migrate` (what `make run` uses) drive alembic themselves and
do not read this file; it exists so `alembic upgrade head` and `alembic check` work too, against
the same database (`REFLEX_DB_URL` through efoy_app.settings) and the same metadata.
"""

from logging.config import fileConfig

from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

import efoy_app.models  # noqa: F401  (registers every table on SQLModel.metadata)
from alembic import context
from efoy_app.settings import get_settings

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = SQLModel.metadata
DB_URL = get_settings().db_url


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    context.configure(
        url=DB_URL,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a live connection."""
    engine = create_engine(DB_URL, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
