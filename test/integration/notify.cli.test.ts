/**
 * `swiftdeploy notify test` as a user runs it: the built CLI in a child process, a temp project
 * whose manifest lists real receivers on 127.0.0.1; one line per webhook, exit codes, --json, and
 * the deliveries in history.jsonl.
 */
import { execa } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/notify/sign.js';
import { testManifest } from '../helpers/manifest.js';
import { freePort } from '../helpers/opa.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = process.env.SWIFTDEPLOY_TEST_BIN ?? path.join(ROOT, 'bin/swiftdeploy');
const SECRET = 'cli-test-secret-9f8e7d';

let dir: string;
const receivers: Receiver[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sd-notify-cli-'));
});
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  await rm(dir, { recursive: true, force: true });
});

const run = (args: string[], env: Record<string, string> = {}) =>
  execa(BIN, args, { cwd: dir, reject: false, env: { SWIFTDEPLOY_ACTOR: 'alice@example.com', NO_COLOR: '1', SD_SECRET: SECRET, ...env } });
const history = async () => (await readFile(path.join(dir, 'history.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { actor: string; payload: Record<string, unknown> });

async function project(notifications: unknown[] | undefined): Promise<void> {
  await writeFile(path.join(dir, 'manifest.yaml'), testManifest(notifications === undefined ? {} : { notifications }));
}

describe('swiftdeploy notify test', () => {
  it('every webhook, whatever its events filter, gets a signed notify_test; one line each; exit 0; recorded', async () => {
    const [a, b] = [await startReceiver(), await startReceiver()];
    receivers.push(a, b);
    await project([
      { url: `${a.url}/hook`, format: 'generic', secret_env: 'SD_SECRET', events: ['deny'] },
      { url_env: 'SD_SLACK_URL', format: 'slack', secret_env: 'SD_SECRET' },
    ]);
    const r = await run(['notify', 'test'], { SD_SLACK_URL: `${b.url}/services/T1/B2/secretpart` });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^webhook 0 ${a.url} \\(generic\\): delivered, 1 attempt, HTTP 200, \\d+ ms$`));
    expect(lines[1]).toMatch(new RegExp(`^webhook 1 ${b.url} \\(slack\\): delivered, 1 attempt, HTTP 200, \\d+ ms$`));
    expect(r.stdout).not.toContain('secretpart');
    const generic = JSON.parse(a.received[0]!.body) as Record<string, unknown>;
    expect(generic).toMatchObject({ event: 'notify_test', actor: 'alice@example.com' });
    const slack = JSON.parse(b.received[0]!.body) as { text: string; blocks: unknown[] };
    expect(slack.text).toMatch(/^swiftdeploy test notification for /);
    for (const req of [a.received[0]!, b.received[0]!]) expect(verifySignature(req.headers['x-swiftdeploy-signature'] as string, req.body, SECRET).ok).toBe(true);
    const records = await history();
    expect(records.map((x) => [x.actor, x.payload.action, x.payload.stage])).toEqual([
      ['alice@example.com', 'notify', 'delivered'],
      ['alice@example.com', 'notify', 'delivered'],
    ]);
    const text = await readFile(path.join(dir, 'history.jsonl'), 'utf8');
    expect(text).not.toContain('secretpart');
    expect(text).not.toContain(SECRET);
  });

  it('--json: one document with every delivery; a dead webhook makes it exit 1 within its budget', async () => {
    const a = await startReceiver();
    receivers.push(a);
    const dead = `http://127.0.0.1:${await freePort()}`;
    await project([
      { url: a.url, format: 'generic', secret_env: 'SD_SECRET' },
      { url: dead, format: 'generic', secret_env: 'SD_SECRET', budget_seconds: 1 },
      { url: a.url, format: 'generic', secret_env: 'SD_UNSET_SECRET' },
    ]);
    const r = await run(['notify', 'test', '--json']);
    expect(r.exitCode).toBe(1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; deliveries: Array<Record<string, unknown>> };
    expect(doc.ok).toBe(false);
    expect(doc.deliveries).toEqual([
      expect.objectContaining({ delivered: true, attempts: 1, status: 200, webhook: { index: 0, origin: a.url, format: 'generic' } }),
      expect.objectContaining({ delivered: false, webhook: { index: 1, origin: dead, format: 'generic' }, error: expect.stringMatching(/ECONNREFUSED/) }),
      expect.objectContaining({ delivered: false, attempts: 0, error: 'environment variable SD_UNSET_SECRET is not set' }),
    ]);
    expect(doc.deliveries[1]!.elapsed_ms as number).toBeLessThan(1400);
    expect((await history()).map((x) => x.payload.stage)).toEqual(['delivered', 'undelivered', 'undelivered']);
  });

  it('without `notifications:` it says so and exits 2, recording nothing', async () => {
    await project(undefined);
    const r = await run(['notify', 'test']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/no `notifications:` in the manifest/);
    await expect(readFile(path.join(dir, 'history.jsonl'), 'utf8')).rejects.toThrow(/ENOENT/);
  });
});
