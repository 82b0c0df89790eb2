"""README "In a container": the one-line quick start, run as written, serves a prediction with its token.

Only the container's name, its port and the image's tag are substituted (the tests' own, so that
runs never collide); every other word of the line is the README's.
"""

import shlex
import subprocess

import pytest

from tests.container.docker import (
    STOP_TIMEOUT,
    Container,
    context_for,
    docker,
    https,
    ready,
    tokens_in,
    unique_name,
)
from tests.e2e import BODY, LABELS, ROOT, free_port, wait_until

pytestmark = pytest.mark.container

# The README's lines, word for word: the run, then copying the CA it made out of the container.
QUICK_START = "docker run --rm --name sentiment-api --network host -e PORT=5000 sentiment-api"
CA_COPY = "docker exec sentiment-api cat /app/instance/certs/ca.crt > ca.crt"
TOKEN_TIMEOUT = 120


def substituted(line: str, name: str, port: int, image: str) -> list[str]:
    """The README's line as argv, with the container's name, its port and the image's tag replaced."""
    words = shlex.split(line)
    replaced = [
        name if previous == "--name" else f"PORT={port}" if word == "PORT=5000" else word
        for previous, word in zip(["", *words[:-1]], words, strict=True)
    ]
    assert replaced[-1] == "sentiment-api", "the line no longer ends with the image's tag"
    return [*replaced[:-1], image]


def test_the_readme_shows_the_tested_lines():
    readme = (ROOT / "README.md").read_text()
    assert QUICK_START in readme
    assert CA_COPY in readme


def test_the_one_line_quick_start_serves_a_prediction_with_the_token_it_printed(image, tmp_path):
    name, port = unique_name("quickstart"), free_port()
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        # In the foreground, as a user runs it: the token comes on this terminal's stderr.
        process = subprocess.Popen(substituted(QUICK_START, name, port, image), stdout=out, stderr=err)
    try:
        (token,) = wait_until(
            lambda: tokens_in(stderr.read_text()), "the first token on stderr", TOKEN_TIMEOUT
        )
        copy = shlex.split(CA_COPY)
        assert copy[-2:] == [">", "ca.crt"]
        ca = subprocess.run(
            [word if word != "sentiment-api" else name for word in copy[:-2]],
            capture_output=True,
            timeout=STOP_TIMEOUT,
            check=True,
        ).stdout
        context = context_for(ca)
        container = Container(name, port)
        ready(container, context)
        assert https(port, context, "POST", "/api/v1/predict", BODY, token) == (200, LABELS)
        assert token not in stdout.read_text()
    finally:
        docker("stop", name, check=False, timeout=STOP_TIMEOUT)
        docker("rm", "-f", name, check=False, timeout=STOP_TIMEOUT)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
