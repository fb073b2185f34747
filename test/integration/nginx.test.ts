import { existsSync, readFileSync } from 'node:fs';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseManifest } from '../../src/manifest/load.js';
import { nginxForSuite, suiteTempDirs } from '../helpers/nginx.js';
import { renderAll } from '../../src/render/render.js';
import { freePort } from '../helpers/opa-server.mjs';

/**
 * The rendered nginx.conf against a real nginx (`nginx -t`), and `swiftdeploy validate` as a
 * process in a temp project. nginx resolves `app` only at request time (the upstream is a variable),
 * so `-t` works without Docker's DNS.
 */
const BIN = fileURLToPath(new URL('../../bin/swiftdeploy', import.meta.url));
const DEFAULT_MANIFEST = readFileSync(fileURLToPath(new URL('../../manifest.yaml', import.meta.url)), 'utf8');

const { nginx: NGINX, skip: NGINX_SKIP } = nginxForSuite();
const tempDir = suiteTempDirs();

function variant(change: (doc: Record<string, Record<string, unknown>>) => void): string {
  const doc = YAML.parse(DEFAULT_MANIFEST) as Record<string, Record<string, unknown>>;
  change(doc);
  return YAML.stringify(doc);
}

async function renderedConf(manifestText: string): Promise<string> {
  const files = await renderAll(parseManifest(manifestText, 'manifest.yaml'), { policiesDir: './policies' });
  return files.find((f) => f.relPath === 'nginx/nginx.conf')!.content;
}

/** `nginx -t` on `conf`; stdout to /dev/null because the config logs to /dev/stdout. */
async function nginxTest(conf: string) {
  const dir = await tempDir('swiftdeploy-nginx-t-');
  const file = path.join(dir, 'nginx.conf');
  await writeFile(file, conf);
  return execa(NGINX!, ['-t', '-q', '-c', file], { reject: false, stdout: 'ignore', stdin: 'ignore' });
}

describe.skipIf(NGINX_SKIP !== undefined)('nginx -t on the rendered nginx.conf', () => {
  it('accepts the default manifest', async () => {
    const r = await nginxTest(await renderedConf(DEFAULT_MANIFEST));
    expect(r.exitCode, r.stderr).toBe(0);
  });

  const variants: Array<[string, (d: Record<string, Record<string, unknown>>) => void]> = [
    ['lowest ports and timeout', (d) => Object.assign(d.nginx!, { port: 1, proxy_timeout: 1 }) && Object.assign(d.services!, { port: 1 })],
    ['highest ports and timeout', (d) => Object.assign(d.nginx!, { port: 65535, proxy_timeout: 3600 }) && Object.assign(d.services!, { port: 65535 })],
    ['a proxy timeout shorter than the default', (d) => Object.assign(d.nginx!, { proxy_timeout: 3 })],
    ['an error contact with + and %', (d) => Object.assign(d.nginx!, { error_contact: 'sre+pager%eu@ops.example.co.uk' })],
    ['an external OPA', (d) => Object.assign(d.opa!, { url: 'https://opa.internal:8181' })],
  ];
  for (const [name, change] of variants) {
    it(`accepts a variant: ${name}`, async () => {
      const r = await nginxTest(await renderedConf(variant(change)));
      expect(r.exitCode, r.stderr).toBe(0);
    });
  }

  it('rejects a broken config (control: proves nginx -t really checks the file)', async () => {
    const conf = (await renderedConf(DEFAULT_MANIFEST)).replace('proxy_read_timeout 30s;', 'proxy_read_timeout 30s');
    const r = await nginxTest(conf);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/emerg/);
  });
});

/** A port nothing listens on right now (bound and released). */

interface Check {
  tag: string;
  id: string;
  detail: string;
}
function parseChecks(stdout: string): Check[] {
  return [...stdout.matchAll(/^\[(PASS|FAIL|SKIP)\] ([a-z-]+): (.*)$/gm)].map((m) => ({ tag: m[1]!, id: m[2]!, detail: m[3]! }));
}
const byId = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.id, c]));

