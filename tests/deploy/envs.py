"""What a container's environment becomes, and the Settings the code then reads from it.

Compose: a service's shell command (the one that builds URLs from secret files) is run as Compose
would run it, with fake secret files and a fake program in place of the one it execs, which prints
the environment and arguments it was given. Kubernetes: a container's envFrom and env are resolved
from the ConfigMap and the example Secrets (placeholders without their REPLACE_WITH_ prefix).
"""

import contextlib
import functools
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from unittest import mock

from api.jobs import worker
from api.settings import Settings
from tests.deploy.policy import find

PLACEHOLDER = "REPLACE_WITH_"
SECRETS_DIR = "/run/secrets/"
# Settings the API and the job workers must read alike: where tasks go, where state and files are,
# where and how the work budget is counted, which models a job may name.
JOB_SETTINGS = (
    "JOBS_BROKER_URL",
    "JOBS_QUEUE",
    "jobs_database_url",
    "JOBS_DIR",
    "JOBS_RETENTION_HOURS",
    "RATE_LIMIT_STORAGE",
    "WORK_LIMIT",
    "ARTIFACTS_DIR",
    "MODEL",
)
# Prints what it was started with, as one JSON line: {"argv": [...], "env": {...}}.
FAKE_PROGRAM = """#!{python}
import json, os, sys
print(json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ)}}))
"""


@functools.cache
def worker_options() -> frozenset[str]:
    """Return the options `python -m api jobs worker` accepts, as its own --help lists them."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        worker.main(["--help"])
    return frozenset(word.strip("[],") for word in out.getvalue().split() if word.startswith("--"))


def fake_programs(bin_dir: Path, names) -> Path:
    """Write fake programs called ``names`` into ``bin_dir`` (made); return it."""
    bin_dir.mkdir(exist_ok=True)
    for name in names:
        fake = bin_dir / name
        fake.write_text(FAKE_PROGRAM.format(python=sys.executable))
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def run_compose_command(service, secrets_dir: Path, bin_dir: Path):
    """Run ``service``'s `sh -c` command with its environment, secrets from ``secrets_dir``, fakes first."""
    assert service["entrypoint"] == ["/bin/sh", "-c"]
    # Compose turns $$ into a literal $ before the shell sees the command.
    script = service["command"][0].replace("$$", "$").replace(SECRETS_DIR, f"{secrets_dir}/")
    env = {**service.get("environment", {}), "PATH": f"{bin_dir}:/usr/bin:/bin"}
    return subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, env=env, timeout=10)


def started_with(result):
    """Return (argv, env) the fake program printed; fail with the shell's stderr if it did not run."""
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    started = json.loads(line)
    return started["argv"], started["env"]


def container_env(objects, container) -> dict[str, str]:
    """Return the variables a Kubernetes container gets: its ConfigMaps, then its env (Secrets resolved)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(find(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        value = find(objects, "Secret", ref["name"])["stringData"][ref["key"]]
        env[item["name"]] = value.removeprefix(PLACEHOLDER)
    return env


def settings_of(env: dict[str, str]) -> Settings:
    """Return the Settings a process with exactly the environment ``env`` reads."""
    with mock.patch.dict(os.environ, env, clear=True):
        return Settings()


def disagreements(api: Settings, worker: Settings) -> list[str]:
    """Name each of JOB_SETTINGS the API and a worker read differently, and an embedded side."""
    problems = [
        f"{name}: api {getattr(api, name)!r}, worker {getattr(worker, name)!r}"
        for name in JOB_SETTINGS
        if getattr(api, name) != getattr(worker, name)
    ]
    sides = {"api": api, "worker": worker}
    problems += [f"{side} runs jobs embedded" for side, settings in sides.items() if settings.jobs_embedded]
    return problems
