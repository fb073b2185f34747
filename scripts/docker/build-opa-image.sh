#!/usr/bin/env bash
# Build the OPA sidecar image from a static opa binary, without any registry:
#
#   swiftdeploy-opa:local and swiftdeploy-opa:<version>   FROM scratch, /opa, ENTRYPOINT ["/opa"]
#
# Labelled with the OPA version and the binary's sha256; an image whose label matches is left alone.
#
#   build-opa-image.sh <path to a static opa binary> <version>
set -euo pipefail
bin=${1:?usage: build-opa-image.sh <opa binary> <version>}
version=${2:?usage: build-opa-image.sh <opa binary> <version>}
say() { echo "build-opa-image: $*"; }
die() { echo "build-opa-image: $*" >&2; exit 1; }

[ -x "$bin" ] || die "$bin is not an executable"
# FROM scratch has no libc: a dynamically linked opa would not start there.
if command -v file >/dev/null 2>&1 && ! file -L "$bin" | grep -q 'statically linked'; then
  die "$bin is not statically linked (build it with CGO_ENABLED=0)"
fi
recipe=$(printf '%s\n' "v1" "$version" "$(sha256sum "$bin" | cut -c1-64)" | sha256sum | cut -c1-64)
have=$(docker image inspect --format '{{ index .Config.Labels "org.swiftdeploy.recipe" }}' "swiftdeploy-opa:$version" 2>/dev/null || true)
if [ "$have" = "$recipe" ] && docker image inspect swiftdeploy-opa:local >/dev/null 2>&1; then
  say "swiftdeploy-opa:local (OPA $version) up to date"
  exit 0
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$bin" "$ctx/opa"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY opa /opa
LABEL org.opencontainers.image.title="opa" \\
      org.opencontainers.image.version="$version" \\
      org.opencontainers.image.description="Open Policy Agent $version, static build from its Go module (swiftdeploy scripts/setup.sh)" \\
      org.swiftdeploy.recipe="$recipe"
# No shell, no libc, no user database: a numeric unprivileged user.
USER 65532:65532
ENTRYPOINT ["/opa"]
CMD ["run", "--server"]
DOCKERFILE
docker build -q -t "swiftdeploy-opa:$version" -t swiftdeploy-opa:local "$ctx" >"$ctx/build.log" 2>&1 \
  || { cat "$ctx/build.log" >&2; die "docker build of the OPA image failed"; }
say "built swiftdeploy-opa:local and swiftdeploy-opa:$version (FROM scratch, OPA $version)"
