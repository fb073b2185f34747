#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine; start dockerd in the background if not.
# Idempotent and safe to run concurrently: a second caller waits on the same flock and finds the
# engine already up. Bounded: gives up after SWIFTDEPLOY_DOCKERD_TIMEOUT seconds (default 60).
#
#   SWIFTDEPLOY_DOCKERD_LOG      dockerd's log file (default /var/log/swiftdeploy-dockerd.log)
#   SWIFTDEPLOY_DOCKERD_TIMEOUT  seconds to wait for the engine to answer (default 60)
set -euo pipefail

log_file=${SWIFTDEPLOY_DOCKERD_LOG:-/var/log/swiftdeploy-dockerd.log}
timeout_s=${SWIFTDEPLOY_DOCKERD_TIMEOUT:-60}

engine_version() { docker version --format '{{.Server.Version}}' 2>/dev/null; }

if ! command -v docker >/dev/null 2>&1; then
  echo "ensure-engine: no docker CLI on PATH (apt-get install -y docker.io)" >&2
  exit 1
fi
if v=$(engine_version); then
  echo "ensure-engine: docker engine $v already running"
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-engine: the engine is not reachable and there is no dockerd to start (apt-get install -y docker.io)" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-engine: the engine is not reachable and starting dockerd needs root (run as root or start it yourself)" >&2
  exit 1
fi

# Serialise concurrent callers so only one dockerd is ever started.
exec 9>/run/swiftdeploy-ensure-engine.lock
flock -w "$timeout_s" 9 || { echo "ensure-engine: another ensure-engine held its lock for ${timeout_s}s" >&2; exit 1; }

if ! engine_version >/dev/null; then
  pid=""
  [ -r /var/run/docker.pid ] && pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "ensure-engine: dockerd (pid $pid) is running but not answering yet; waiting"
  else
    mkdir -p "$(dirname "$log_file")"
    echo "ensure-engine: starting dockerd (log: $log_file)"
    # setsid + nohup: the engine must outlive this script and the shell that ran it.
    setsid nohup dockerd >>"$log_file" 2>&1 </dev/null &
  fi
  deadline=$((SECONDS + timeout_s))
  until engine_version >/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "ensure-engine: dockerd did not answer within ${timeout_s}s; last log lines:" >&2
      tail -n 20 "$log_file" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
fi
echo "ensure-engine: docker engine $(engine_version) ready"
