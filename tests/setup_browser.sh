#!/usr/bin/env bash
# Installs what the browser tests need beyond PyPI: Debian's chromium, driven by Playwright.
# Playwright's own browser download is never used (it cannot be fetched here, and the tests
# launch /usr/bin/chromium by path).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "installing chromium (Debian package) for the browser tests..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
