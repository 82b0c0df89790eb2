"""``python -m api jobs worker|migrate``: the operator's job commands that are not the HTTP client."""

import sqlite3

from api.constants import MIGRATE_UNUSABLE_URL
from api.ops import cli


def test_jobs_worker_hands_every_argument_after_it_to_the_worker(monkeypatch):
    from api.jobs import worker

    seen = []
    monkeypatch.setattr(worker, "main", lambda argv: seen.append(argv) or 7)
    assert cli.main(["jobs", "worker", "--loglevel", "debug", "-n", "w1@%h"]) == 7
    assert seen == [["--loglevel", "debug", "-n", "w1@%h"]]


def test_jobs_migrate_makes_the_job_tables_in_the_job_database(monkeypatch, tmp_path, capsys):
    database = tmp_path / "jobs.db"
    monkeypatch.setenv("API_JOBS_DATABASE_URL", f"sqlite:///{database}")
    assert cli.main(["jobs", "migrate"]) == 0
    assert "job database schema is current" in capsys.readouterr().err
    with sqlite3.connect(database) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"jobs", "job_chunks"} <= tables


def test_jobs_migrate_of_an_unusable_url_refuses_naming_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("API_JOBS_DATABASE_URL", "nosuchdb://user:secret@127.0.0.1/jobs")
    assert cli.main(["jobs", "migrate"]) == MIGRATE_UNUSABLE_URL
    err = capsys.readouterr().err
    assert "API_JOBS_DATABASE_URL" in err and "secret" not in err
