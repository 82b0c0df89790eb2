"""A stand-in for ``api.ops.cli`` that tests/server/test_forked.py runs in forked children."""

import sys
import time


def main(argv):
    """Do what ``argv[0]`` says: succeed, fail with a line, exit, raise, or hang."""
    action = argv[0]
    if action == "fail":
        print("error: the database refused", file=sys.stderr)
        return 3
    if action == "exit":
        sys.exit(4)
    if action == "raise":
        raise ValueError("boom")
    if action == "hang":
        time.sleep(60)
    print("this goes nowhere")
    return 0
