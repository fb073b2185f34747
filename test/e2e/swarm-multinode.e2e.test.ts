/**
 * `runtime: swarm` across three nodes on one machine: scripts/swarm/multinode.sh brings up three
 * dockerds, each in its own network namespace (sw1 manager, sw2 and sw3 workers, joined by a bridge
 * 10.77.0.0/24), scripts/swarm/distribute-images.sh copies the local images to them (no registry),
 * and the CLI deploys 3 app replicas, one per node. Then, under steady load through nginx, node 3 is
 * cut off (its link down); Swarm must notice, reschedule its task on the two others, and the
 * service keep answering. Failed requests and the longest gap without an answer are reported.
 *
 * The CLI runs inside sw1's namespace (`ip netns exec sw1`, DOCKER_HOST at sw1's socket): the OPA
 * sidecar is published on 127.0.0.1 of the manager, which is sw1's loopback, not the host's.
 *
 * Opt-in, never in CI: it needs root, minutes, and creates namespaces and engines. Run it with
 *   SWIFTDEPLOY_MULTINODE=1 npx vitest run test/e2e/swarm-multinode.e2e.test.ts
 * It calls `multinode.sh up` itself and `multinode.sh down` at the end (SWIFTDEPLOY_MULTINODE_KEEP=1
 * keeps the nodes for a look). Needs the local images: npm run setup, and swiftdeploy-app:e2e
 * (built by test/e2e/swarm.e2e.test.ts, or below from the prebuilt target).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runArgv } from '../../src/runtime/run.js';
import { localStackChanges, testManifest } from '../helpers/manifest.js';
import { uniqueProjectName } from './helpers/docker.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'bin/swiftdeploy');
const multinode = path.join(repo, 'scripts/swarm/multinode.sh');
const distribute = path.join(repo, 'scripts/swarm/distribute-images.sh');

const ENABLED = process.env.SWIFTDEPLOY_MULTINODE === '1';
const NODES = ['sw1', 'sw2', 'sw3'] as const;
const socket = (node: string) => `unix:///run/docker-${node}.sock`;
const MANAGER = socket('sw1');
const MANAGER_ADDR = '10.77.0.11';
const APP_IMAGE = 'swiftdeploy-app:e2e';
const NGINX_IMAGE = 'swiftdeploy-nginx:local';
const OPA_IMAGE = 'swiftdeploy-opa:local';
// Inside sw1's namespace nothing else listens: the defaults are free.
const NGINX_PORT = 8080;
const OPA_PORT = 8181;

/** docker against one node's engine; throws on a non-zero exit. */
async function dk(node: string, args: string[], timeoutMs = 120_000): Promise<string> {
  const r = await runArgv(['docker', '-H', socket(node), ...args], { timeoutMs });
  if (r.exitCode !== 0) throw new Error(`docker -H ${socket(node)} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(1000);
  }
}

interface Load {
  stop: () => Promise<{ ok: number; failed: number; longestGapMs: number; errors: string[]; lastFailedAt: number | null }>;
}

/**
 * Steady traffic through nginx on the manager's address, one request at a time, every 20 ms. With
 * `close`, one connection per request: across a rollout's in-place nginx reloads, as the rollout e2e
 * (README, "Progressive canary": the old workers close idle keep-alive connections).
 */
function traffic(o: { close?: boolean } = {}): Load {
  let on = true;
  let ok = 0;
  let failed = 0;
  let lastOk = Date.now();
  let longestGapMs = 0;
  let lastFailedAt: number | null = null;
  const errors: string[] = [];
  const loop = (async () => {
    while (on) {
      try {
        const res = await fetch(`http://${MANAGER_ADDR}:${NGINX_PORT}/`, { signal: AbortSignal.timeout(10_000), ...(o.close ? { headers: { connection: 'close' } } : {}) });
        await res.arrayBuffer();
        if (res.status === 200) {
          ok++;
          longestGapMs = Math.max(longestGapMs, Date.now() - lastOk);
          lastOk = Date.now();
        } else {
          failed++;
          lastFailedAt = Date.now();
          errors.push(`HTTP ${res.status}`);
        }
      } catch (e) {
        failed++;
        lastFailedAt = Date.now();
        errors.push((e as Error).message);
      }
      await sleep(20);
    }
  })();
  return {
    stop: async () => {
      on = false;
      await loop;
      return { ok, failed, longestGapMs, errors: [...new Set(errors)].slice(0, 5), lastFailedAt };
    },
  };
}

