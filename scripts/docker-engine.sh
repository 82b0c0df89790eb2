#!/usr/bin/env bash
# Makes a Docker engine answer on this machine, for the container tests (tests/container/).
# Installs Debian's docker.io (dockerd), debootstrap (the stand-in base, scripts/base-image.sh) and
# docker-compose (unless the docker CLI has its compose plugin) when missing, and starts dockerd when no
# engine answers. dockerd is ALWAYS started with no bridge, no iptables rules and no masquerading:
# containers run with --network host and are reached on 127.0.0.1 only; no Docker network is ever made.
# An engine that already answers is used as it is.
#
# The storage driver is the first of overlay2, fuse-overlayfs (when installed) and vfs with which dockerd
# starts; DOCKER_STORAGE_DRIVER names one instead. Prints the driver in use as its last line.
# Usage: scripts/docker-engine.sh
#   DOCKERD_LOG   dockerd's log (default /var/log/dockerd-sentiment-api.log)
#   DOCKERD_WAIT  seconds to wait for each start attempt to answer (default 60)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log="${DOCKERD_LOG:-/var/log/dockerd-sentiment-api.log}"
wait_seconds="${DOCKERD_WAIT:-60}"

"$here/debian-package.sh" docker.io dockerd "the container tests' Docker engine"
"$here/debian-package.sh" debootstrap debootstrap "the container tests' stand-in base image"
# A Compose implementation resolves deploy/compose.yaml: the CLI's plugin if it has one, else Debian's.
if ! docker compose version >/dev/null 2>&1; then
  "$here/debian-package.sh" docker-compose docker-compose "resolving deploy/compose.yaml"
fi

answers() { docker info >/dev/null 2>&1; }
report() { echo "docker engine answers; storage driver: $(docker info --format '{{.Driver}}')"; }

if answers; then
  report
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "no Docker engine answers, and starting dockerd needs root" >&2
  exit 1
fi

# Starts dockerd with one storage driver; succeeds once `docker info` answers, fails if dockerd exits
# (a driver this kernel or filesystem cannot use makes it exit at once) or the wait runs out.
start_with() {
  local driver="$1" pid deadline
  echo "starting dockerd (storage driver $driver), log in $log" >&2
  # setsid: the engine outlives this script and the test run that called it.
  setsid dockerd --bridge=none --iptables=false --ip-masq=false --storage-driver="$driver" \
    >>"$log" 2>&1 </dev/null &
  pid=$!
  deadline=$((SECONDS + wait_seconds))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if answers; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "dockerd exited with storage driver $driver (see $log)" >&2
      return 1
    fi
    sleep 1
  done
  echo "dockerd did not answer within ${wait_seconds}s with storage driver $driver; stopping it" >&2
  kill "$pid" 2>/dev/null || true
  return 1
}

if [ -n "${DOCKER_STORAGE_DRIVER:-}" ]; then
  drivers=("$DOCKER_STORAGE_DRIVER")
else
  drivers=(overlay2)
  if command -v fuse-overlayfs >/dev/null 2>&1; then drivers+=(fuse-overlayfs); fi
  drivers+=(vfs)
fi
for driver in "${drivers[@]}"; do
  if start_with "$driver"; then
    report
    exit 0
  fi
done
echo "dockerd would not start with any of: ${drivers[*]} (see $log)" >&2
exit 1
