import { Agent, request } from 'undici';
import { OperationFailed } from '../errors.js';
import { setServicesMode } from '../manifest/edit.js';
import { parseManifest, sha256Hex, type LoadedManifest } from '../manifest/load.js';
import type { AppMode } from '../manifest/schema.js';
import { planGenerate } from '../render/generate.js';
import { pollHealth } from '../runtime/health.js';
import { pollUntil } from '../util/poll-until.js';
import type { Session } from './session.js';
import type { Engine } from '../runtime/engine.js';
import { changeFiles, performEffect } from './wal.js';

/** What GET / through nginx says about the running app. */
export interface LiveMode {
  mode: string | null;
  /** Whether the response carried `X-Mode: canary`. */
  canaryHeader: boolean;
  status: number;
}

export async function liveMode(url: string, timeoutMs = 3000): Promise<LiveMode> {
  const agent = new Agent({ pipelining: 0 });
  try {
    const res = await request(url, { dispatcher: agent, signal: AbortSignal.timeout(timeoutMs), headers: { connection: 'close' } });
    const text = await res.body.text();
    let mode: string | null = null;
    try {
      const body = JSON.parse(text) as { mode?: unknown };
      mode = typeof body.mode === 'string' ? body.mode : null;
    } catch {
      mode = null;
    }
    return { mode, canaryHeader: res.headers['x-mode'] === 'canary', status: res.statusCode };
  } finally {
    await agent.close();
  }
}

/** The body and the header must both agree with the target: canary has `X-Mode: canary`, stable has none. */
export function modeConfirmed(live: LiveMode, target: AppMode): boolean {
  return live.status === 200 && live.mode === target && live.canaryHeader === (target === 'canary');
}

/** The one manifest line that changes, for the plan. */
export function manifestLineChange(before: string, after: string): { line: number; from: string; to: string } | undefined {
  const a = before.split('\n');
  const b = after.split('\n');
  const i = a.findIndex((l, n) => l !== b[n]);
  return i < 0 ? undefined : { line: i + 1, from: a[i]!, to: b[i]! };
}

/**
 * Write the manifest with `services.mode = target` (one line, atomically), re-render, recreate only
 * the app container, then confirm: healthy through nginx, and GET / shows the target mode in body
 * and header. Throws OperationFailed with the cause at the first step that fails. Two write-ahead
 * steps: the files (writeModeFiles), then the container (an effect).
 */
export async function applyMode(session: Session, engine: Engine, target: AppMode, manifestText: string): Promise<void> {
  const { out } = session;
  await writeModeFiles(session, target, manifestText);
  await performEffect(
    session,
    `replace the app container with one in ${target} mode and confirm it through nginx`,
    async () => {
      out.info(`replacing the app container with one in ${target} mode, start-before-stop (nginx and OPA untouched)`);
      await engine.replaceApp(session.manifest.services.health_timeout_seconds * 1000);
      await confirmMode(session, target);
    },
    { command: `${session.action} ${target}` },
  );
}

/**
 * The file part of a mode switch, write-ahead: one intent naming the manifest and every generated
 * file that changes with their sha256 before and after, then the writes (manifest first, each
 * atomic), then the outcome; the session then reads the new manifest. A drifted generated file is
 * refused before anything is written.
 */
export async function writeModeFiles(session: Session, target: AppMode, manifestText: string): Promise<void> {
  const current = session.loaded;
  const next: LoadedManifest = { ...current, text: manifestText, sha256: sha256Hex(manifestText), manifest: parseManifest(manifestText, current.file) };
  const plans = (await planGenerate(next)).filter((p) => !p.unchanged);
  await changeFiles(session, [{ abs: current.file, content: manifestText }, ...plans], {
    detail: `services.mode ${current.manifest.services.mode} -> ${target} in ${current.file.slice(current.projectDir.length + 1)}; re-render`,
    command: `${session.action} ${target}`,
    extra: { from_mode: current.manifest.services.mode, to_mode: target },
  });
  await session.reload();
}

export async function confirmMode(session: Session, target: AppMode): Promise<void> {
  const { out } = session;
  const m = session.manifest;
  const poll = out.progress(`confirming ${target} through nginx`);
  const health = await pollHealth(session.nginxUrl('/healthz'), {
    intervalMs: 500,
    timeoutMs: m.services.health_timeout_seconds * 1000,
    onTick: (t) => poll.update(t.status !== undefined ? `/healthz HTTP ${t.status}` : (t.error ?? '')),
  });
  if (!health.healthy) {
    poll.done('not healthy');
    throw new OperationFailed(`the app did not become healthy through nginx within ${m.services.health_timeout_seconds}s`);
  }
  // nginx re-resolves the app's new address within its resolver `valid` time: allow a few seconds.
  let last: LiveMode | undefined;
  let lastError = '';
  const polled = await pollUntil<LiveMode | undefined>({
    intervalMs: 500,
    timeoutMs: 15_000,
    probe: () =>
      liveMode(session.nginxUrl('/')).catch((err: unknown) => {
        lastError = (err as Error).message;
        return undefined;
      }),
    onObservation: (live) => {
      if (!live) return;
      last = live;
      if (!modeConfirmed(live, target)) poll.update(`GET / says mode=${live.mode ?? '?'} x-mode=${live.canaryHeader ? 'canary' : 'absent'}`);
    },
    until: (live) => live !== undefined && modeConfirmed(live, target),
  });
  if (polled.outcome === 'done') {
    poll.done(`confirmed: GET / reports mode ${target}${target === 'canary' ? ' with X-Mode: canary' : ' without X-Mode'}`);
    return;
  }
  poll.done('mode not confirmed');
  throw new OperationFailed(
    `GET / through nginx did not confirm mode ${target}: ` +
      (last ? `got HTTP ${last.status}, mode ${last.mode ?? 'none'}, X-Mode ${last.canaryHeader ? 'canary' : 'absent'}` : lastError),
  );
}

/** Build the new manifest text for a mode switch (one line changed). */
export function manifestWithMode(session: Session, target: AppMode): string {
  return setServicesMode(session.loaded.text, target, session.loaded.file);
}
