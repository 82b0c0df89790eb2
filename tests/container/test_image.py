"""The image itself: built on the base it is given, and holding no key, token or tweet in any layer."""

import json
import re
import tarfile
import uuid

import pytest

from tests.container.docker import docker, https
from tests.e2e import ROOT

pytestmark = pytest.mark.container

# A PEM private key with its body (not the bare marker, which OpenSSL-linked libraries and the
# cryptography package hold as text). Looked for outside ELF files only: GnuTLS compiles its
# self-tests' published keys into libgnutls (Debian's, in either base), which are no one's secret.
PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----\s+[A-Za-z0-9+/=\s]{40,}?-----END")
ELF = b"\x7fELF"
# Any token of this API (api/ops/tokens.py: sa_ and 32 random bytes, URL-safe base64), standing alone:
# not the end of a longer name (rsa_..., Rust's mangled symbols), which binaries are full of.
ANY_TOKEN = re.compile(rb"(?<![A-Za-z0-9_-])sa_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
# Seconds to write the image out with docker save.
SAVE_TIMEOUT = 600


def test_the_image_is_built_on_the_base_it_is_given_whose_default_stays_the_pinned_official_one(
    image, base_image
):
    layers = "{{json .RootFS.Layers}}"
    base = json.loads(docker("image", "inspect", "--format", layers, base_image).stdout)
    built = json.loads(docker("image", "inspect", "--format", layers, image).stdout)
    assert built[: len(base)] == base
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.findall(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.MULTILINE) == ["python:3.11.7-slim-bookworm"]
    assert re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE) == ["${BASE_IMAGE}", "${BASE_IMAGE}"]


def _found(data: bytes, needles: dict[str, bytes]) -> list[str]:
    """Return what of the secrets and texts looked for ``data`` holds."""
    found = [name for name, needle in needles.items() if needle in data]
    if not data.startswith(ELF) and PEM_PRIVATE_KEY.search(data):
        found.append("a PEM private key")
    if ANY_TOKEN.search(data):
        found.append("a token")
    return found


def _layer_findings(archive: tarfile.TarFile, layer: str, needles: dict[str, bytes]) -> list[str]:
    """Scan every file of one layer of a `docker save` archive; return '<path>: <what>' findings."""
    findings = []
    with archive.extractfile(layer) as blob, tarfile.open(fileobj=blob, mode="r|") as files:
        for member in files:
            if member.isfile():
                with files.extractfile(member) as handle:
                    findings += [f"{layer}:{member.name}: {what}" for what in _found(handle.read(), needles)]
    return findings


def scan_image(image: str, folder, needles: dict[str, bytes]) -> tuple[list[str], int]:
    """Scan the image's config and every file of every layer; return (findings, layers scanned)."""
    saved = folder / "image.tar"
    docker("save", "--output", str(saved), image, timeout=SAVE_TIMEOUT)
    with tarfile.open(saved) as archive:
        (manifest,) = json.load(archive.extractfile("manifest.json"))
        # The config holds the environment and each layer's command (what `docker history` shows).
        findings = [
            f"config: {what}" for what in _found(archive.extractfile(manifest["Config"]).read(), needles)
        ]
        for layer in manifest["Layers"]:
            findings += _layer_findings(archive, layer, needles)
    saved.unlink()
    return findings, len(manifest["Layers"])


def test_no_key_token_or_tweet_in_any_layer_or_in_the_history(image, served, tmp_path):
    tweet = f"a tweet sent to the container, {uuid.uuid4().hex}"
    status, _ = https(
        served.container.port, served.context, "POST", "/api/v1/predict", {"1": tweet}, served.secrets.token
    )
    assert status == 200
    needles = {
        "the test token": served.secrets.token.encode(),
        "the second test token": served.secrets.revocable.encode(),
        "the tweet sent": tweet.encode(),
    }
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    assert _found(history.encode(), needles) == [], history
    findings, layers = scan_image(image, tmp_path, needles)
    assert layers > 5
    assert findings == []