const title = ENABLED
  ? 'runtime: swarm on 3 nodes (dockerds in network namespaces): a replica per node, one node cut off'
  : 'runtime: swarm on 3 nodes (skipped: opt-in, as root: SWIFTDEPLOY_MULTINODE=1 npx vitest run test/e2e/swarm-multinode.e2e.test.ts)';

describe.skipIf(!ENABLED)(title, () => {
  const projectName = uniqueProjectName('sdmulti');
  let dir: string;
  let manifest: string;
  const app = `${projectName}_app`;

  const manifestChanges = {
    ...localStackChanges({ projectName, appImage: APP_IMAGE, nginxPort: NGINX_PORT, opaPort: OPA_PORT }),
    runtime: 'swarm',
    'swarm.replicas': 3,
    // no IPVS here (docs/swarm.md); nginx then runs on the manager, where the CLI reaches it
    'swarm.publish': 'host',
    'swarm.update.monitor': 5,
    // no constraints: the app may run on every node, and Swarm spreads the replicas
    'swarm.placement.constraints': [],
    'services.health_timeout_seconds': 180,
  };

  /** The CLI in sw1's network namespace, talking to sw1's engine. */
  const cli = (args: string[]) =>
    execa('ip', ['netns', 'exec', 'sw1', bin, ...args], {
      cwd: dir,
      reject: false,
      stdin: 'ignore',
      env: { DOCKER_HOST: MANAGER, SWIFTDEPLOY_ACTOR: 'alice@example.com', NO_COLOR: '1' },
      timeout: 600_000,
    });

  /** Running app tasks as node name → task ids, from the manager. */
  async function runningTasks(): Promise<Array<{ id: string; node: string }>> {
    const out = await dk('sw1', ['service', 'ps', app, '--filter', 'desired-state=running', '--format', '{{.ID}} {{.Node}} {{.CurrentState}}']);
    return out
      .split('\n')
      .filter((l) => /\sRunning\s/.test(l))
      .map((l) => {
        const [id = '', node = ''] = l.split(' ');
        return { id, node };
      });
  }

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('SWIFTDEPLOY_MULTINODE=1 needs root (network namespaces, dockerd)');
    // The images come from the host's engine.
    for (const image of [NGINX_IMAGE, OPA_IMAGE]) {
      if ((await runArgv(['docker', 'image', 'inspect', image])).exitCode !== 0) throw new Error(`${image} is missing on the host engine: npm run setup (as root)`);
    }
    if ((await runArgv(['docker', 'image', 'inspect', APP_IMAGE])).exitCode !== 0) {
      await execa('bash', [path.join(repo, 'scripts/stage-app.sh')], { cwd: repo });
      await execa('docker', ['build', '-q', '--target', 'prebuilt', '--build-arg', 'NODE_IMAGE=swiftdeploy-node:local', '-t', APP_IMAGE, '.'], { cwd: repo });
    }
    const up = await execa('bash', [multinode, 'up'], { reject: false, timeout: 300_000, all: true });
    console.log(up.all);
    if (up.exitCode !== 0) throw new Error(`multinode.sh up failed (${up.exitCode})`);
    const images = await execa('bash', [distribute, APP_IMAGE, NGINX_IMAGE, '--', ...NODES.map(socket)], { timeout: 600_000, all: true });
    console.log(images.all);
    // The sidecar runs on the manager only.
    console.log((await execa('bash', [distribute, OPA_IMAGE, '--', MANAGER], { timeout: 300_000, all: true })).all);
    dir = mkdtempSync(path.join(os.tmpdir(), `${projectName}-`));
    manifest = path.join(dir, 'manifest.yaml');
    writeFileSync(manifest, testManifest(manifestChanges));
  }, 900_000);

  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (process.env.SWIFTDEPLOY_MULTINODE_KEEP === '1') return;
    const down = await execa('bash', [multinode, 'down'], { reject: false, timeout: 300_000, all: true });
    console.log(down.all);
  }, 300_000);

  const step = (name: string, fn: () => Promise<void>, timeout = 600_000) => it(name, { timeout }, fn);

  step('deploy through the CLI on the manager: 3 healthy replicas, one on each node', async () => {
    const started = Date.now();
    const r = await cli(['deploy']);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    console.log(`multinode deploy: ${Date.now() - started} ms`);
    const tasks = await runningTasks();
    expect(tasks.map((t) => t.node).sort()).toEqual(['sw1', 'sw2', 'sw3']);
    const res = await fetch(`http://${MANAGER_ADDR}:${NGINX_PORT}/`, { signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(200);
  });

  step('nginx on the manager reaches the replica on every node over the overlay network (VXLAN)', async () => {
    const nginx = await dk('sw1', ['ps', '--quiet', '--filter', `label=com.docker.swarm.service.name=${projectName}_nginx`]);
    expect(nginx, 'nginx runs on the manager').not.toBe('');
    for (const task of await runningTasks()) {
      const attachments = await dk('sw1', ['inspect', '--format', '{{range .NetworksAttachments}}{{.Network.Spec.Name}}={{join .Addresses ","}} {{end}}', task.id]);
      const address = attachments
        .split(' ')
        .find((a) => a.startsWith(`${projectName}_swiftdeploy=`))
        ?.split('=')[1]
        ?.split('/')[0];
      expect(address, attachments).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      // the nginx image has bash but neither curl nor wget
      const http = `exec 3<>/dev/tcp/${address}/3000 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3`;
      const reply = await dk('sw1', ['exec', nginx.split('\n')[0]!, 'timeout', '5', 'bash', '-c', http]);
      expect(reply, `task on ${task.node} at ${address}`).toMatch(/^HTTP\/1\.1 200[\s\S]*"status":"ok"/);
    }
  });

  step('the OPA sidecar answers on the manager\'s loopback only', async () => {
    const inside = await execa('ip', ['netns', 'exec', 'sw1', process.execPath, '-e', `fetch('http://127.0.0.1:${OPA_PORT}/health').then((r) => console.log(r.status))`], { reject: false });
    expect(inside.stdout.trim(), inside.stderr).toBe('200');
    const outside = await fetch(`http://${MANAGER_ADDR}:${OPA_PORT}/health`, { signal: AbortSignal.timeout(3000) }).then(
      (res) => `HTTP ${res.status}`,
      (e: Error) => `refused: ${(e.cause as Error | undefined)?.message ?? e.message}`,
    );
    expect(outside).toMatch(/^refused/);
  });

  step('a progressive canary across nodes: app-canary runs on the manager beside nginx, every step is measured, abort puts the stack back', async () => {
    // latency on a loaded 2-core machine is noise at these rates (as in the compose rollout e2e)
    const changes = { ...manifestChanges, 'policy.canary.max_p99_ratio': 1000, 'policy.canary.max_p99_latency_seconds': 5 };
    writeFileSync(manifest, `${testManifest(changes)}\ncanary:\n  version: "2.0.0"\n  steps: [10, 50, 100]\n  step_seconds: 5\n  inconclusive_limit: 1\n  max_duration: 600\n`);
    // nginx moves from a docker config to the bind-mounted nginx/ (replaced once, on sw1)
    const d = await cli(['deploy']);
    expect(d.exitCode, `${d.stdout}\n${d.stderr}`).toBe(0);
    const load = traffic({ close: true });
    const started = Date.now();
    const r = await cli(['promote', 'canary', '--yes']);
    const tookMs = Date.now() - started;
    const canaryNodes = await dk('sw1', ['service', 'ps', `${projectName}_app-canary`, '--filter', 'desired-state=running', '--format', '{{.Node}}']);
    const a = await cli(['abort', '--yes', '--reason', 'multinode e2e']);
    const seen = await load.stop();
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stderr).toMatch(/every step passed/);
    expect(canaryNodes).toBe('sw1');
    expect(a.exitCode, `${a.stdout}\n${a.stderr}`).toBe(0);
    console.log(`multinode canary: promote canary ${tookMs} ms; ${seen.ok} ok, ${seen.failed} failed, longest gap ${seen.longestGapMs} ms; errors: ${JSON.stringify(seen.errors)}; ${r.stderr.split('\n').filter((l) => /^rollout: step .*: pass|^ +(stable|canary) \d+ requests/.test(l)).join(' | ')}`);
    expect(seen.failed, JSON.stringify(seen)).toBe(0);
    expect((await runningTasks()).map((t) => t.node).sort()).toEqual(['sw1', 'sw2', 'sw3']);
    expect(await dk('sw1', ['service', 'ls', '--quiet', '--filter', `name=${projectName}_app-canary`])).toBe('');
  });

  step('node 3 cut off under steady load: Swarm reschedules its task on sw1/sw2 and the service keeps answering', async () => {
    const load = traffic();
    await sleep(3000);
    const cutAt = Date.now();
    await execa('ip', ['netns', 'exec', 'sw3', 'ip', 'link', 'set', 'eth0', 'down']);
    const downAfter = await waitFor('sw3 to be Down', 120_000, async () => {
      const status = await dk('sw1', ['node', 'inspect', '--format', '{{.Status.State}}', 'sw3']);
      return status === 'down' ? Date.now() - cutAt : undefined;
    });
    const rescheduledAfter = await waitFor('3 running app tasks off sw3', 240_000, async () => {
      const tasks = await runningTasks();
      return tasks.length === 3 && tasks.every((t) => t.node !== 'sw3') ? Date.now() - cutAt : undefined;
    });
    const tasks = await runningTasks();
    // and then a quiet spell: every request after the reschedule must succeed
    const settledAt = Date.now();
    await sleep(15_000);
    const seen = await load.stop();
    const total = seen.ok + seen.failed;
    console.log(
      `multinode cut-off: sw3 Down after ${downAfter} ms, task rescheduled after ${rescheduledAfter} ms on ${tasks.map((t) => t.node).sort().join(',')}; ` +
        `${total} requests, ${seen.ok} ok, ${seen.failed} failed, longest gap without an answer ${seen.longestGapMs} ms; errors: ${JSON.stringify(seen.errors)}`,
    );
    expect(tasks.map((t) => t.node).filter((n) => n === 'sw3')).toEqual([]);
    expect(seen.ok).toBeGreaterThan(100);
    expect(seen.lastFailedAt === null || seen.lastFailedAt < settledAt, `a request failed ${seen.lastFailedAt! - settledAt} ms after the reschedule`).toBe(true);
  });

  step('node 3 back: it is Ready again; teardown leaves no service, network or config and no sidecar', async () => {
    await execa('ip', ['netns', 'exec', 'sw3', 'ip', 'link', 'set', 'eth0', 'up']);
    await waitFor('sw3 Ready', 120_000, async () => ((await dk('sw1', ['node', 'inspect', '--format', '{{.Status.State}}', 'sw3'])) === 'ready' ? true : undefined));
    const r = await cli(['teardown', '--yes']);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    for (const kind of ['service', 'network', 'config', 'secret']) {
      expect(await dk('sw1', [kind, 'ls', '--quiet', '--filter', `label=com.docker.stack.namespace=${projectName}`]), kind).toBe('');
    }
    expect(await dk('sw1', ['ps', '--all', '--quiet', '--filter', `label=com.docker.compose.project=${projectName}`])).toBe('');
    expect(readFileSync(path.join(dir, 'history.jsonl'), 'utf8')).toMatch(/teardown/);
  });
});
