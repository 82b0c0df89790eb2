#!/usr/bin/env bash
# Builds the TEST-ONLY stand-in for the Dockerfile's base image (python:3.11.7-slim-bookworm), which no
# image registry here can give: Debian bookworm from Debian's packages (debootstrap) with python3.11 and
# its venv module, carrying this machine's CA bundle and pip settings so that pip inside
# `docker build --network host` reaches the package index as the host's pip does. It is imported into the
# engine under one local tag and reused while its inputs (this script, the CA bundle, the pip settings)
# are unchanged. The stand-in is only ever passed as --build-arg BASE_IMAGE; the Dockerfile's default stays
# the pinned official image.
# Usage: scripts/base-image.sh [TAG]   (default sentiment-api-test-base:bookworm; prints the tag)
#   DEBIAN_MIRROR  the mirror debootstrap downloads from (default: http://deb.debian.org/debian)
set -euo pipefail
tag="${1:-sentiment-api-test-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
# pip's configuration files, as pip reads them for root (global, XDG site, user), when present.
pip_files=(/etc/pip.conf /etc/xdg/pip /root/.config/pip)
# python3.11 with venv (and ensurepip's wheels); python-is-python3: the official image's `python`.
packages=python3.11,python3.11-venv,python3-venv,python-is-python3

# Every PIP_* variable of this environment, which pip reads beside its files (sorted: stable hash).
pip_env() { env | grep '^PIP_' | LC_ALL=C sort || true; }

# A digest of everything the image is made from: a change to any of them makes a new image.
inputs_digest() {
  {
    cat "$0"
    cat "$ca_bundle"
    for item in "${pip_files[@]}"; do
      if [ -e "$item" ]; then find "$item" -type f -print0 | LC_ALL=C sort -z | xargs -0r cat; fi
    done
    pip_env
  } | sha256sum | cut -c1-16
}

digest="$(inputs_digest)"
if [ "$(docker image inspect --format '{{index .Config.Labels "inputs"}}' "$tag" 2>/dev/null)" = "$digest" ]; then
  echo "$tag"
  exit 0
fi

"$(dirname "$0")/debian-package.sh" debootstrap debootstrap "the container tests' stand-in base image"
work="$(mktemp -d /var/tmp/sentiment-api-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
echo "building the stand-in base $tag with debootstrap (bookworm, minbase, $packages)..." >&2
debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

# This machine's CA bundle, where Debian's OpenSSL and pip's `cert` setting look for it.
install -D -m 0644 "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
for item in "${pip_files[@]}"; do
  if [ -e "$item" ]; then
    mkdir -p "$rootfs$(dirname "$item")"
    cp -a "$item" "$rootfs$(dirname "$item")/"
  fi
done
# Nothing the build does not need: apt's lists and caches, docs and man pages.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*

changes=(
  --change "LABEL inputs=$digest"
  --change "LABEL purpose=test-only-stand-in-for-python:3.11.7-slim-bookworm"
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  --change 'ENV LANG=C.UTF-8'
  --change 'CMD ["python3"]'
)
# Quoted, as a Dockerfile ENV line reads it: a value may hold spaces (several extra index URLs).
while IFS= read -r line; do
  [ -n "$line" ] || continue
  value="${line#*=}"
  value="${value//\\/\\\\}"
  changes+=(--change "ENV ${line%%=*}=\"${value//\"/\\\"}\"")
done < <(pip_env)
tar -C "$rootfs" --numeric-owner -c . | docker import "${changes[@]}" - "$tag" >/dev/null
echo "$tag"
