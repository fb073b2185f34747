#!/usr/bin/env bash
# Stage the deployed service, ready to COPY into an image, at .build/app/:
#
#   .build/app/package.json        minimal: "type": "module" and the app's two runtime dependencies
#   .build/app/package-lock.json   the repository's lockfile, which pinned every package staged here
#   .build/app/node_modules/       production dependencies from `npm ci --omit=dev`, trimmed to what
#                                  fastify and prom-client need (the CLI's own deps are not shipped)
#   .build/app/dist/app/           src/app compiled by src/app/tsconfig.json
#
# Used twice: on the host before `docker build --target prebuilt` (where nothing inside a container
# can reach the npm registry), and inside the Dockerfile's default build stage, so both images hold
# the same bytes. Needs the repository's dev dependencies installed (for tsc). Before replacing the
# previous .build/app it starts the staged app once and checks it answers /healthz.
#
#   STAGE_APP_OUT   where to stage (default: <repo>/.build/app)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${STAGE_APP_OUT:-$repo/.build/app}
say() { echo "stage-app: $*"; }
die() { echo "stage-app: $*" >&2; exit 1; }

command -v node >/dev/null || die "node is not on PATH"
command -v npm >/dev/null || die "npm is not on PATH"
tsc="$repo/node_modules/typescript/bin/tsc"
[ -f "$tsc" ] || die "typescript is not installed; run 'npm ci' in $repo first"

mkdir -p "$(dirname "$out")"
# Build next to the destination, then swap: an interrupted run never leaves a half-staged app behind.
work=$(mktemp -d "$(dirname "$out")/.stage-app.XXXXXX")
# mktemp makes the directory 0700, and COPY keeps modes: the image's non-root user must read it.
chmod 755 "$work"
app_pid=""
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say "compiling src/app"
node "$tsc" -p "$repo/src/app/tsconfig.json" --outDir "$work/dist/app"

say "installing production dependencies (npm ci --omit=dev)"
cp "$repo/package.json" "$repo/package-lock.json" "$work/"
# --ignore-scripts: nothing the app needs has an install script, and none should run at build time.
(cd "$work" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)

say "trimming node_modules to the app's dependency closure"
node - "$work" <<'EOF'
// Keeps only packages reachable from the app's runtime dependencies, resolved the way Node does
// (nearest node_modules walking up), and rewrites package.json to name just those dependencies.
const fs = require('node:fs');
const path = require('node:path');
const root = process.argv[2];
const APP_DEPENDENCIES = ['fastify', 'prom-client'];
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

const locate = (name, fromDir) => {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === root || dir === path.dirname(dir)) return undefined;
  }
};
const keep = new Set();
const visit = (pkgDir) => {
  if (keep.has(pkgDir)) return;
  keep.add(pkgDir);
  const pkg = readJson(path.join(pkgDir, 'package.json'));
  const required = Object.keys(pkg.dependencies ?? {});
  const optional = [...Object.keys(pkg.optionalDependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})];
  for (const dep of [...required, ...optional]) {
    const found = locate(dep, pkgDir);
    if (found !== undefined) visit(found);
    else if (required.includes(dep)) throw new Error(`${dep} (needed by ${path.relative(root, pkgDir)}) is not installed`);
  }
};
const rootPkg = readJson(path.join(root, 'package.json'));
const dependencies = {};
for (const dep of APP_DEPENDENCIES) {
  const dir = locate(dep, root);
  if (dir === undefined) throw new Error(`${dep} is not a production dependency of ${rootPkg.name}`);
  dependencies[dep] = readJson(path.join(dir, 'package.json')).version;
  visit(dir);
}

let removed = 0;
const prune = (modulesDir) => {
  for (const entry of fs.readdirSync(modulesDir)) {
    const full = path.join(modulesDir, entry);
    if (entry === '.bin' || entry === '.package-lock.json') {
      fs.rmSync(full, { recursive: true, force: true });
    } else if (entry.startsWith('@')) {
      prune(full);
      if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
    } else if (!keep.has(full)) {
      fs.rmSync(full, { recursive: true, force: true });
      removed++;
    } else if (fs.existsSync(path.join(full, 'node_modules'))) {
      prune(path.join(full, 'node_modules'));
    }
  }
};
prune(path.join(root, 'node_modules'));

const appPkg = {
  name: `${rootPkg.name}-app`,
  version: rootPkg.version,
  private: true,
  description: 'The service swiftdeploy deploys (staged by scripts/stage-app.sh)',
  license: rootPkg.license,
  type: 'module',
  engines: rootPkg.engines,
  main: 'dist/app/main.js',
  dependencies,
};
fs.writeFileSync(path.join(root, 'package.json'), `${JSON.stringify(appPkg, null, 2)}\n`);
console.log(`stage-app: kept ${keep.size} packages, removed ${removed}`);
EOF

say "smoke test: starting the staged app"
PORT=0 HOST=127.0.0.1 MODE=stable APP_VERSION=stage-check node "$work/dist/app/main.js" >"$work/smoke.log" 2>&1 &
app_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$work/smoke.log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$app_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || die "the staged app did not start: $(cat "$work/smoke.log")"
node -e "fetch('http://127.0.0.1:$port/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" \
  || die "the staged app did not answer /healthz"
kill -TERM "$app_pid"
wait "$app_pid" || die "the staged app did not exit 0 on SIGTERM: $(cat "$work/smoke.log")"
app_pid=""
rm "$work/smoke.log"

rm -rf "$out.old"
[ -e "$out" ] && mv "$out" "$out.old"
mv "$work" "$out"
rm -rf "$out.old"
trap - EXIT
say "staged $(du -sh "$out" | cut -f1) at $out"
