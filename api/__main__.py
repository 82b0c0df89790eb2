"""``python -m api token|history ...``: the operator's commands (api/ops/cli.py)."""

import sys

from api.ops.cli import main

if __name__ == "__main__":
    sys.exit(main())
