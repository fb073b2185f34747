/** What parseManifest refuses a manifest text for, as the schema tests read it. */
import { expect } from 'vitest';
import { ManifestError, type ManifestProblem } from '../../src/errors.js';
import { parseManifest } from '../../src/manifest/load.js';

/** Parses and returns the ManifestError's problems; fails the test if the text is accepted. */
export function problemsOf(text: string): ManifestProblem[] {
  try {
    parseManifest(text, '/p/manifest.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as ManifestError).exitCode).toBe(2);
    return (err as ManifestError).problems;
  }
  throw new Error('expected the manifest to be rejected, but it loaded');
}

/** The one problem a text is refused for (the test fails when there are more or none). */
export function only(text: string): ManifestProblem {
  const problems = problemsOf(text);
  expect(problems, JSON.stringify(problems, null, 2)).toHaveLength(1);
  return problems[0]!;
}
