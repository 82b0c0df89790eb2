"""Retention: a job, its upload and its result are deleted once its ``expires`` time has passed.

Swept from the API's job requests and from the workers after a job finishes, at most once
a minute each (a sweep costs one indexed query when nothing expired). A folder without a
record (an upload cut off by a crash, a record deleted while its files could not be) is
deleted too, once older than the retention period.
"""

from datetime import datetime, timedelta

from api.jobs.files import JobFiles
from api.jobs.store import JobStore

# How often a process sweeps at most, unless forced.
SWEEP_INTERVAL = timedelta(minutes=1)


class Retention:
    """The sweeps of one process over one job store and its files."""

    def __init__(self, store: JobStore, files: JobFiles, period: timedelta) -> None:
        self.store = store
        self.files = files
        self.period = period
        self._swept_at: datetime | None = None

    def sweep(self, now: datetime, force: bool = False) -> int:
        """Delete what expired by ``now``; return how many jobs (and recordless folders) were deleted.

        Does nothing within SWEEP_INTERVAL of this process's last sweep, unless ``force``.
        """
        if not force and self._swept_at is not None and timedelta(0) <= now - self._swept_at < SWEEP_INTERVAL:
            return 0
        self._swept_at = now
        deleted = 0
        for job_id in self.store.expired(now):
            # An active job is cancelled first: its workers stop at their next check, score nothing more.
            self.store.cancel(job_id)
            # Files before the record: a failure between leaves a record that the next sweep finds again.
            self.files.remove(job_id)
            self.store.delete(job_id)
            deleted += 1
        return deleted + self._orphans(now)

    def _orphans(self, now: datetime) -> int:
        """Delete the job folders older than the retention period that have no record; return how many."""
        cutoff = (now - self.period).timestamp()
        removed = 0
        for job_id in self.files.job_ids():
            try:
                changed = self.files.folder(job_id).stat().st_mtime
            except FileNotFoundError:
                continue  # deleted meanwhile, by another process's sweep
            if changed < cutoff and self.store.get(job_id) is None:
                self.files.remove(job_id)
                removed += 1
        return removed
