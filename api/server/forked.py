"""An operator command run in a child forked from the Gunicorn master, seen as the Popen it replaces.

``python -m api history migrate`` as a new interpreter spent ~0.5 s importing Python, pydantic and the
settings again before migrating (0.9-1.3 s in all, the longest wait of the master's start); forked,
the child has them already and only imports SQLAlchemy and Alembic (0.5-0.7 s). The master has no
thread of its own yet when it forks (``on_starting``), and never imports what the child does: the
command's module is named, as ``python -m`` named it, and imported in the child only.
"""

import importlib
import os
import selectors
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence


class ForkedCommand:
    """``module.main(argv)`` in a forked child: its exit status and standard error, as Popen gives them."""

    def __init__(self, module: str, argv: Sequence[str]) -> None:
        self.module = module
        self.args = list(argv)
        self.returncode: int | None = None
        reading, writing = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child's lines run in another process
            os.close(reading)
            _run(module, self.args, writing)
        os.close(writing)
        self._stderr = reading
        self._chunks: list[bytes] = []

    def poll(self) -> int | None:
        """Return the exit status if the child has exited, else None."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Read standard error to its end, wait for the exit; subprocess.TimeoutExpired after ``timeout`` s.

        Returns ``("", stderr)``: standard output goes nowhere, as the migrations never read it.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._stderr >= 0:
            with selectors.DefaultSelector() as selector:
                selector.register(self._stderr, selectors.EVENT_READ)
                while True:
                    left = None if deadline is None else max(0.0, deadline - time.monotonic())
                    if not selector.select(left):
                        raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
                    chunk = os.read(self._stderr, 65536)
                    if not chunk:
                        break
                    self._chunks.append(chunk)
            os.close(self._stderr)
            self._stderr = -1
        _, status = os.waitpid(self.pid, 0)
        self.returncode = os.waitstatus_to_exitcode(status)
        return "", b"".join(self._chunks).decode(errors="replace")

    def kill(self) -> None:
        """Send SIGKILL."""
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)


def _run(module: str, argv: list[str], stderr: int) -> None:  # pragma: no cover - in the forked child
    """In the child: run the command, standard error to ``stderr``, standard output to nowhere; exit."""
    status = 1
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.dup2(stderr, 2)
        # New streams on those descriptors: the inherited ones may write elsewhere (a test's capture).
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115  # until os._exit
        sys.stderr = open(2, "w", errors="backslashreplace", closefd=False)  # noqa: SIM115
        status = importlib.import_module(module).main(argv)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        # The same last line a new interpreter would print for an uncaught error.
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