describe('swiftdeploy validate as a process', () => {
  let dir = '';
  let nginxPort = 0;
  let engineUp = false;

  beforeAll(async () => {
    const info = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { reject: false, timeout: 20_000 });
    engineUp = info.exitCode === 0;
    console.log(`validate tests: Docker engine ${engineUp ? `reachable (${info.stdout.trim()})` : 'not reachable: docker-engine must FAIL'}`);
    dir = await tempDir('swiftdeploy-validate-');
    nginxPort = await freePort();
    const opaPort = await freePort();
    // A unique project name and free ports, so nothing else on this machine looks like "our stack".
    const text = variant((d) => {
      d.project!.name = `sdtest-${process.pid}`;
      d.nginx!.port = nginxPort;
      d.opa!.port = opaPort;
    });
    await writeFile(path.join(dir, 'manifest.yaml'), text);
    const init = await execa(BIN, ['init'], { cwd: dir, reject: false });
    expect(init.exitCode, init.stderr).toBe(0);
  }, 60_000);

  it('passes in a freshly initialised project: one line per check, a summary, exit 0 when the engine is up', async () => {
    const r = await execa(BIN, ['validate'], { cwd: dir, reject: false, env: { NO_COLOR: '1' } });
    const checks = parseChecks(r.stdout);
    const c = byId(checks);
    expect(checks.map((x) => x.id)).toEqual(['manifest', 'templates', 'generated', 'nginx-config', 'compose-config', 'ports', 'docker-engine', 'app-image']);
    for (const id of ['manifest', 'templates', 'generated', 'ports']) expect(c[id]!.tag, `${id}: ${c[id]!.detail}`).toBe('PASS');
    if (!NGINX_SKIP) expect(c['nginx-config']!.tag, c['nginx-config']!.detail).toBe('PASS');
    expect(['PASS', 'SKIP']).toContain(c['compose-config']!.tag);
    expect(c['docker-engine']!.tag).toBe(engineUp ? 'PASS' : 'FAIL');
    expect(c['app-image']!.tag).toBe(engineUp ? 'PASS' : 'SKIP'); // services.build is set: deploy builds it
    const fails = checks.filter((x) => x.tag === 'FAIL').length;
    const lines = r.stdout.trim().split('\n');
    expect(lines[lines.length - 1]).toBe(
      `validate: ${checks.filter((x) => x.tag === 'PASS').length} passed, ${fails} failed, ${checks.filter((x) => x.tag === 'SKIP').length} skipped`,
    );
    expect(r.exitCode).toBe(fails === 0 ? 0 : 1);
    if (engineUp && !NGINX_SKIP) expect(r.exitCode, r.stdout).toBe(0);
  }, 120_000);

  it('--json gives the same checks as one JSON document', async () => {
    const r = await execa(BIN, ['validate', '--json'], { cwd: dir, reject: false });
    const doc = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ id: string; status: string }>; summary: { failed: number } };
    expect(doc.checks.map((x) => x.id)).toContain('generated');
    expect(doc.ok).toBe(doc.summary.failed === 0);
    expect(r.exitCode).toBe(doc.ok ? 0 : 1);
  }, 120_000);

  it('a hand-edited generated file is [FAIL] generated and exit 1', async () => {
    const conf = path.join(dir, 'nginx', 'nginx.conf');
    const original = await readFile(conf, 'utf8');
    try {
      await writeFile(conf, original.replace('worker_connections 1024;', 'worker_connections 4096;'));
      const r = await execa(BIN, ['validate'], { cwd: dir, reject: false, env: { NO_COLOR: '1' } });
      const generated = byId(parseChecks(r.stdout)).generated!;
      expect(generated.tag).toBe('FAIL');
      expect(generated.detail).toContain('nginx/nginx.conf was edited by hand');
      expect(r.exitCode).toBe(1);
    } finally {
      await writeFile(conf, original);
    }
  }, 120_000);

  it('an occupied nginx port (a real listening socket) is [FAIL] ports and exit 1', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '0.0.0.0', port: nginxPort }, resolve);
    });
    try {
      const r = await execa(BIN, ['validate'], { cwd: dir, reject: false, env: { NO_COLOR: '1' } });
      const ports = byId(parseChecks(r.stdout)).ports!;
      expect(ports.tag).toBe('FAIL');
      expect(ports.detail).toBe(`nginx port ${nginxPort} is in use by another process`);
      expect(r.exitCode).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }, 120_000);

  it('an invalid manifest is [FAIL] manifest with the key path, the rest skipped, exit 1', async () => {
    const bad = await tempDir('swiftdeploy-validate-bad-');
    await copyFile(path.join(dir, 'manifest.yaml'), path.join(bad, 'manifest.yaml'));
    const m = path.join(bad, 'manifest.yaml');
    await writeFile(m, (await readFile(m, 'utf8')).replace('proxy_timeout: 30', 'proxy_timeout: "30s"'));
    const r = await execa(BIN, ['validate'], { cwd: bad, reject: false, env: { NO_COLOR: '1' } });
    const checks = parseChecks(r.stdout);
    expect(checks[0]!.tag).toBe('FAIL');
    expect(r.stdout).toContain('nginx.proxy_timeout: expected an integer from 1 to 3600 seconds, got "30s"');
    expect(checks.slice(1).every((x) => x.tag === 'SKIP' && x.detail === 'needs a valid manifest')).toBe(true);
    expect(r.exitCode).toBe(1);
    expect(existsSync(path.join(bad, 'docker-compose.yml'))).toBe(false);
  }, 120_000);
});
