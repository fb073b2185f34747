#!/usr/bin/env bash
# Everything swiftdeploy's main job and its tests need on a Debian machine, in one idempotent step:
#
#   1. apt       nginx-light, docker.io, docker-compose (v1), debootstrap, time (only what is missing)
#   2. opa       the pinned OPA release (src/policy/opa-version.ts), built statically from its Go
#                module, cached by version; linked at .swiftdeploy/tools/opa, where the CLI and the
#                tests look first
#   3. compose   the docker compose v2 plugin, built from its Go module, cached by version, installed
#                as a Docker CLI plugin (/usr/local/lib/docker/cli-plugins/docker-compose)
#   4. dockerd   started if no engine answers (scripts/docker/ensure-engine.sh)
#   5. images    the local base images (scripts/docker/build-base-images.sh) and the OPA sidecar
#                image swiftdeploy-opa:local, FROM scratch with the binary of step 2
#
# One line per step; a failure names its step. A second run costs seconds. Needs root (apt, dockerd,
# debootstrap). Knobs:
#   SWIFTDEPLOY_TOOLS_CACHE  where built tools are kept (default /var/cache/swiftdeploy/tools)
#   SWIFTDEPLOY_SETUP_SKIP   space-separated steps to skip, e.g. "dockerd images" for policy work only
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

# docker compose v2.40.x: the newest v2 line on the Go module proxy here, built against the docker
# client v28, which negotiates the API down to Debian's engine 20.10 (API 1.41). compose v5 moved to
# the moby v29 client (not tried against API 1.41 here).
COMPOSE_VERSION=2.40.3
OPA_VERSION=$(sed -n "s/^export const OPA_VERSION = '\([^']*\)';$/\1/p" src/policy/opa-version.ts)
cache=${SWIFTDEPLOY_TOOLS_CACHE:-/var/cache/swiftdeploy/tools}
skip=" ${SWIFTDEPLOY_SETUP_SKIP:-} "
step=""
started=$SECONDS

say() { echo "setup: $step: $*"; }
fail() { echo "setup: FAILED at step '$step': $*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || echo "setup: FAILED at step '"'"'$step'"'"' (exit $rc)" >&2' EXIT
skipped() { case "$skip" in *" $1 "*) echo "setup: $1: skipped (SWIFTDEPLOY_SETUP_SKIP)"; return 0 ;; esac; return 1; }

[ -n "$OPA_VERSION" ] || { step=versions; fail "cannot read OPA_VERSION from src/policy/opa-version.ts"; }
[ "$(id -u)" -eq 0 ] || { step=root; fail "run as root (apt-get, dockerd and debootstrap need it)"; }

# --- 1. apt -------------------------------------------------------------------------------------
step=apt
if ! skipped apt; then
  need=()
  command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
  command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
  [ -x /usr/bin/time ] || need+=(time)
  command -v flock >/dev/null 2>&1 || need+=(util-linux)
  if [ "${#need[@]}" -gt 0 ]; then
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || fail "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || fail "apt-get install ${need[*]} failed"
  else
    say "nginx, dockerd, docker-compose, debootstrap, time present"
  fi
fi

# Run one build in a scratch directory beside <dest>; the command leaves its program at ./out, which
# is moved into place only when it succeeded (a killed or failed build leaves no half binary).
go_build() { # <dest> <description> <command...>
  local dest=$1 what=$2; shift 2
  command -v go >/dev/null 2>&1 || fail "no Go toolchain to build $what (machines of the polyglot kind have Go 1.26)"
  mkdir -p "$(dirname "$dest")"
  local tmp; tmp=$(mktemp -d "$(dirname "$dest")/.build.XXXXXX")
  say "building $what from its Go module (cold: a few minutes)"
  if ! ( cd "$tmp" && "$@" ) >"$tmp.log" 2>&1; then
    tail -n 20 "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    fail "building $what failed (last lines above)"
  fi
  mv -f "$tmp/out" "$dest"
  rm -rf "$tmp" "$tmp.log"
}

# --- 2. opa -------------------------------------------------------------------------------------
step=opa
opa_bin="$cache/opa-v$OPA_VERSION/opa"
build_opa() {
  CGO_ENABLED=0 GOBIN="$PWD/bin" go install -trimpath -ldflags "-s -w" "github.com/open-policy-agent/opa@v$OPA_VERSION"
  mv bin/opa out
}
if ! skipped opa; then
  if ! "$opa_bin" version 2>/dev/null | grep -qx "Version: $OPA_VERSION"; then
    go_build "$opa_bin" "OPA v$OPA_VERSION" build_opa
  fi
  mkdir -p .swiftdeploy/tools
  ln -sfn "$opa_bin" .swiftdeploy/tools/opa
  say "OPA $OPA_VERSION (static) at .swiftdeploy/tools/opa -> $opa_bin"
fi

# --- 3. compose v2 ------------------------------------------------------------------------------
step=compose
compose_bin="$cache/compose-v$COMPOSE_VERSION/docker-compose"
plugin=/usr/local/lib/docker/cli-plugins/docker-compose
# `go install module@version` refuses docker/compose (its go.mod has exclude directives), so build it
# from a throwaway module that requires it and repeats those excludes (only the main module's apply).
build_compose() {
  printf '%s\n' \
    'module swiftdeploy.local/compose-build' '' 'go 1.24' '' \
    "require github.com/docker/compose/v2 v$COMPOSE_VERSION" '' \
    'exclude (' \
    '	github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc' \
    '	github.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2' \
    ')' >go.mod
  printf '%s\n' '//go:build tools' '' 'package tools' '' 'import _ "github.com/docker/compose/v2/cmd"' >tools.go
  go mod tidy
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=v$COMPOSE_VERSION" \
    -o out github.com/docker/compose/v2/cmd
}
if ! skipped compose; then
  if ! "$compose_bin" version --short 2>/dev/null | grep -qx "$COMPOSE_VERSION"; then
    go_build "$compose_bin" "docker compose v$COMPOSE_VERSION" build_compose
  fi
  if ! cmp -s "$compose_bin" "$plugin"; then
    mkdir -p "$(dirname "$plugin")"
    install -m 0755 "$compose_bin" "$plugin.tmp.$$" && mv -f "$plugin.tmp.$$" "$plugin"
  fi
  say "docker compose $("$plugin" version --short) installed as $plugin"
fi

# --- 4. dockerd ---------------------------------------------------------------------------------
step=dockerd
if ! skipped dockerd; then
  bash scripts/docker/ensure-engine.sh | sed -u 's/^ensure-engine: /setup: dockerd: /' || fail "no Docker engine"
fi

# --- 5. images ----------------------------------------------------------------------------------
step=images
if ! skipped images; then
  bash scripts/docker/build-base-images.sh | sed -u 's/^build-base-images: /setup: images: /' || fail "base images"
  [ -x "$opa_bin" ] || fail "no OPA binary to build the sidecar image from (was step opa skipped?)"
  bash scripts/docker/build-opa-image.sh "$opa_bin" "$OPA_VERSION" | sed -u 's/^build-opa-image: /setup: images: /' || fail "OPA image"
fi

step=done
echo "setup: ready in $((SECONDS - started)) s"
