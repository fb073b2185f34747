import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, isMap, isScalar, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { ManifestError, type ManifestProblem } from '../errors.js';
import { manifestPathConflicts } from '../util/project-paths.js';
import { manifestSchema, type Manifest } from './schema.js';
import { suggest } from './suggest.js';

export interface LoadedManifest {
  /** Absolute path of the manifest file. */
  file: string;
  /** The directory holding the manifest: everything the project owns lives under it. */
  projectDir: string;
  /** The manifest's exact bytes as text. */
  text: string;
  /** sha256 (hex) of the manifest's bytes, recorded with every action. */
  sha256: string;
  manifest: Manifest;
}

export async function loadManifest(file: string): Promise<LoadedManifest> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file (use -f/--manifest or SWIFTDEPLOY_MANIFEST to point at it)' : String(err);
    throw new ManifestError(abs, [{ path: '', message: `cannot read the manifest: ${why}` }]);
  }
  const projectDir = path.dirname(abs);
  const manifest = parseManifest(text, abs);
  return { file: abs, projectDir, text, sha256: sha256Hex(text), manifest };
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Parses and validates manifest text; throws ManifestError listing every problem found. */
export function parseManifest(text: string, file: string): Manifest {
  const lineCounter = new LineCounter();
  // YAML 1.2 core schema (the library default): `no` stays the string "no", not false.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ManifestError(
      file,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { path: '', message: `invalid YAML: ${e.message.split('\n')[0]}`, line: pos.line, col: pos.col };
      }),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    const got = raw === null || raw === undefined ? 'got an empty document' : Array.isArray(raw) ? 'got a list' : `got ${JSON.stringify(raw)}`;
    throw new ManifestError(file, [
      { path: '', message: `expected a mapping of sections (project, services, nginx, network, opa, policy, observability), ${got}` },
    ]);
  }
  const result = manifestSchema.safeParse(raw);
  if (result.success) {
    const conflicts = pathConflicts(result.data, path.basename(file));
    if (conflicts.length > 0) {
      throw new ManifestError(
        file,
        conflicts.map((c) => ({ ...c, ...position(doc, lineCounter, c.path.split('.'), 'value') })),
      );
    }
    return deepFreeze(result.data);
  }

  const problems: ManifestProblem[] = [];
  const seen = new Set<string>();
  for (const issue of result.error.issues) {
    const segs = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(segs);
      for (const key of issue.keys) {
        const keyPath = [...segs, key];
        const hint = suggest(key, known);
        problems.push({
          path: keyPath.join('.'),
          message: `unknown key${hint ? `; did you mean "${[...segs, hint].join('.')}"?` : ''} (allowed here: ${known.join(', ')})`,
          ...position(doc, lineCounter, keyPath, 'key'),
        });
      }
      continue;
    }
    const key = segs.join('.');
    if (seen.has(key)) continue; // one message per key path: the first check that failed says it best
    seen.add(key);
    // zod's own wording for a section that is not a mapping ("Invalid input: expected object, received
    // string") repeats what describeFound says; state it the way every other message does.
    const expected = issue.code === 'invalid_type' && issue.expected === 'object' ? 'expected a mapping of keys' : issue.message;
    problems.push({
      path: key,
      message: `${expected}, ${describeFound(doc, segs, raw)}`,
      ...position(doc, lineCounter, segs, 'value'),
    });
  }
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  throw new ManifestError(file, problems);
}

/**
 * history_file and audit_report are written by swiftdeploy: they must not name the manifest, a
 * generated file, swiftdeploy's state directory, or each other, or one write would destroy another.
 * This is the lexical check, at load; symlinks and hard links are judged when a command resolves them.
 */
function pathConflicts(m: Manifest, manifestName: string): ManifestProblem[] {
  return manifestPathConflicts(manifestName, m.observability);
}

function describeFound(doc: Document, segs: string[], raw: unknown): string {
  const value = valueAt(raw, segs);
  if (value === undefined) return 'but the key is missing';
  if (value === null) return 'got nothing (an empty value)';
  if (Array.isArray(value)) return 'got a list';
  if (typeof value === 'object') return 'got a mapping';
  const node = doc.getIn(segs, true);
  const source = isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
  if (typeof value === 'number' && source !== undefined && source !== String(value)) {
    // YAML turned what looks like a string into a number (1.10 -> 1.1): say so, never let it pass.
    return `got ${source}, which YAML reads as the number ${value}; quote it to keep it a string`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return `got ${String(value)} (a ${typeof value})`;
  return `got ${JSON.stringify(value)}`;
}

function valueAt(raw: unknown, segs: string[]): unknown {
  let cur: unknown = raw;
  for (const s of segs) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[s];
  }
  return cur;
}

/** 1-based line and column of a key (or its value) in the source; the parent's position if absent. */
function position(
  doc: Document,
  lc: LineCounter,
  segs: string[],
  which: 'key' | 'value',
): { line?: number; col?: number } {
  for (let n = segs.length; n >= 1; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(segs.slice(0, n - 1), true);
    if (!isMap(parent)) continue;
    const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === segs[n - 1]);
    if (!pair) continue;
    const node = which === 'value' && n === segs.length && pair.value ? pair.value : pair.key;
    const range = (node as { range?: [number, number, number] }).range;
    if (!range) continue;
    return lc.linePos(range[0]);
  }
  return {};
}

/** The keys the schema allows at a path, for did-you-mean hints. */
function knownKeysAt(segs: string[]): string[] {
  let schema: z.ZodType = manifestSchema;
  for (const s of [...segs, null]) {
    while (schema instanceof z.ZodDefault || schema instanceof z.ZodOptional) {
      schema = schema.unwrap() as z.ZodType;
    }
    if (!(schema instanceof z.ZodObject)) return [];
    if (s === null) return Object.keys(schema.shape);
    const next = (schema.shape as Record<string, z.ZodType>)[s];
    if (!next) return [];
    schema = next;
  }
  return [];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
