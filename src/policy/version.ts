import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson } from '../util/canonical-json.js';

export interface PolicyFile {
  /** Path relative to the policies directory, with forward slashes on every platform. */
  path: string;
  bytes: Uint8Array;
}

/**
 * Which rules and which numbers decided: sha256 over every policy file (sorted by path; each framed
 * by its path and byte length so no two file sets hash alike) followed by the canonical JSON of the
 * thresholds in effect. `*_test.rego` files are left out: tests cannot change a decision, and adding
 * one should not look, to an auditor, like a policy change. Format: `sha256:<64 hex>`.
 */
export function policyVersion(files: readonly PolicyFile[], thresholds: unknown): string {
  const hash = createHash('sha256');
  hash.update('swiftdeploy-policy-version-1\n');
  const sorted = [...files].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  for (const file of sorted) {
    hash.update(`file ${JSON.stringify(file.path)} ${file.bytes.byteLength}\n`);
    hash.update(file.bytes);
    hash.update('\n');
  }
  hash.update(`thresholds ${canonicalJson(thresholds)}\n`);
  return `sha256:${hash.digest('hex')}`;
}

/** The `.rego` files under `dir` that decide (not `*_test.rego`); [] when the directory does not exist. */
export async function readPolicyFiles(dir: string): Promise<PolicyFile[]> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files: PolicyFile[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.rego') || entry.name.endsWith('_test.rego')) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.push({ path: path.relative(dir, full).split(path.sep).join('/'), bytes: await readFile(full) });
  }
  return files;
}
