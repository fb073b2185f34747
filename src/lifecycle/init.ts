import { EXIT, type ExitCode } from '../errors.js';
import { generateProject, type GenerateResult } from '../render/generate.js';
import { withProjectLock } from './locking.js';
import { Session, type Operator } from './session.js';

/** init: render the derived files under the project lock, and record what was written. */
export async function initProject(manifestPath: string, operator: Operator, options: { force?: boolean } = {}): Promise<{ code: ExitCode; result: GenerateResult }> {
  const session = await Session.open(manifestPath, operator, 'init');
  return withProjectLock(session, 'init', {}, async () => {
    const result = await generateProject(session.loaded, options);
    const written = result.files.filter((f) => f.action === 'written');
    // Re-running init with nothing to change is not an event worth a history line.
    if (written.length > 0) {
      await session.event('executed', { detail: `rendered ${written.map((f) => f.path.slice(session.loaded.projectDir.length + 1)).join(', ')}${options.force ? ' (--force)' : ''}` });
    }
    return { code: EXIT.OK, result };
  });
}
