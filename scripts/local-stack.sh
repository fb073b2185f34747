#!/usr/bin/env bash
# The main job on a machine without a registry (like CI here), in one command:
#   build the CLI, start Docker, build the local base images and the app image, start a policy
#   engine on 127.0.0.1:18181, then `swiftdeploy deploy` examples/local/manifest.yaml and take one
#   status reading. Idempotent: run it again to converge. Stop with:
#   bin/swiftdeploy -f examples/local/manifest.yaml teardown --yes
#
# The policy engine is a real `opa run --server` when `opa` is on PATH; otherwise the OPA double
# (test/helpers/opa-double.mjs), a reference model of policies/ that speaks OPA's REST API. It is
# said loudly which one runs: the double is for machines where OPA cannot be installed.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
manifest=examples/local/manifest.yaml
state=examples/local/.swiftdeploy
mkdir -p "$state"

npm run --silent build
bash scripts/docker/ensure-engine.sh
bash scripts/docker/build-base-images.sh
bash scripts/stage-app.sh
docker build -q --target prebuilt --build-arg NODE_IMAGE=swiftdeploy-node:local -t swiftdeploy-app:local . >/dev/null
echo "local-stack: built swiftdeploy-app:local"

if ! curl -fsS -o /dev/null http://127.0.0.1:18181/health 2>/dev/null; then
  if command -v opa >/dev/null 2>&1; then
    echo "local-stack: starting OPA (opa run --server) on 127.0.0.1:18181"
    nohup opa run --server --addr 127.0.0.1:18181 policies >"$state/opa.log" 2>&1 &
  else
    echo "local-stack: no opa binary: starting the OPA double (a reference model of policies/, not OPA) on 127.0.0.1:18181"
    nohup node test/helpers/opa-double.mjs --port 18181 >"$state/opa.log" 2>&1 &
  fi
  echo $! >"$state/opa.pid"
fi

bin/swiftdeploy -f "$manifest" deploy
bin/swiftdeploy -f "$manifest" status --once || true
