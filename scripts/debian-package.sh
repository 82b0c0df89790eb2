#!/usr/bin/env bash
# Installs a Debian package that the tests or the bench need beyond PyPI, unless it is there already.
# Usage: scripts/debian-package.sh PACKAGE EXECUTABLE WHAT-FOR
#   e.g. scripts/debian-package.sh wrk wrk "the bench's HTTPS load"
# EXECUTABLE is a command name or an absolute path; present means nothing to do.
set -euo pipefail
package="$1" executable="$2" purpose="$3"
if command -v "$executable" >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "installing $package (Debian package) for $purpose..."
# Several installs may run at once (tests, bench): wait for dpkg's lock rather than fail on it.
LOCK_WAIT=(-o DPkg::Lock::Timeout=300)
$SUDO apt-get "${LOCK_WAIT[@]}" update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${LOCK_WAIT[@]}" install -y -qq "$package" >/dev/null
