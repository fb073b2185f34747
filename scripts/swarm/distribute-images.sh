#!/usr/bin/env bash
# Copy locally built images to the engines of other swarm nodes, without a registry: one
# `docker save` of all the images from the local engine (the one the docker CLI talks to here:
# DOCKER_HOST or the default socket), then `docker -H <host> load` on each node. A node that
# already has an image with the same ID is skipped for it (nothing is loaded when all match).
#
#   scripts/swarm/distribute-images.sh swiftdeploy-app:1.0.0 swiftdeploy-nginx:local -- ssh://root@node2 ssh://root@node3
#   scripts/swarm/distribute-images.sh swiftdeploy-app:e2e -- unix:///run/docker-sw2.sock unix:///run/docker-sw3.sock
#
# ssh:// hosts need the docker CLI on the node and ssh access for the user (the docker CLI's own
# ssh transport). `docker stack deploy` needs the image on every node that may run a task.
set -euo pipefail

usage() { echo "usage: $0 IMAGE... -- DOCKER_HOST..." >&2; exit 2; }
images=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do images+=("$1"); shift; done
[ $# -gt 0 ] || usage
shift
hosts=("$@")
[ ${#images[@]} -gt 0 ] && [ ${#hosts[@]} -gt 0 ] || usage

declare -A local_id
for image in "${images[@]}"; do
  local_id[$image]=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null) \
    || { echo "distribute-images: $image is not in the local engine (build it first)" >&2; exit 1; }
done

tar=""
cleanup() { [ -z "$tar" ] || rm -f "$tar"; }
trap cleanup EXIT

for host in "${hosts[@]}"; do
  missing=()
  for image in "${images[@]}"; do
    id=$(docker -H "$host" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
    [ "$id" = "${local_id[$image]}" ] || missing+=("$image")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "distribute-images: $host has ${images[*]} already"
    continue
  fi
  if [ -z "$tar" ]; then
    # One archive of all the images (shared layers once), saved on first need, loaded on each node.
    tar=$(mktemp "${TMPDIR:-/tmp}/distribute-images.XXXXXX.tar")
    started=$SECONDS
    docker save --output "$tar" "${images[@]}"
    echo "distribute-images: saved ${images[*]} ($(du -m "$tar" | cut -f1) MB) in $((SECONDS - started))s"
  fi
  started=$SECONDS
  docker -H "$host" load --quiet --input "$tar" >/dev/null
  echo "distribute-images: $host loaded ${missing[*]} in $((SECONDS - started))s"
done
