/**
 * The swarm replica scraper as a command sequence: a RecordingRunner plays the Docker CLI
 * (test/helpers/swarm-replicas.ts), and each `docker exec` runs the real script with the real node
 * against a real app server on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import { replicaScraper } from '../../src/runtime/replica-scraper.js';
import { execScrapeMetrics, localTaskContainers, serviceTasks, SCRAPE_METRICS_SCRIPT } from '../../src/runtime/swarm-argv.js';
import type { RecordingRunner } from '../helpers/recording-runner.js';
import { replicaDockerCli } from '../helpers/swarm-replicas.js';
import { startApp, statusesOf, type RunningApp } from './app.harness.js';

const APP_PORT = 3000;
const C1 = 'a'.repeat(64);
const C2 = 'b'.repeat(64);

const apps: RunningApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

/** Four tasks listed, two of them with a container on this node. */
function dockerCli(byContainer: Record<string, RunningApp>): RecordingRunner {
  const here = (id: string) => (byContainer[id] ? { container: { id, url: byContainer[id].url } } : { container: { id, url: 'http://127.0.0.1:1' } });
  return replicaDockerCli(() => [
    { id: 't1', name: 'shop_app.1', node: 'manager', state: 'Running 2 minutes ago', ...here(C1) },
    { id: 't2', name: 'shop_app.2', node: 'manager', state: 'Running 2 minutes ago', ...here(C2) },
    { id: 't3', name: 'shop_app.3', node: 'worker-2', state: 'Running 1 minute ago' },
    { id: 't4', name: 'shop_app.4', node: 'manager', state: 'Starting 3 seconds ago' },
  ]);
}

describe('the swarm replica scraper', () => {
  it('argv: every node\'s running tasks of <stack>_app, this node\'s containers by task label, node inside the container', () => {
    expect(serviceTasks('shop', 'app')).toEqual(['docker', 'service', 'ps', '--no-trunc', '--filter', 'desired-state=running', '--format', '{{json .}}', 'shop_app']);
    expect(localTaskContainers('shop', 'app')).toEqual([
      'docker', 'ps', '--no-trunc', '--filter', 'label=com.docker.swarm.service.name=shop_app', '--format', '{{.ID}} {{.Label "com.docker.swarm.task.id"}}',
    ]);
    expect(execScrapeMetrics(C1, 3000, 2000)).toEqual(['docker', 'exec', C1, 'node', '-e', SCRAPE_METRICS_SCRIPT, '3000', '2000']);
    expect(() => execScrapeMetrics('--privileged', 3000, 2000)).toThrow(/not a container id/);
  });

  it('lists, matches, and scrapes each local running task; a task elsewhere or not yet running is reported, not scraped', async () => {
    const [a, b] = [await startApp(), await startApp()];
    apps.push(a, b);
    await statusesOf(`${a.url}/`, 3);
    await statusesOf(`${b.url}/`, 5);
    const r = dockerCli({ [C1]: a, [C2]: b });
    let t = 1000;
    const scrapes = await replicaScraper({ stack: 'shop', port: APP_PORT, run: r.run, now: () => ++t })();

    expect(r.calls.map((c) => c.argv)).toEqual([
      serviceTasks('shop', 'app'),
      localTaskContainers('shop', 'app'),
      execScrapeMetrics(C1, APP_PORT, 2000),
      execScrapeMetrics(C2, APP_PORT, 2000),
    ]);
    expect(scrapes.map((s) => [s.task, s.name, s.node, s.snapshot === null ? s.error : 'scraped'])).toEqual([
      ['t1', 'shop_app.1', 'manager', 'scraped'],
      ['t2', 'shop_app.2', 'manager', 'scraped'],
      ['t3', 'shop_app.3', 'worker-2', "not scraped: on node worker-2, and docker exec reaches this node's containers only"],
      ['t4', 'shop_app.4', 'manager', 'not running: Starting 3 seconds ago'],
    ]);
    // only a task not running yet is marked pending (new, not one that missed its scrape)
    expect(scrapes.map((s) => s.pending ?? false)).toEqual([false, false, false, true]);
    const served = (i: number) =>
      scrapes[i]!.snapshot!.samples.filter((s) => s.name === 'http_requests_total' && s.labels.path === '/').reduce((sum, s) => sum + s.value, 0);
    expect([served(0), served(1)]).toEqual([3, 5]);
  });

  it('a replica that does not answer is that replica\'s error; a listing that fails is the scrape\'s', async () => {
    const a = await startApp();
    const gone = await startApp();
    apps.push(a);
    await gone.close();
    const r = dockerCli({ [C1]: a, [C2]: gone });
    const scrapes = await replicaScraper({ stack: 'shop', port: APP_PORT, run: r.run })();
    expect(scrapes[0]!.snapshot).not.toBeNull();
    expect(scrapes[1]!.snapshot).toBeNull();
    // The real script's own message from inside the "container": node's fetch could not connect.
    expect(scrapes[1]!.error).toMatch(/^cannot scrape: fetch failed/);

    r.failNext(['docker', 'service', 'ps'], { exitCode: 1, stderr: 'Error: no such service: shop_app' });
    await expect(replicaScraper({ stack: 'shop', port: APP_PORT, run: r.run })()).rejects.toThrow(RuntimeError);
    await expect(replicaScraper({ stack: 'shop', port: APP_PORT, run: r.run })()).resolves.toHaveLength(4);
  });
});
