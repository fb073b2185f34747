/**
 * The one rule for tests whose engine may be absent: in CI (`CI=true`) a missing engine is a failure,
 * never a skip; on a developer machine the suite skips and says which set-up command brings it.
 */
import { findOpaBinary, OPA_SETUP_HINT } from '../../src/runtime/opa-binary.js';

export const IN_CI = process.env.CI === 'true';

export interface Engine {
  /** Where the engine is, or null when the suite should skip. */
  path: string | null;
  /** '' when present, else " (skipped: ...)" for a describe() title. */
  skipNote: string;
}

/** Present, or skip with the set-up hint, or (in CI) throw so the test file fails. */
export function engineOrSkip(name: string, found: string | null, hint: string): Engine {
  if (found) return { path: found, skipNote: '' };
  const why = `${name} is missing: ${hint}`;
  if (IN_CI) throw new Error(`CI=true and ${why}. A missing engine fails in CI; it is never a skip.`);
  console.warn(`[tests] ${why}`);
  return { path: null, skipNote: ` (skipped: ${why})` };
}

/** The pinned OPA binary (src/runtime/opa-binary.ts finds it). */
export function requireOpa(): Engine {
  return engineOrSkip('opa', findOpaBinary()?.path ?? null, OPA_SETUP_HINT);
}
