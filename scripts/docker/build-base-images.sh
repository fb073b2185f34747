#!/usr/bin/env bash
# Build the local base images swiftdeploy's stack runs on, without any registry:
#
#   swiftdeploy-node:local   Debian bookworm minbase + this host's node binary at /usr/local/bin/node
#   swiftdeploy-nginx:local  Debian bookworm minbase + nginx-light from Debian, logging to stdout/stderr
#
# Both start from one `debootstrap --variant=minbase bookworm` rootfs, cached as a tarball keyed by
# everything that shapes it. Each image carries a label org.swiftdeploy.recipe=<sha256 of its recipe>;
# an image whose label matches is left alone, so a second run costs a few `docker image inspect`s.
# Pass --force to rebuild regardless.
#
#   SWIFTDEPLOY_IMAGE_CACHE   where the rootfs tarball lives (default /var/cache/swiftdeploy-images)
#   SWIFTDEPLOY_DEBIAN_MIRROR Debian mirror (default: the one apt on this host uses)
#   SWIFTDEPLOY_NODE_BIN      node binary to copy in (default: `command -v node`)
set -euo pipefail

suite=bookworm
cache_dir=${SWIFTDEPLOY_IMAGE_CACHE:-/var/cache/swiftdeploy-images}
node_bin=${SWIFTDEPLOY_NODE_BIN:-$(command -v node || true)}
force=0
[ "${1:-}" = "--force" ] && force=1
# Bump when a step below changes in a way the hashed inputs do not capture.
recipe_version=1

say() { echo "build-base-images: $*"; }
die() { echo "build-base-images: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap and chroot)"
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install -y debootstrap)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
  || die "no docker engine answers (run scripts/docker/ensure-engine.sh first)"
[ -n "$node_bin" ] && [ -x "$node_bin" ] || die "no node binary on PATH to copy into the node image"
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "$node_bin is node $node_major; the app needs node >= 20"

# The mirror apt already uses here: the deb822 sources first, then the one-line format.
debian_mirror() {
  local m=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $2 !~ /security/ && $2 ~ /debian/ { print $2; exit }' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}
mirror=${SWIFTDEPLOY_DEBIAN_MIRROR:-$(debian_mirror)}

sha() { sha256sum | cut -c1-64; }
# libstdc++6 is not in minbase and node links against it.
minbase_includes="libstdc++6,ca-certificates"
minbase_key=$(printf '%s\n' "v$recipe_version" "$suite" minbase "$minbase_includes" "$mirror" "$(debootstrap --version)" | sha)
minbase_tar="$cache_dir/minbase-$suite-${minbase_key:0:16}.tar"

node_recipe=$(printf '%s\n' "$minbase_key" "node" "$(sha256sum "$node_bin" | cut -c1-64)" | sha)
nginx_recipe=$(printf '%s\n' "$minbase_key" "nginx-light" "logs-to-stdio" | sha)

image_recipe() { docker image inspect --format '{{ index .Config.Labels "org.swiftdeploy.recipe" }}' "$1" 2>/dev/null || true; }
up_to_date() { [ "$force" -eq 0 ] && [ "$(image_recipe "$1")" = "$2" ]; }

mkdir -p "$cache_dir"
# Two builders at once would debootstrap into the same paths; the second waits and then finds the cache.
exec 9>"$cache_dir/.build.lock"
flock -w 1800 9 || die "another build held $cache_dir/.build.lock for 30 minutes"

if up_to_date swiftdeploy-node:local "$node_recipe" && up_to_date swiftdeploy-nginx:local "$nginx_recipe"; then
  say "swiftdeploy-node:local and swiftdeploy-nginx:local are up to date"
  exit 0
fi

work=$(mktemp -d "$cache_dir/work.XXXXXX")
cleanup() {
  # A chroot step may have left /proc mounted; never rm -rf through a live mount.
  for m in "$work"/*/proc; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

if [ ! -s "$minbase_tar" ] || [ "$force" -eq 1 ]; then
  say "debootstrap --variant=minbase $suite from $mirror (a few minutes, cached afterwards)"
  debootstrap --variant=minbase --include="$minbase_includes" "$suite" "$work/minbase" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -rf "$work/minbase/var/cache/apt/archives/"*.deb "$work/minbase/var/lib/apt/lists/"*
  tar -C "$work/minbase" --numeric-owner -cf "$minbase_tar.tmp" .
  mv "$minbase_tar.tmp" "$minbase_tar"
  rm -rf --one-file-system "$work/minbase"
else
  say "reusing cached rootfs $minbase_tar"
fi

unpack() { mkdir -p "$1" && tar -C "$1" --numeric-owner -xf "$minbase_tar"; }
import() { # import <dir> <image> <recipe> <docker import --change args...>
  local dir=$1 image=$2 recipe=$3; shift 3
  tar -C "$dir" --numeric-owner -c . | docker import \
    --change "LABEL org.swiftdeploy.recipe=$recipe" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$@" - "$image" >/dev/null
  say "built $image (recipe ${recipe:0:12})"
}

if up_to_date swiftdeploy-node:local "$node_recipe"; then
  say "swiftdeploy-node:local is up to date"
else
  unpack "$work/node"
  install -m 0755 "$node_bin" "$work/node/usr/local/bin/node"
  chroot "$work/node" /usr/local/bin/node -e 'process.exit(0)' || die "node does not run inside the bookworm rootfs"
  import "$work/node" swiftdeploy-node:local "$node_recipe" --change 'CMD ["node"]'
fi

if up_to_date swiftdeploy-nginx:local "$nginx_recipe"; then
  say "swiftdeploy-nginx:local is up to date"
else
  unpack "$work/nginx"
  root="$work/nginx"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  echo "deb $mirror $suite main" >"$root/etc/apt/sources.list"
  # Keep maintainer scripts from trying to start nginx inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 0755 "$root/usr/sbin/policy-rc.d"
  mount -t proc proc "$root/proc"
  chroot "$root" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive;
    apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx-light' >"$work/apt.log" 2>&1 \
    || { umount -l "$root/proc"; tail -n 30 "$work/apt.log" >&2; die "apt-get install nginx-light failed inside the chroot"; }
  umount "$root/proc"
  rm -f "$root/usr/sbin/policy-rc.d"
  rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/archives/"*.deb "$root/etc/nginx/sites-enabled/default"
  : >"$root/etc/resolv.conf"
  # As the official nginx image does: logs go to the container's stdout/stderr, so `compose logs` shows them.
  ln -sf /dev/stdout "$root/var/log/nginx/access.log"
  ln -sf /dev/stderr "$root/var/log/nginx/error.log"
  import "$root" swiftdeploy-nginx:local "$nginx_recipe" \
    --change 'EXPOSE 80' --change 'CMD ["nginx", "-g", "daemon off;"]'
fi
