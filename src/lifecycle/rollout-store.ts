/**
 * The rollout state file `.swiftdeploy/rollout.json`. It is never written on its own: the driver
 * plans its new content beside the re-rendered nginx.conf / docker-compose.yml and writes them all
 * through `changeFiles` (one intent with every file's sha256 before and after, then the atomic writes,
 * then the outcome), so a crash leaves either the old state and files or the new ones, recorded.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { OperationFailed } from '../errors.js';
import { canonicalJson } from '../util/canonical-json.js';
import { ROLLOUT_REL, STATE_DIR } from '../util/project-paths.js';
import type { Rollout } from '../render/context.js';
import { hasCanaryTrack, rolloutStateSchema, type RolloutState } from './rollout-state.js';

/** Where a project's rollout state lives, given its resolved state directory. */
export function rolloutFileIn(stateDir: string): string {
  return path.join(stateDir, path.basename(ROLLOUT_REL));
}

/** The file's bytes for a state: canonical JSON (sorted keys), one line. */
export function rolloutFileContent(state: RolloutState): string {
  return `${canonicalJson(rolloutStateSchema.parse(state))}\n`;
}

/** The current rollout, or undefined when there has never been one here. A damaged file fails loudly. */
export async function readRollout(file: string): Promise<RolloutState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const damaged = (what: string) =>
    new OperationFailed(
      `${STATE_DIR}/${path.basename(file)} is damaged (${what}); swiftdeploy writes it only with the rendered files, ` +
        'under the project lock, write-ahead. The ledger holds the rollout\'s steps (`swiftdeploy audit`); ' +
        'move the file aside and run `swiftdeploy deploy` to converge on the stable track.',
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw damaged(`not JSON: ${(err as Error).message}`);
  }
  const parsed = rolloutStateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw damaged(`${issue?.path.join('.') || '(top level)'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** The weight nginx.conf and docker-compose.yml are rendered for, given the rollout state. */
export function renderedRollout(state: RolloutState | undefined): Rollout | undefined {
  return state !== undefined && hasCanaryTrack(state) ? { weight: state.weight } : undefined;
}

/** The weight a project's files are rendered at now (undefined: no rollout with a canary track), from its own directory. */
export async function projectRollout(projectDir: string): Promise<Rollout | undefined> {
  return renderedRollout(await readRollout(path.join(projectDir, ROLLOUT_REL)));
}
