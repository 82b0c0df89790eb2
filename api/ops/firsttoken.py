"""The first token: ``python -m api.ops.firsttoken`` (``make first-token``, and the container's start).

When the tokens file (``API_TOKENS_FILE``) holds no token, this creates ``operator``, an admin token,
and shows it once, framed, on stderr only: stdout carries the access log, which
``make api-start > api.log``, ``docker logs`` or journald keep. The frame is there because the
server's log follows on the same terminal (README "Two commands" quotes these lines).
"""

import contextlib
import sys
from pathlib import Path

from api.ops import cli
from api.ops.tokens import list_tokens
from api.settings import Settings

NAME = "operator"
BEGIN = "==================== first token ===================="
END = "==================== end of first token ===================="
INTRO = (
    f"No token yet: creating '{NAME}', an admin token (it reads /metrics and every caller's history).",
    "It is shown once, here, on stderr only: the line below that starts with sa_ is the token.",
)
OUTRO = "Use it as: Authorization: Bearer <token>. The server's log follows; the token is not shown again."


def ensure_first_token(path: Path) -> int:
    """Create and show the first token if the tokens file at ``path`` holds none; return the exit status."""
    try:
        if list_tokens(path):
            return 0
    except (ValueError, OSError) as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 1
    print(BEGIN, *INTRO, sep="\n", file=sys.stderr, flush=True)
    # The token command's own lines, its token included, all onto stderr.
    with contextlib.redirect_stdout(sys.stderr):
        status = cli.main(["token", "--file", str(path), "create", NAME, "--admin"])
    print(OUTRO, END, sep="\n", file=sys.stderr, flush=True)
    return status


def main() -> int:
    """Ensure the first token in the tokens file of the environment; return the exit status."""
    return ensure_first_token(Settings().TOKENS_FILE)


if __name__ == "__main__":
    sys.exit(main())
