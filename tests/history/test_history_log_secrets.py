"""An INSERT the database refuses after its parameters are bound logs no tweet text, key or token.

The refusals come from the database itself, once the row is bound: a CHECK constraint, a column
too short for the text, a trigger that raises, a NOT NULL the row breaks (PostgreSQL's own message
then quotes the whole failing row). Each runs against SQLite, MariaDB and PostgreSQL where it can.
"""

import logging
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from api import constants as c
from api.history.store import upgrade
from tests.history.helpers import fresh_database, post

SECRET_TWEETS = {"key-marmot-1": "SECRET tweet about a blue heron", "key-marmot-2": "SECRET second one"}

# Statements that make the predictions table refuse a row once its values are bound.
CHECK = ["ALTER TABLE predictions ADD CONSTRAINT no_text CHECK (text IS NULL)"]
REFUSALS = {
    ("sqlite", "check"): ["ALTER TABLE predictions ADD COLUMN audit TEXT CHECK (text IS NULL)"],
    ("sqlite", "trigger"): [
        "CREATE TRIGGER refuse BEFORE INSERT ON predictions BEGIN SELECT RAISE(ABORT, 'refused'); END"
    ],
    ("mariadb", "check"): CHECK,
    ("mariadb", "too long"): ["ALTER TABLE predictions MODIFY text VARCHAR(8)"],
    ("mariadb", "not null"): ["ALTER TABLE predictions ADD COLUMN audit VARCHAR(8) NOT NULL"],
    ("mariadb", "trigger"): [
        "CREATE TRIGGER refuse BEFORE INSERT ON predictions FOR EACH ROW"
        " SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test'"
    ],
    ("postgres", "check"): CHECK,
    ("postgres", "too long"): ["ALTER TABLE predictions ALTER COLUMN text TYPE varchar(8)"],
    # PostgreSQL's message for this one goes on to quote the whole failing row.
    ("postgres", "not null"): ["ALTER TABLE predictions ADD COLUMN audit varchar(8) NOT NULL"],
    ("postgres", "trigger"): [
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT ON predictions FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


@contextmanager
def database(kind, tmp_path):
    """Yield the URL of an empty database of ``kind``: a SQLite file or a fresh server database."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    with fresh_database(kind) as url:
        yield url


def _case(kind, refusal):
    """One parameter of the test, marked with the server it needs."""
    marks = [] if kind == "sqlite" else [getattr(pytest.mark, kind)]
    return pytest.param(kind, refusal, marks=marks, id=f"{kind}-{refusal.replace(' ', '-')}")


@pytest.mark.parametrize(("kind", "refusal"), [_case(*key) for key in REFUSALS])
def test_a_refused_insert_logs_no_tweet_text_key_or_token(
    make_app, auth_header, tokens, tmp_path, kind, refusal, caplog
):
    with database(kind, tmp_path) as url:
        upgrade(url)
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for statement in REFUSALS[kind, refusal]:
                conn.exec_driver_sql(statement)
        engine.dispose()

        app = make_app(HISTORY_URL=url, HISTORY_TEXT=True)
        history = app.extensions[c.EXT_HISTORY]
        # The first line of defence: SQLAlchemy's own messages never carry the bound values.
        assert history.store.engine.hide_parameters is True
        client = app.test_client()
        try:
            with caplog.at_level(logging.DEBUG, logger="api.history"):
                assert post(client, auth_header, "?detail=true", SECRET_TWEETS).status_code == 200
                history.flush()
            state = client.get("/readyz").json["history"]
            assert (state["ok"], state["failures"]) == (False, 1)  # the database did refuse the row
            warnings = [r for r in caplog.records if r.getMessage().startswith("history write failed")]
            assert len(warnings) == 1, caplog.text
            secrets = [*SECRET_TWEETS.values(), *SECRET_TWEETS, tokens[1], "SECRET", "heron", "marmot"]
            assert [secret for secret in secrets if secret in caplog.text] == [], caplog.text
        finally:
            history.store.dispose()
