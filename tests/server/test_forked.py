"""The master's migrations run as forked children (api/server/forked.py), seen as the Popen they replace."""

import subprocess

import pytest

from api.server.forked import ForkedCommand

CLI = "tests.server.forked_cli"


@pytest.mark.parametrize(
    ("action", "status", "last_line"),
    [
        ("ok", 0, None),
        ("fail", 3, "error: the database refused"),
        ("exit", 4, None),
        ("raise", 1, "ValueError: boom"),
    ],
)
def test_the_status_and_standard_error_are_the_commands(action, status, last_line):
    command = ForkedCommand(CLI, [action])
    stdout, stderr = command.communicate(timeout=30)
    assert (command.returncode, command.poll(), stdout) == (status, status, "")
    assert (stderr.strip().splitlines() or [None])[-1] == last_line


def test_a_command_that_hangs_times_out_and_is_killed():
    command = ForkedCommand(CLI, ["hang"])
    assert command.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        command.communicate(timeout=0.3)
    command.kill()
    command.communicate()
    assert command.returncode == -9
