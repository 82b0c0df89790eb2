"""Prediction history: walking GET /api/v1/predictions with ?before=, a page at a time, and its query plans.

On SQLite, MariaDB and PostgreSQL (the db_url fixture): every row once, newest first, never another
token's, ``next`` null on the last page; an invalid cursor is a 400 naming ``before``; each page is one
ranged walk down an index (EXPLAIN).
"""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from api import constants as c
from api.history.reads import listing
from api.history.schema import Prediction
from api.history.store import Store, upgrade
from api.ops.tokens import create_token
from tests.history import helpers as history_helpers
from tests.history.helpers import post, stored

# The shared fixtures, found by pytest under these names (history_app needs db_url).
db_url = history_helpers.db_url
history_app = history_helpers.history_app

# alice's requests and their tweets; bob's requests come between hers, so her row ids have gaps.
REQUESTS = 4
PER_REQUEST = 6
# Page sizes: one row, sizes that do and do not divide her 24 rows, all of them at once, more than that.
PAGE_SIZES = (1, 5, 6, 24, 1000)
# Rows the query plan tests store: enough for a planner to prefer an index to reading the table.
PLAN_ROWS = 20_000
BEFORE_MAX = 2**63 - 1
# alice's rows in the walk beyond the API's largest page.
BEYOND = 2345


def _walk(client, header, limit):
    """Follow ``next`` from the newest row in pages of ``limit``; return the pages' (token, id) lists."""
    pages, before = [], None
    for _ in range(REQUESTS * PER_REQUEST * 3 + 2):  # bounded: more pages than any walk here has
        query = f"?limit={limit}" + ("" if before is None else f"&before={before}")
        response = client.get(f"/api/v1/predictions{query}", headers=header)
        assert response.status_code == 200, response.json
        body = response.json
        assert len(body["predictions"]) <= limit
        pages.append([(row["token"], row["id"]) for row in body["predictions"]])
        before = body["next"]
        if before is None:
            return pages
        assert isinstance(before, int) and before >= 1
    raise AssertionError("the walk never reached a page whose next is null")


@pytest.fixture
def walked(history_app, tokens):
    """An app holding alice's REQUESTS x PER_REQUEST rows with bob's between; its client and headers."""
    root = create_token(tokens[0], "root", admin=True)
    bob = create_token(tokens[0], "bob")
    app = history_app()
    client = app.test_client()
    headers = {
        name: {"Authorization": f"Bearer {token}"}
        for name, token in (("alice", tokens[1]), ("bob", bob), ("root", root))
    }
    for number in range(REQUESTS):
        post(client, headers["alice"], body={f"a{number}-{i}": "lovely day" for i in range(PER_REQUEST)})
        post(client, headers["bob"], body={f"b{number}": "awful day"})
    rows = stored(app)
    return client, headers, rows


def test_walking_with_before_gives_every_row_once_newest_first(walked):
    client, headers, rows = walked
    newest_first = [(row["token"], row["tweet_id"]) for row in reversed(rows)]
    hers = [row for row in newest_first if row[0] == "alice"]
    assert len(hers) == REQUESTS * PER_REQUEST
    for limit in PAGE_SIZES:
        pages = _walk(client, headers["alice"], limit)
        assert [row for page in pages for row in page] == hers, limit
        # Full pages until the last, which is not empty: next is null exactly when no row follows.
        assert all(len(page) == limit for page in pages[:-1])
        assert 1 <= len(pages[-1]) <= limit
    for limit in (1, 7):
        assert [row for page in _walk(client, headers["root"], limit) for row in page] == newest_first
        assert [row for page in _walk(client, headers["bob"], limit) for row in page] == [
            row for row in newest_first if row[0] == "bob"
        ]


def test_a_cursor_from_another_tokens_rows_shows_only_the_callers_older_rows(walked):
    client, headers, rows = walked
    bobs = [row["id"] for row in rows if row["token"] == "bob"]
    cursor = bobs[1]  # bob's second row: alice has rows before and after it
    response = client.get(f"/api/v1/predictions?limit=1000&before={cursor}", headers=headers["alice"])
    assert response.status_code == 200
    older = [row["tweet_id"] for row in reversed(rows) if row["token"] == "alice" and row["id"] < cursor]
    assert [row["id"] for row in response.json["predictions"]] == older
    assert response.json["next"] is None


def test_the_largest_cursor_lists_from_the_newest_row_and_the_smallest_lists_nothing(walked):
    client, headers, rows = walked
    newest = client.get("/api/v1/predictions?limit=3", headers=headers["root"]).json
    largest = client.get(f"/api/v1/predictions?limit=3&before={BEFORE_MAX}", headers=headers["root"])
    assert largest.status_code == 200
    assert largest.json == newest
    assert newest["next"] == rows[-3]["id"]
    smallest = client.get("/api/v1/predictions?before=1", headers=headers["root"])
    assert smallest.status_code == 200
    assert smallest.json == {"predictions": [], "next": None}


