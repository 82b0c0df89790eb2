"""``python -m api token|history|jobs ...``: the operator's commands (api/ops/cli.py, api/ops/jobs_cli.py)."""

import sys

from api.ops.cli import main

if __name__ == "__main__":
    sys.exit(main())
