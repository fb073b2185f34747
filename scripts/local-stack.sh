#!/usr/bin/env bash
# The main job on a machine without a registry (like CI here), after `npm run setup`:
#   build the CLI and the app image, then `swiftdeploy deploy` examples/local/manifest.yaml (the stack
#   with its OPA sidecar, the locally built swiftdeploy-opa:local) and take one status reading, judged
#   by that sidecar. Idempotent: run it again to converge. Stop with:
#   bin/swiftdeploy -f examples/local/manifest.yaml teardown --yes
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
manifest=examples/local/manifest.yaml

for image in swiftdeploy-node:local swiftdeploy-nginx:local swiftdeploy-opa:local; do
  docker image inspect "$image" >/dev/null 2>&1 || {
    echo "local-stack: image $image is missing: run \`npm run setup\` (as root) first" >&2
    exit 1
  }
done
npm run --silent build
bash scripts/stage-app.sh
docker build -q --target prebuilt --build-arg NODE_IMAGE=swiftdeploy-node:local -t swiftdeploy-app:local . >/dev/null 2>&1 \
  || docker build --target prebuilt --build-arg NODE_IMAGE=swiftdeploy-node:local -t swiftdeploy-app:local .
echo "local-stack: built swiftdeploy-app:local"

bin/swiftdeploy -f "$manifest" deploy
# One reading judged by the sidecar. Exit 3 (a policy denies, e.g. a loaded host) is still a reading.
rc=0
bin/swiftdeploy -f "$manifest" status --once || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || exit "$rc"
url=http://127.0.0.1:8080/   # nginx.port in examples/local/manifest.yaml
node -e "fetch('$url').then(async (r) => { console.log('local-stack: serving on $url:', r.status, JSON.stringify(await r.json())); process.exit(r.ok ? 0 : 1); }, (e) => { console.error('local-stack: $url does not answer:', e.message); process.exit(1); })"
