"""``python -m api jobs worker``: one job worker process, a Celery worker on the jobs' queue.

One process, one task at a time (``--pool solo``): scoring is CPU-bound Python, so a machine runs
one worker per core, each its own process (``make jobs-worker`` once per core, or a container per
core). Any Celery worker option may follow (``--hostname``, ``--max-tasks-per-child``...); these
are the worker's own:

- ``--metrics-port N`` serves its Prometheus metrics on 127.0.0.1:N (``--metrics-address`` to change);
- ``--nice N`` lowers its CPU priority (the embedded worker's, so that requests come first).

Log lines are JSON, as the server's, with the job's id (api/jobs/logs.py); the broker's password is
never written.
"""

import argparse
import ctypes
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from types import FrameType
from typing import Any

from celery import Celery, signals
from celery.apps import worker as celery_worker
from celery.exceptions import WorkerShutdown

from api.jobs import logs
from api.jobs.celeryapp import make_celery, safe_broker_url
from api.jobs.files import JobFiles
from api.jobs.metrics import DEFAULT_ADDRESS
from api.jobs.retention import Retention
from api.jobs.store import JobStore
from api.jobs.tasks import build_runner, register
from api.settings import Settings, SettingsError, load_settings

# By name: run as ``python -m api.jobs.worker`` (the embedded worker), __name__ is "__main__".
log = logging.getLogger("api.jobs.worker")

# prctl(2)'s option: the signal this process gets when the thread that started it ends.
PR_SET_PDEATHSIG = 1
# Where prctl is not to be had: how often a watcher thread checks that the parent lives (seconds).
PARENT_POLL = 1.0
EXIT_SETTINGS = 2


def _parser() -> argparse.ArgumentParser:
    """Build the parser of this command's own options (the rest goes to Celery's worker)."""
    parser = argparse.ArgumentParser(
        prog="python -m api jobs worker",
        description="Run one job worker (one task at a time); other options go to Celery's worker.",
    )
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port"
    )
    parser.add_argument("--metrics-address", default=DEFAULT_ADDRESS, help="address of --metrics-port")
    parser.add_argument("--nice", type=int, default=0, choices=range(20), metavar="0-19", help="CPU niceness")
    # The embedded worker's: exit with the server process that started it (api/jobs/embedded.py).
    parser.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a job worker until it is stopped (SIGTERM: after its current task); return its exit status."""
    args, celery_args = _parser().parse_known_args(argv)
    if args.parent is not None and not die_with_parent(args.parent):
        return 0  # the server is already gone
    if args.nice:
        # An absolute value, never below the current one (lowering it needs privileges).
        os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0), args.nice))
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    logs.configure(settings.LOG_LEVEL)
    app = make_celery(settings)
    store = JobStore.from_settings(settings)
    files = JobFiles(settings.JOBS_DIR)
    retention = Retention(store, files, timedelta(hours=settings.JOBS_RETENTION_HOURS))
    runner = register(app, settings, build_runner(app, settings, store, files, retention.sweep))
    if args.metrics_port is not None:
        runner.metrics.serve(args.metrics_port, args.metrics_address)
    _keep_logging_ours(app, settings)
    _without_event_loop(app)
    status = app.start(_celery_argv(settings, celery_args))
    store.dispose()
    return int(status or 0)


def _celery_argv(settings: Settings, extra: list[str]) -> list[str]:
    """Return Celery's command line: a solo worker on the jobs' queue, without broadcast chatter."""
    return [
        "--quiet",  # no banner: the log's first line says what the banner would
        "worker",
        "--pool=solo",
        "--concurrency=1",
        f"--queues={settings.JOBS_QUEUE}",
        f"--loglevel={settings.LOG_LEVEL.upper()}",
        # Mingle, gossip and heartbeats are broadcasts between workers that the jobs never use.
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        f"--hostname=jobs-{os.getpid()}@%h",
        *extra,
    ]


def _without_event_loop(app: Celery) -> None:
    """Make the worker read its broker in a plain loop: a solo worker otherwise stalls for up to 10 s.

    With RabbitMQ (and Redis), Celery's event loop sometimes takes the next message and runs its task
    from its queue of ready callbacks, where the task's acknowledgement then waits for the loop's next
    wake-up (up to 10 s) before it is sent; with one message at a time (prefetch 1), the broker sends
    nothing meanwhile. Measured on RabbitMQ, 60 tasks of 80 ms: 80 to 111 s in the event loop, 5.0 s
    in the plain loop (``connection.drain_events``), which Celery already uses for the embedded broker.
    """

    class JobsWorker(app.Worker):  # Celery makes its worker class per app
        """Celery's worker, without the event loop."""

        def should_use_eventloop(self) -> bool:
            """Never: see _without_event_loop."""
            return False

        def install_platform_tweaks(self, worker: Any) -> None:
            """Celery's signal handlers, minus their lines on stdout, which is the server's JSON log."""
            super().install_platform_tweaks(worker)
            # "worker: Warm shutdown (MainProcess)" and the like are printed, not logged: the same
            # shutdowns, quiet (SIGINT warm too, as Ctrl-C reaches every process of the server's group).
            quiet = partial(celery_worker._shutdown_handler, worker, verbose=False)
            quiet(sig="SIGTERM", how="Warm")
            quiet(sig="SIGINT", how="Warm", exitcode=1)
            quiet(sig="SIGQUIT", how="Cold", callback=celery_worker.on_cold_shutdown, exitcode=1)

    app.Worker = JobsWorker


