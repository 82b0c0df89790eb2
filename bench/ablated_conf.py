"""Gunicorn settings of make bench's ablation (bench/ablation.py): the server's, less the access log if named.

Every setting and hook is gunicorn.conf.py's own, read from it so that the two cannot drift apart;
with "access" among the parts left out, no access log is written (Gunicorn's ``accesslog = None``).
"""

import os
import runpy
from pathlib import Path

from bench.ablation import parts
from model.paths import PROJECT_ROOT

SERVER_CONF = Path(PROJECT_ROOT) / "gunicorn.conf.py"

_server = runpy.run_path(str(SERVER_CONF))
globals().update({name: value for name, value in _server.items() if not name.startswith("__")})
if "access" in parts(os.environ):
    accesslog = None
