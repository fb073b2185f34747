/**
 * The whole lifecycle on a real Docker engine, driven through the CLI as a user would: validate,
 * a denied deploy, deploy, status, promote, chaos, a denied promote, rollback, promote again, audit,
 * a concurrent promote refused by the lock, teardown --clean, and init restoring identical bytes.
 *
 * Needs: a Docker engine, compose (v2 plugin or v1), and the local base images
 * (scripts/docker/build-base-images.sh). The OPA image cannot be pulled here, so the CLI talks to an
 * external opa.url: a real `opa run --server` when `opa` is on PATH, else the contract-faithful OPA
 * double (test/helpers/opa-double.mjs). The suite says which.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runArgv } from '../../src/runtime/run.js';
import { localStackChanges, testManifest } from '../helpers/manifest.js';
import { dockerForTests, removeComposeProject, skipReason, uniqueProjectName } from './helpers/docker.js';
import { makeTempProject, type TempProject } from './helpers/project.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'bin/swiftdeploy');
const APP_IMAGE = 'swiftdeploy-app:e2e';
const ACTOR = 'alice@example.com';

const docker = await dockerForTests();
const opaOnPath = (() => {
  try {
    execFileSync('opa', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe.skipIf(!docker.available)(`lifecycle on real Docker${skipReason(docker)}`, () => {
  let project: TempProject;
  let manifest: string;
  let nginxPort: number;
  let stopOpa: () => Promise<void> = async () => undefined;
  let opaUrl: string;

  const cli = (args: string[], extraEnv: Record<string, string> = {}) =>
    execa(bin, args, {
      cwd: project.dir,
      reject: false,
      stdin: 'ignore',
      env: { SWIFTDEPLOY_ACTOR: ACTOR, NO_COLOR: '1', ...extraEnv },
      timeout: 240_000,
    });

  // Steady client traffic through nginx, so every canary window has requests to judge.
  let traffic: { stop: () => Promise<{ ok: number; failed: number }> } | undefined;
  function startTraffic(): void {
    let running = true;
    let ok = 0;
    let failed = 0;
    const loop = (async () => {
      for (let i = 0; running && i < 20_000; i++) {
        try {
          const res = await fetch(`http://127.0.0.1:${nginxPort}/`, { signal: AbortSignal.timeout(5000) });
          await res.arrayBuffer();
          if (res.status === 200) ok++;
          else failed++;
        } catch {
          failed++;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    traffic = {
      stop: async () => {
        running = false;
        await loop;
        return { ok, failed };
      },
    };
  }

  function writeManifest(overrides: { minDiskFreeGb?: number; infrastructureMode?: 'shadow' } = {}): void {
    const changes = localStackChanges({ projectName: project.projectName, appImage: APP_IMAGE, nginxPort, opaUrl });
    if (overrides.minDiskFreeGb !== undefined) changes['policy.infrastructure.min_disk_free_gb'] = overrides.minDiskFreeGb;
    if (overrides.infrastructureMode) changes['policy.infrastructure.mode'] = overrides.infrastructureMode;
    writeFileSync(manifest, testManifest(changes));
  }

  async function containers(): Promise<string[]> {
    const r = await runArgv(['docker', 'ps', '--filter', `label=com.docker.compose.project=${project.projectName}`, '--format', '{{.Label "com.docker.compose.service"}}']);
    return r.stdout.split('\n').filter(Boolean).sort();
  }

  async function getRoot(): Promise<{ mode: string; xMode: string | null; deployedBy: string | null }> {
    const res = await fetch(`http://127.0.0.1:${nginxPort}/`);
    const body = (await res.json()) as { mode: string };
    return { mode: body.mode, xMode: res.headers.get('x-mode'), deployedBy: res.headers.get('x-deployed-by') };
  }

  beforeAll(async () => {
    project = await makeTempProject(uniqueProjectName('sde2e'));
    manifest = path.join(project.dir, 'manifest.yaml');
    nginxPort = await freePort();
    if (opaOnPath) {
      const port = await freePort();
      const proc = execa('opa', ['run', '--server', '--addr', `127.0.0.1:${port}`, path.join(repo, 'policies')], { reject: false });
      opaUrl = `http://127.0.0.1:${port}`;
      stopOpa = async () => {
        proc.kill();
        await proc;
      };
      console.info(`e2e: policy engine is a real OPA (opa run --server) at ${opaUrl}`);
    } else {
      const { startOpaDouble } = await import('../helpers/opa-double.mjs');
      const double = await startOpaDouble({ host: '127.0.0.1', port: 0 });
      opaUrl = double.url;
      stopOpa = double.close;
      console.info(`e2e: no opa binary on PATH; policy engine is the OPA double (reference model of policies/) at ${opaUrl}`);
    }
    // Nothing inside a container can reach the npm registry here: stage on the host, COPY it in.
    await execa('bash', [path.join(repo, 'scripts/stage-app.sh')], { cwd: repo });
    await execa('docker', ['build', '-q', '--target', 'prebuilt', '--build-arg', 'NODE_IMAGE=swiftdeploy-node:local', '-t', APP_IMAGE, '.'], {
      cwd: repo,
    });
  }, 300_000);

  afterAll(async () => {
    await traffic?.stop();
    await project?.cleanup();
    await stopOpa();
  }, 120_000);

  it('runs the whole scenario', { timeout: 840_000 }, async () => {
    // init + validate
    writeManifest();
    let r = await cli(['init']);
    expect(r.exitCode, r.stderr).toBe(0);
    r = await cli(['validate']);
    expect(r.stdout).toMatch(/\[PASS\] manifest:/);
    expect(r.stdout).toMatch(/\[PASS\] nginx-config:/);
    expect(r.stdout).toMatch(/\[PASS\] compose-config:/);
    expect(r.stdout).toMatch(/\[PASS\] app-image:/);
    expect(r.exitCode, r.stdout).toBe(0);

    // deploy denied by an impossible disk threshold: app and nginx never created
    writeManifest({ minDiskFreeGb: 1_000_000 });
    r = await cli(['deploy']);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toContain('disk_free_too_low');
    expect(r.stderr).toContain('deploy stopped before the app and nginx were created');
    expect(await containers()).toEqual([]);

    // the same impossible threshold in shadow mode: evaluated, printed, recorded, not enforced
    writeManifest({ minDiskFreeGb: 1_000_000, infrastructureMode: 'shadow' });
    r = await cli(['deploy']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('[SHADOW] would have blocked: disk_free_too_low');
    expect(await containers()).toEqual(['app', 'nginx']);
    const shadowRecord = readFileSync(path.join(project.dir, 'history.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((rec) => rec.payload.decision?.enforcement === 'shadow');
    expect(shadowRecord).toMatchObject({
      actor: 'shadow',
      payload: { action: 'deploy', operator: ACTOR, decision: { allowed: false, would_have_blocked: ['disk_free_too_low'] } },
    });
    writeManifest();
    let root = await getRoot();
    expect(root).toEqual({ mode: 'stable', xMode: null, deployedBy: 'swiftdeploy' });
    startTraffic();

    // status once: a record appended, exit 0 (allowed) or 3 (a policy denies); never 1 or 4
    const historyFile = path.join(project.dir, 'history.jsonl');
    const linesBefore = readFileSync(historyFile, 'utf8').trim().split('\n').length;
    r = await cli(['status', '--once']);
    expect([0, 3], r.stderr + r.stdout).toContain(r.exitCode);
    const lines = readFileSync(historyFile, 'utf8').trim().split('\n');
    expect(lines.length).toBe(linesBefore + 1);
    expect(JSON.parse(lines.at(-1)!).kind).toBe('status');

    // promote canary: exactly one manifest line changes, X-Mode: canary confirmed
    const beforePromote = readFileSync(manifest, 'utf8').split('\n');
    r = await cli(['promote', 'canary', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    const afterPromote = readFileSync(manifest, 'utf8').split('\n');
    expect(afterPromote.filter((l, i) => l !== beforePromote[i])).toEqual([afterPromote.find((l) => /^ {2}mode: canary/.test(l))]);
    root = await getRoot();
    expect(root.mode).toBe('canary');
    expect(root.xMode).toBe('canary');

    // chaos: every ordinary request fails
    r = await cli(['chaos', 'error', '--rate', '1.0']);
    expect(r.exitCode, r.stderr).toBe(0);

    // promote stable is denied, the manifest's bytes are untouched
    const shaBefore = sha256(manifest);
    r = await cli(['promote', 'stable', '--yes']);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toContain('error_rate_too_high');
    expect(r.stderr).toContain('manifest.yaml was not changed');
    expect(sha256(manifest)).toBe(shaBefore);

    // rollback works although the canary is failing (it is not gated)
    r = await cli(['rollback', '--yes', '--reason', 'canary returns 500s']);
    expect(r.exitCode, r.stderr).toBe(0);
    root = await getRoot();
    expect(root).toEqual({ mode: 'stable', xMode: null, deployedBy: 'swiftdeploy' });

    // promote canary again, recover, promote stable allowed
    r = await cli(['promote', 'canary', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    r = await cli(['chaos', 'recover']);
    expect(r.exitCode, r.stderr).toBe(0);
    r = await cli(['promote', 'stable', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await getRoot()).mode).toBe('stable');

    // audit: a report and a verified chain
    r = await cli(['audit']);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = readFileSync(path.join(project.dir, 'audit_report.md'), 'utf8');
    expect(report).toContain('error\\_rate\\_too\\_high');
    expect(report).toContain(ACTOR);
    expect(report).toContain('canary returns 500s');
    r = await cli(['audit', 'verify']);
    expect(r.exitCode, r.stderr).toBe(0);

    // a second promote while one holds the lock: exit 5 naming the holder
    const first: ResultPromise = cli(['promote', 'canary', '--yes']);
    const lockFile = path.join(project.dir, '.swiftdeploy', 'lock');
    const deadline = Date.now() + 20_000;
    while (!existsSync(lockFile) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    const second = await cli(['promote', 'canary', '--yes']);
    expect(second.exitCode, second.stderr).toBe(5);
    expect(second.stderr).toMatch(new RegExp(`locked by ${ACTOR} on .+ \\(pid \\d+\\) since .+: promote canary`));
    expect((await first).exitCode).toBe(0);

    // Ctrl-C after the manifest changed: the switch is undone, not left half way (exit 130)
    const canaryBytes = readFileSync(manifest);
    const interrupted = cli(['promote', 'stable', '--yes']);
    const changeDeadline = Date.now() + 60_000;
    while (readFileSync(manifest).equals(canaryBytes) && Date.now() < changeDeadline) await new Promise((res) => setTimeout(res, 100));
    expect(readFileSync(manifest).equals(canaryBytes), 'promote stable never changed the manifest').toBe(false);
    interrupted.kill('SIGINT');
    const aborted = await interrupted;
    expect(aborted.exitCode, aborted.stderr).toBe(130);
    expect(aborted.stderr).toContain('SIGINT received: finishing the current step, then rolling back to canary');
    expect(readFileSync(manifest).equals(canaryBytes)).toBe(true);
    root = await getRoot();
    expect([root.mode, root.xMode]).toEqual(['canary', 'canary']);
    const lastRecord = JSON.parse(readFileSync(historyFile, 'utf8').trim().split('\n').at(-1)!);
    expect(lastRecord.payload).toMatchObject({ action: 'promote', stage: 'rolled_back' });
    expect(lastRecord.payload.detail).toContain('interrupted by SIGINT');
    expect(existsSync(path.join(project.dir, '.swiftdeploy', 'lock'))).toBe(false);

    const stats = await traffic!.stop();
    traffic = undefined;
    console.info(`e2e: client traffic during the scenario: ${stats.ok} ok, ${stats.failed} failed (chaos made some fail on purpose)`);

    // teardown --clean; init restores byte-identical files
    const generated = ['docker-compose.yml', 'nginx/nginx.conf'].map((f) => path.join(project.dir, f));
    const bytes = generated.map((f) => readFileSync(f));
    r = await cli(['teardown', '--clean', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await containers()).toEqual([]);
    for (const f of generated) expect(existsSync(f)).toBe(false);
    for (const kept of ['manifest.yaml', 'history.jsonl', 'audit_report.md']) expect(existsSync(path.join(project.dir, kept))).toBe(true);
    r = await cli(['init']);
    expect(r.exitCode, r.stderr).toBe(0);
    generated.forEach((f, i) => expect(readFileSync(f).equals(bytes[i]!)).toBe(true));
    expect(await removeComposeProject(project.projectName)).toEqual([]);
  });
});
