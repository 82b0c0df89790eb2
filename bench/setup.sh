#!/usr/bin/env bash
# Installs what `make bench` needs beyond PyPI: Debian's wrk (the load generator).
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "installing wrk (Debian package) for the HTTPS load..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