def test_the_walk_goes_beyond_the_newest_1000_rows(history_app, db_url, tokens):
    upgrade(db_url)
    app = history_app()
    created = datetime.now(UTC)
    # BEYOND of alice's rows, one in five of the table's: more than two pages of the largest limit.
    rows = [
        {"created": created, "token": "alice" if i % 5 == 0 else "bob", "tweet_id": f"t{i}",
         "label": "Positive", "score": 0.9, "model": "freqlr", "version": "v1"}
        for i in range(BEYOND * 5)
    ]  # fmt: skip
    with app.extensions[c.EXT_HISTORY].store.engine.begin() as conn:
        conn.execute(sa.insert(Prediction), rows)
    header = {"Authorization": f"Bearer {tokens[1]}"}
    pages = _walk(app.test_client(), header, 1000)
    assert [len(page) for page in pages] == [1000, 1000, BEYOND - 2000]
    expected = [("alice", row["tweet_id"]) for row in reversed(rows) if row["token"] == "alice"]
    assert [row for page in pages for row in page] == expected


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("?before=0", "before"),
        ("?before=-1", "before"),
        ("?before=", "before"),
        ("?before=abc", "before"),
        ("?before=1.5", "before"),
        ("?before=%2B5", "before"),  # +5
        ("?before=%EF%BC%95", "before"),  # a full-width 5: a digit to str.isdigit, not ASCII
        (f"?before={BEFORE_MAX + 1}", "before"),
        ("?before=0000000000000000000001", "before"),  # longer than the largest cursor
        ("?before=" + "9" * 5000, "before"),  # int() refuses more than 4300 digits: never reached
        ("?limit=" + "9" * 5000, "limit"),
        ("?limit=10&before=1e3", "before"),
        ("?after=5", "after"),
    ],
)
def test_an_invalid_cursor_is_a_400_naming_it(make_app, auth_header, tmp_path, query, key):
    client = make_app(HISTORY_URL=f"sqlite:///{tmp_path / 'h.db'}").test_client()
    response = client.get(f"/api/v1/predictions{query}", headers=auth_header)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_parameter"
    assert response.json["error"]["key"] == key


@pytest.fixture
def planned(db_url):
    """A migrated history of PLAN_ROWS rows, most alice's, 1% rare's, with the database's statistics."""
    upgrade(db_url)
    store = Store(db_url)
    created = datetime.now(UTC)
    rows = [
        {"created": created, "token": "rare" if i % 100 == 0 else "bob" if i % 4 == 0 else "alice",
         "tweet_id": f"t{i}",
         "label": "Positive", "score": 0.9, "model": "freqlr", "version": "v1"}
        for i in range(PLAN_ROWS)
    ]  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(sa.insert(Prediction), rows)
    analyze = {"sqlite": "ANALYZE", "mysql": "ANALYZE TABLE predictions", "postgresql": "ANALYZE predictions"}
    with store.engine.begin() as conn:
        conn.exec_driver_sql(analyze[store.backend])
    yield store
    store.dispose()


def _plan(store, query):
    """Return the database's plan of ``query`` (its EXPLAIN) as text, one line per step."""
    # The statement as the store sends it, its values bound as parameters (with their casts).
    compiled = query.compile(store.engine)
    params = (
        tuple(compiled.params[n] for n in compiled.positiontup or ())
        if compiled.positional
        else compiled.params
    )
    explain = {"sqlite": "EXPLAIN QUERY PLAN ", "mysql": "EXPLAIN ", "postgresql": "EXPLAIN "}
    with store.engine.connect() as conn:
        result = conn.exec_driver_sql(explain[store.backend] + str(compiled), params)
        return "\n".join(" | ".join(str(value) for value in row) for row in result)


@pytest.mark.parametrize("token", [None, "alice", "rare"], ids=["admin", "most-rows", "few-rows"])
@pytest.mark.parametrize("before", [None, PLAN_ROWS // 2, 2**40], ids=["newest", "middle", "past-int4"])
def test_a_page_is_one_ranged_walk_down_an_index(planned, token, before):
    plan = _plan(planned, listing(51, token, before))
    index = "ix_predictions_token_id" if token else None
    if planned.backend == "sqlite":
        # SEARCH: a range of the index; never a TEMP B-TREE (a sort). SCAN only of the whole primary key
        # from its end, for the admin's first page, which LIMIT stops.
        assert "TEMP B-TREE" not in plan, plan
        if before is None and index is None:
            assert plan.endswith("SCAN predictions"), plan
        else:
            assert "SCAN" not in plan and "SEARCH predictions USING" in plan, plan
            assert (f"USING INDEX {index}" if index else "USING INTEGER PRIMARY KEY") in plan, plan
    elif planned.backend == "postgresql":
        # For a token it expects to hold most rows, the primary key, skipping others' rows (its statistics).
        used = ("predictions_pkey",) if token is None else (index, "predictions_pkey")
        walk = plan.splitlines()[1]
        assert "Index Scan Backward using" in walk and walk.split(" using ")[1].split()[0] in used, plan
        assert token != "rare" or index in walk, plan
        assert before is None or ("Index Cond: " in plan and "id < " in plan), plan
        assert "Seq Scan" not in plan and "Sort" not in plan, plan
    else:
        assert "filesort" not in plan.lower() and " | ALL | " not in plan, plan
        assert f" | {index or 'PRIMARY'} | " in plan, plan
        # A range of (token, id) or of the key, not every row of the token (ref): the cursor bounds the walk.
        assert before is None or " | range | " in plan, plan