def _keep_logging_ours(app: Celery, settings: Settings) -> None:
    """Keep Celery from replacing the JSON log set-up; once the worker consumes, say so and stop promptly."""

    def keep(**_: Any) -> None:
        """A receiver of setup_logging: its presence tells Celery to configure no logging."""

    def ready(**_: Any) -> None:
        """Say the worker is up, and where it takes its tasks from (the URL without its password)."""
        _stop_promptly_when_idle()
        log.info(
            "jobs worker ready: pid %d, broker %s, queue %s",
            os.getpid(),
            safe_broker_url(settings),
            settings.JOBS_QUEUE,
        )

    signals.setup_logging.connect(keep, weak=False, dispatch_uid="api.jobs.worker.keep")
    signals.worker_ready.connect(ready, weak=False, dispatch_uid="api.jobs.worker.ready")


def _stop_promptly_when_idle() -> None:
    """Make SIGTERM stop an idle worker at once, and a busy one after its task, as Celery's warm shutdown.

    Celery's own handler only marks the worker to stop; an idle worker notices it when its event loop
    next wakes, up to 10 s later (measured: 7 s on the embedded broker, 11 s on RabbitMQ), which the
    server's own stop would wait for. Idle, nothing is lost by stopping at once: a message prefetched
    for later (a deferred chunk) goes back to the broker as the worker closes its connection.
    """
    celery_handler = signal.getsignal(signal.SIGTERM)
    busy = threading.Event()
    signals.task_prerun.connect(lambda **_: busy.set(), weak=False, dispatch_uid="api.jobs.worker.busy")
    signals.task_postrun.connect(lambda **_: busy.clear(), weak=False, dispatch_uid="api.jobs.worker.idle")

    def on_term(signum: int, frame: FrameType | None) -> None:
        """Celery's warm shutdown; and, when no task runs, leave the event loop now."""
        if callable(celery_handler):
            celery_handler(signum, frame)
        if not busy.is_set():
            raise WorkerShutdown(0)

    signal.signal(signal.SIGTERM, on_term)


def die_with_parent(parent: int) -> bool:
    """Arrange for SIGTERM when process ``parent`` ends; return False if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) == 0
    except (OSError, AttributeError):  # not Linux
        armed = False
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    # Checked after arming: a parent that died before would never send the signal.
    return os.getppid() == parent


def _watch_parent(parent: int) -> None:
    """Where prctl is missing: SIGTERM this process once its parent is gone (checked every PARENT_POLL s)."""
    stop = threading.Event()
    while not stop.wait(PARENT_POLL):
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
            return


if __name__ == "__main__":
    sys.exit(main())
