import path from 'node:path';
import { Agent, request } from 'undici';
import { EXIT, OperationFailed, UsageError, type ExitCode } from '../errors.js';
import { hasCanaryTrack } from './rollout-state.js';
import { readRollout, rolloutFileIn } from './rollout-store.js';
import { CHAOS_TOKEN_FILE, readChaosToken } from '../runtime/chaos-token.js';
import { withProjectLock, type LockOptions } from './locking.js';
import { Session, type Operator } from './session.js';
import { performEffect } from './wal.js';

export type ChaosCommand = { mode: 'slow'; duration: number } | { mode: 'error'; rate: number } | { mode: 'recover' };

/**
 * POST /chaos through nginx with the project's token; recorded, since it changes what users see.
 * Locked like every mutating command, and write-ahead: the intent is recorded before the request.
 */
export interface ChaosOptions extends LockOptions {
  /** During a progressive rollout: inject into one track only (through its own nginx location). */
  track?: 'stable' | 'canary';
}

export async function chaos(manifestPath: string, operator: Operator, command: ChaosCommand, options: ChaosOptions = {}): Promise<ExitCode> {
  const session = await Session.open(manifestPath, operator, 'chaos');
  const tokenFile = path.join(session.stateDir, CHAOS_TOKEN_FILE);
  const token = await readChaosToken(session.stateDir);
  if (!token) throw new OperationFailed(`no chaos token at ${tokenFile}: deploy the stack first`);
  const base = command.mode === 'slow' ? `slow ${command.duration}s` : command.mode === 'error' ? `error rate ${command.rate}` : 'recover';
  const what = options.track ? `${base} (${options.track} track)` : base;
  return withProjectLock(session, `chaos ${what}`, options, async () => {
    if (options.track && !hasCanaryTrack(await readRollout(rolloutFileIn(session.stateDir)))) {
      throw new UsageError(`chaos --track ${options.track}: no progressive rollout is under way, so there is one track; drop --track`);
    }
    const url = session.nginxUrl(options.track ? `/__swiftdeploy/tracks/${options.track}/chaos` : '/chaos');
    let refused: { status: number; body: string } | undefined;
    const body = await performEffect(
      session,
      `POST /chaos ${what}`,
      async () => {
        const agent = new Agent({ pipelining: 0 });
        let status: number;
        let text: string;
        try {
          const res = await request(url, {
            method: 'POST',
            dispatcher: agent,
            signal: AbortSignal.timeout(5000),
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, connection: 'close' },
            body: JSON.stringify(command),
          });
          status = res.statusCode;
          text = await res.body.text();
        } catch (err) {
          throw new OperationFailed(`cannot reach ${url}: ${(err as Error).message}`);
        } finally {
          await agent.close();
        }
        if (status !== 200) {
          refused = { status, body: text };
          throw new OperationFailed(`chaos ${what}: the app answered HTTP ${status}: ${text.slice(0, 200)}`);
        }
        return text;
      },
      {
        command: `chaos ${what}`,
        // An answer other than 200 is the app refusing: nothing changed. No answer at all may mean
        // the request arrived and the reply was lost: unknown.
        failed: () => (refused !== undefined ? 'not_applied' : 'unknown'),
        extra: { chaos: command, ...(options.track ? { track: options.track } : {}) },
      },
    ).catch(async (err: unknown) => {
      if (refused !== undefined) await session.event('failed', { detail: `chaos ${what}: HTTP ${refused.status} ${refused.body.slice(0, 200)}` });
      throw err;
    });
    // The app's 200 is its acknowledgement that the new chaos state is in force.
    await session.event('confirmed', { detail: `chaos ${what}`, chaos: command, ...(options.track ? { track: options.track } : {}) });
    session.out.result(`chaos ${what}: accepted`, { ok: true, action: 'chaos', chaos: command, ...(options.track ? { track: options.track } : {}), response: safeJson(body) });
    return EXIT.OK;
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
