/**
 * A project for lifecycle tests whose engine is scripted: a real temp directory with a manifest
 * derived from the repository's, a RecordingRunner behind the real compose engine, a ComposeHost
 * answering it, and an nginx stand-in on the manifest's nginx port that routes to the real app in
 * the mode of the oldest running app container (nginx keeps the old one until it stops).
 */
import { eventRenderer } from '../../src/cli/render-events.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Output } from '../../src/cli/output.js';
import type { AppMode } from '../../src/app/config.js';
import { composeEngine, type LifecycleDeps } from '../../src/lifecycle/engine.js';
import type { Operator } from '../../src/lifecycle/session.js';
import { ComposeHost, type ComposeHostOptions } from './compose-host.js';
import { readEventRecords, type EventRecord } from './history.js';
import { testManifest, type ManifestChanges } from './manifest.js';
import { freePort } from './opa.js';
import { NginxStandIn } from './nginx-stand-in.js';
import { RecordingRunner } from './recording-runner.js';

export const PROJECT = 'sdseq';
export const APP_IMAGE = 'swiftdeploy-app:1.0.0';
export const NGINX_CONF_IN_CONTAINER = '/etc/swiftdeploy/nginx/nginx.conf';

export interface ScriptedProject {
  dir: string;
  manifest: string;
  composeFile: string;
  runner: RecordingRunner;
  host: ComposeHost;
  nginx: NginxStandIn;
  deps: LifecycleDeps;
  operator: Operator;
  /** Everything the operation printed on stderr and stdout. */
  text(): string;
  /** The compose argv prefix for this project and flavour, followed by `args`. */
  compose(...args: string[]): string[];
  argvs(): string[][];
  records(): Promise<EventRecord[]>;
  close(): Promise<void>;
}

export async function scriptedProject(
  changes: ManifestChanges,
  options: Partial<Pick<ComposeHostOptions, 'flavour' | 'images'>> = {},
): Promise<ScriptedProject> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sd-sequences-'));
  const nginxPort = await freePort();
  const manifest = path.join(dir, 'manifest.yaml');
  await writeFile(
    manifest,
    testManifest({
      'project.name': PROJECT,
      'services.image': APP_IMAGE,
      'services.build': undefined,
      'nginx.port': nginxPort,
      'policy.infrastructure.min_disk_free_gb': 0.001,
      'policy.infrastructure.max_cpu_load': 1000,
      'policy.infrastructure.min_memory_available_mb': 1,
      'policy.canary.window_seconds': 5,
      'policy.canary.min_requests': 1,
      ...changes,
    }),
  );
  const nginx = await NginxStandIn.start(nginxPort);
  const runner = new RecordingRunner();
  const flavour = options.flavour ?? 'v2';
  const host = new ComposeHost(runner, {
    flavour,
    images: options.images ?? [APP_IMAGE],
    onChange: (h) => nginx.serve((h.running('app')[0]?.mode as AppMode | undefined) ?? null),
  });
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  const out = new Output({ json: false, color: false, stdout: sink, stderr: sink, env: {} });
  const composeFile = path.join(dir, 'docker-compose.yml');
  const prefix =
    flavour === 'v2'
      ? ['docker', 'compose', '--ansi', 'never', '--progress', 'plain']
      : ['docker-compose', '--ansi', 'never'];
  return {
    dir,
    manifest,
    composeFile,
    runner,
    host,
    nginx,
    deps: { connectEngine: composeEngine({ run: runner.run }) },
    operator: { actor: 'dana@example.com', events: eventRenderer(out), yes: true },
    text: () => text,
    compose: (...args) => [...prefix, '--project-name', PROJECT, '--file', composeFile, ...args],
    argvs: () => runner.calls.map((c) => [...c.argv]),
    records: () => readEventRecords(path.join(dir, 'history.jsonl')),
    close: async () => {
      await nginx.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The probes detectDockerEnvironment runs, for the flavour. */
export function detection(flavour: 'v2' | 'v1' = 'v2'): string[][] {
  return [
    ['docker', '--version'],
    ['docker', 'version', '--format', '{{.Server.Version}}'],
    ['docker', 'compose', 'version', '--short'],
    ...(flavour === 'v1' ? [['docker-compose', 'version', '--short']] : []),
  ];
}

/** `stage` of each record, with the effect or outcome it belongs to where there is one. */
export function stages(records: EventRecord[]): string[] {
  return records.map((r) => r.payload.stage);
}

/** What the promise rejected with (a test that expects a failure must not pass on a success). */
export async function failure(run: Promise<unknown>): Promise<Error> {
  const r = await run.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!r) throw new Error('expected the operation to fail');
  return r;
}
