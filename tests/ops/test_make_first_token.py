"""README "Two commands": the first token is found in `make api-start`'s output the way the README says.

The README tells a new user: on stderr, between the lines `=== first token ===` and `=== end of first
token ===`, the one line that starts with `sa_` is the token. This runs the real `make api-start`, finds
the token by that rule alone, and uses it; the block comes before the server's own log, and the token is
nowhere else in the output.
"""

import pytest

from tests.conftest import start_api
from tests.e2e import ROOT, client_context, request, wait_ready, wait_until

pytestmark = pytest.mark.e2e

BEGIN = "==================== first token ===================="
END = "==================== end of first token ===================="


def _block(stderr):
    """Return the lines between BEGIN and END on ``stderr``, or None before END is printed."""
    lines = stderr.splitlines()
    if BEGIN not in lines or END not in lines:
        return None
    return lines[lines.index(BEGIN) + 1 : lines.index(END)]


def documented_token(stderr):
    """The README's rule: the one line of the first-token block that starts with sa_."""
    block = _block(stderr)
    assert block is not None, stderr
    tokens = [line for line in block if line.startswith("sa_")]
    assert len(tokens) == 1, block
    return tokens[0]


def test_the_token_is_the_sa_line_of_the_framed_block(tmp_path):
    with start_api(tmp_path) as api:
        wait_until(lambda: _block(api.stderr.read_text()) is not None, "the first-token block on stderr")
        url = f"https://localhost:{api.port}"
        context = client_context(ROOT / "certs" / "ca.crt")
        wait_ready(url, context, api.process, api.stderr)
        stderr = api.stderr.read_text()
        token = documented_token(stderr)

        status, _, answer = request(url + "/api/v1/predict", context, body={"1": "I love it"}, token=token)
        assert (status, answer) == (200, {"1": "Positive"})

        # The block comes first: the server's log lines (JSON) follow it, never split it.
        lines = stderr.splitlines()
        assert not any(line.startswith("{") for line in lines[: lines.index(END)])
        assert any(line.startswith("{") for line in lines[lines.index(END) :])
        # Shown once: no other line of either stream holds it.
        everything = api.stdout.read_text().splitlines() + lines
        assert [line for line in everything if token in line] == [token]
