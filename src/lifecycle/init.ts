import { EXIT, type ExitCode } from '../errors.js';
import { planGenerate, type GenerateResult } from '../render/generate.js';
import { withProjectLock } from './locking.js';
import { Session, type Operator } from './session.js';
import { removeStaleTemps } from '../util/stale-temps.js';
import { changeFiles } from './wal.js';
import { readRollout, renderedRollout, rolloutFileIn } from './rollout-store.js';

/**
 * init: render the derived files under the project lock, write-ahead: the intent (each file's sha256
 * before and after) is recorded before the first write, the outcome after the last.
 */
export async function initProject(manifestPath: string, operator: Operator, options: { force?: boolean } = {}): Promise<{ code: ExitCode; result: GenerateResult }> {
  const session = await Session.open(manifestPath, operator, 'init');
  return withProjectLock(session, 'init', {}, async () => {
    // During a progressive rollout the files are rendered at its weight, with the canary track.
    const plans = await planGenerate(session.loaded, { ...options, rollout: renderedRollout(await readRollout(rolloutFileIn(session.stateDir))) });
    const rel = (abs: string) => abs.slice(session.loaded.projectDir.length + 1);
    const toWrite = plans.filter((p) => !p.unchanged);
    // A file with nothing to write still gets the temp files a killed writer left beside it removed
    // (a write does that itself, in writeFileAtomic).
    for (const p of plans) if (p.unchanged) await removeStaleTemps(p.abs);
    // Re-running init with nothing to change is not an event worth a history line.
    if (toWrite.length > 0) {
      await changeFiles(session, toWrite, {
        detail: `render ${toWrite.map((p) => rel(p.abs)).join(', ')}${options.force ? ' (--force)' : ''}`,
        command: options.force ? 'init --force' : 'init',
      });
    }
    const result: GenerateResult = { files: plans.map((p) => ({ path: p.abs, action: p.unchanged ? 'unchanged' : 'written' })) };
    return { code: EXIT.OK, result };
  });
}
