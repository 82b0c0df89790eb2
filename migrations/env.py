"""Alembic environment: migrates the database of API_HISTORY_URL (or the URL the caller passes)."""

from logging.config import fileConfig

from alembic import context

import api.jobs.schema  # noqa: F401 - the job tables join Base.metadata
from api.history.store import Base, make_engine
from api.settings import Settings

config = context.config
# Programmatic callers (the server, tests) pass the URL and keep their own logging.
url = config.attributes.get("url")
if url is None:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    url = Settings().HISTORY_URL


def run_migrations_online():
    """Run the migrations in one transaction (where the database has transactional DDL)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=Base.metadata)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
