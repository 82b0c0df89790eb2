"""A start-up migration that hangs (blocked by a lock the test holds) is given up on after
API_HISTORY_MIGRATE_TIMEOUT: the server starts without it, says so in one error line, and the
history writer migrates once the database answers."""

import pytest
import sqlalchemy as sa

from tests.e2e import BODY, LABELS, log_records, predict, running_server, wait_until
from tests.history.helpers import fresh_database

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

GIVE_UP_S = 2


def _stored_rows(url):
    """Return how many predictions ``url`` holds; 0 while its table does not exist yet."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM predictions").scalar()
    except sa.exc.ProgrammingError:
        return 0
    finally:
        engine.dispose()


def test_a_migration_blocked_by_a_lock_is_given_up_and_the_server_starts_without_it(tmp_path):
    with fresh_database("postgres") as url:
        engine = sa.create_engine(url)
        holder = engine.connect()
        try:
            # Alembic's first read is of its version table: a lock on it holds every migration.
            holder.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
            holder.commit()
            holder.exec_driver_sql("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")  # until rollback
            env = {"API_HISTORY_URL": url, "API_HISTORY_MIGRATE_TIMEOUT": str(GIVE_UP_S)}
            with running_server(tmp_path, env=env, workers=1) as server:
                gave_up = [
                    record
                    for record in log_records(server.log())
                    if record["message"].startswith("history migration did not finish")
                ]
                assert [(r["level"], r["logger"]) for r in gave_up] == [("ERROR", "gunicorn.error")]
                assert (
                    f"in {GIVE_UP_S} s (API_HISTORY_MIGRATE_TIMEOUT); starting without it"
                    in gave_up[0]["message"]
                )
                assert predict(server) == (200, LABELS)  # served, the migration still blocked

                holder.rollback()  # the database answers again
                wait_until(lambda: _stored_rows(url) == len(BODY), "the writer migrated and stored the rows")
        finally:
            holder.close()
            engine.dispose()
