"""Prediction history: the rows written, store=false, text, retention, large batches, migrations.

Each test runs against SQLite, the machine's MariaDB and its PostgreSQL, in a database of its own.
"""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from alembic import command

from api import constants as c
from api.history import store as history_store
from api.history.engine import SQLITE_ROWS_PER_STATEMENT
from api.history.schema import Prediction
from tests.history import helpers as history_helpers
from tests.history.helpers import TWEETS, post, stored

# The shared fixtures, found by pytest under these names (history_app needs db_url).
db_url = history_helpers.db_url
history_app = history_helpers.history_app


def test_rows_have_the_request_key_label_score_model_version_token_and_utc_time(
    history_app, auth_header, tokens
):
    app = history_app()
    client = app.test_client()
    before = datetime.now(UTC)
    detailed = post(client, auth_header, "?model=all&detail=true").get_json()
    rows = stored(app)
    versions = {
        info["name"]: info["version"]
        for info in client.get("/api/v1/models", headers=auth_header).json["models"]
    }
    assert len(rows) == 4  # 2 tweets x 2 models
    for row in rows:
        answer = detailed[row["tweet_id"]][row["model"]]
        assert (row["label"], row["version"], row["token"]) == (
            answer["label"],
            versions[row["model"]],
            "alice",
        )
        assert row["score"] == pytest.approx(answer["score"])
        assert row["text"] is None  # off by default
        created = row["created"].replace(tzinfo=UTC)
        assert before - timedelta(seconds=1) <= created <= datetime.now(UTC)
        assert tokens[1] not in repr(row)  # the token's name, never the token
    assert {(row["tweet_id"], row["model"]) for row in rows} == {(k, m) for k in TWEETS for m in versions}


def test_store_false_keeps_a_request_out_of_the_history(history_app, auth_header):
    app = history_app()
    client = app.test_client()
    assert post(client, auth_header, "?store=false", {"secret": "do not keep me"}).status_code == 200
    assert post(client, auth_header, "?store=true", {"kept": "keep me"}).status_code == 200
    assert post(client, auth_header, "", {"default": "kept by default"}).status_code == 200
    assert [row["tweet_id"] for row in stored(app)] == ["kept", "default"]


def test_tweet_text_is_stored_only_when_the_operator_enables_it(history_app, auth_header):
    off = history_app()
    post(off.test_client(), auth_header)
    assert [row["text"] for row in stored(off)] == [None, None]
    listed = off.test_client().get("/api/v1/predictions", headers=auth_header).json["predictions"]
    assert all("text" not in row for row in listed)

    on = history_app(HISTORY_TEXT=True)
    post(on.test_client(), auth_header)
    texts = [row["text"] for row in stored(on)]
    assert texts[-2:] == list(TWEETS.values())  # emoji included (utf8mb4 on MariaDB)
    listed = on.test_client().get("/api/v1/predictions", headers=auth_header).json["predictions"]
    assert [row["text"] for row in listed[:2]] == list(reversed(TWEETS.values()))


def test_retention_keeps_only_the_newest_max_rows_on_write(history_app, auth_header):
    app = history_app(HISTORY_MAX_ROWS=5)
    app.extensions[c.EXT_HISTORY].store.retention_interval = 0  # on every write, for the test
    client = app.test_client()
    for i in range(4):
        post(client, auth_header, body={f"r{i}a": "good", f"r{i}b": "bad"})
        stored(app)  # one write per request, so the order of the rows is the order of the requests
    assert [row["tweet_id"] for row in stored(app)] == ["r1b", "r2a", "r2b", "r3a", "r3b"]


def test_retention_drops_rows_older_than_max_age(history_app, auth_header):
    app = history_app(HISTORY_MAX_AGE_DAYS=30)
    history = app.extensions[c.EXT_HISTORY]
    client = app.test_client()
    now = datetime.now(UTC)
    for age_days, key in ((45, "old"), (29, "recent")):
        with time_machine.travel(now - timedelta(days=age_days), tick=True):
            post(client, auth_header, body={key: "a tweet"})
            stored(app)
    post(client, auth_header, body={"new": "a tweet"})
    assert [row["tweet_id"] for row in stored(app)] == ["old", "recent", "new"]
    history.store.enforce_retention()
    assert [row["tweet_id"] for row in stored(app)] == ["recent", "new"]


def test_a_batch_larger_than_one_statement_is_stored_whole_and_in_order(history_app, auth_header):
    # 1000 tweets x 2 models: SQLite writes them in several multi-row INSERTs.
    app = history_app()
    body = {f"t{i}": f"tweet number {i} {'good' if i % 3 else 'bad'}" for i in range(1000)}
    answer = post(app.test_client(), auth_header, "?model=all", body=body).get_json()
    rows = stored(app)
    assert len(rows) == 2000 > SQLITE_ROWS_PER_STATEMENT
    assert [row["tweet_id"] for row in rows if row["model"] == "freqlr"] == list(body)
    assert all(row["label"] == answer[row["tweet_id"]][row["model"]] for row in rows)


def test_migration_0002_keeps_the_rows_and_leaves_one_secondary_index(db_url):
    config = history_store.alembic_config(db_url)
    command.upgrade(config, "0001")
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(Prediction.__table__),
                [
                    {"created": datetime(2026, 1, 1), "token": "alice", "tweet_id": "a", "label": "Positive"}
                    | {"score": 0.9, "model": "freqlr", "version": "v1"},
                ],
            )

        def indexes():
            return {index["name"] for index in sa.inspect(engine).get_indexes("predictions")}

        assert indexes() == {"ix_predictions_token_created", "ix_predictions_created"}
        command.upgrade(config, "head")
        engine.dispose()  # the inspector caches; PostgreSQL's DDL needs other connections closed
        assert indexes() == {"ix_predictions_token_id", "ix_predictions_token_tweet"}  # 0004's for feedback
        with engine.connect() as conn:
            assert conn.execute(sa.select(Prediction.tweet_id)).scalars().all() == ["a"]
        command.downgrade(config, "0001")
        engine.dispose()
        assert indexes() == {"ix_predictions_token_created", "ix_predictions_created"}
    finally:
        engine.dispose()
