import { createHash } from 'node:crypto';
import path from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Pair, type YAMLMap } from 'yaml';
import { z } from 'zod';
import { ManifestError, type ManifestProblem } from '../errors.js';
import { quote, printable } from '../util/printable.js';
import { portConflicts } from './ports.js';
import { manifestPathConflicts } from '../util/project-paths.js';
import { manifestSchema, type Manifest } from './schema.js';
import { MAX_MANIFEST_BYTES, decodeManifest, readManifestBytes } from './source.js';
import { MAX_ALIAS_EXPANSION, structureProblems } from './structure.js';
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
  let read: { bytes: Buffer; size: number };
  try {
    read = await readManifestBytes(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file (use -f/--manifest or SWIFTDEPLOY_MANIFEST to point at it)' : String(err);
    throw new ManifestError(abs, [{ path: '', message: `cannot read the manifest: ${why}` }]);
  }
  const text = decodeManifest(read.bytes, abs, read.size);
  const projectDir = path.dirname(abs);
  const manifest = parseManifest(text, abs);
  return { file: abs, projectDir, text, sha256: sha256Hex(text), manifest };
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Parses and validates manifest text; throws ManifestError listing every problem found. */
export function parseManifest(text: string, file: string): Manifest {
  if (text.length > MAX_MANIFEST_BYTES) {
    throw new ManifestError(file, [{ path: '', message: `expected a manifest of at most ${MAX_MANIFEST_BYTES} bytes, got ${Buffer.byteLength(text)}` }]);
  }
  const lineCounter = new LineCounter();
  // YAML 1.2 core schema (the library default): `no` stays the string "no", not false.
  // logLevel 'error': the library never writes to stderr; what it would warn about is refused below.
  // uniqueKeys false: structureProblems refuses duplicate keys (a Set, not the library's pairwise scan, and 1 = "1").
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, logLevel: 'error' });
  // Warnings are refused too: an unknown tag (`!foo 1.0`) would otherwise be dropped silently, and a
  // manifest that means something other than it says is what this loader exists to stop.
  const yamlProblems = [...doc.errors, ...doc.warnings].map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    return { path: '', message: `invalid YAML: ${e.message.split('\n')[0]}`, line: pos.line, col: pos.col };
  });
  // `%YAML 1.1` would switch the library to YAML 1.1 (`no` becomes false, `.` becomes NaN).
  if (doc.directives?.yaml.explicit && doc.directives.yaml.version !== '1.2') {
    const at = text.indexOf('%YAML');
    yamlProblems.push({
      path: '',
      message: `expected YAML 1.2 (the manifest is read as YAML 1.2), got a %YAML ${doc.directives.yaml.version} directive; remove it`,
      ...lineCounter.linePos(at < 0 ? 0 : at),
    });
  }
  if (yamlProblems.length > 0) {
    throw new ManifestError(file, yamlProblems.sort((a, b) => a.line - b.line));
  }
  const structural = structureProblems(doc, lineCounter, text);
  if (structural.length > 0) throw new ManifestError(file, structural);
  let raw: unknown;
  try {
    // structureProblems bounds alias expansion first; the library's own guard stays as a second line.
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION });
  } catch (err) {
    const start = doc.contents?.range?.[0] ?? 0;
    throw new ManifestError(file, [{ path: '', message: `cannot read the YAML: ${(err as Error).message}`, ...lineCounter.linePos(start) }]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    const got =
      raw === null || raw === undefined
        ? 'got an empty document'
        : Array.isArray(raw)
          ? 'got a list'
          : typeof raw === 'string'
            ? `got ${quote(raw)}`
            : `got ${String(raw)}`;
    throw new ManifestError(file, [
      { path: '', message: `expected a mapping of sections (project, services, nginx, network, opa, policy, observability), ${got}` },
    ]);
  }
  const result = manifestSchema.safeParse(raw);
  if (result.success) {
    const locate = (key: string) => where(file, position(doc, lineCounter, key.split('.'), 'value'));
    const conflicts = [...pathConflicts(result.data, path.basename(file)), ...portConflicts(result.data, locate)];
    if (conflicts.length > 0) {
      throw new ManifestError(
        file,
        conflicts
          .map((c) => ({ ...c, ...position(doc, lineCounter, c.path.split('.'), 'value') }))
          .sort((a, b) => (a.line ?? 0) - (b.line ?? 0)),
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
        // No did-you-mean for a key no typo produces (the edit distance table is length x length).
        // Nor past the first 100 unknown keys: a file of 100,000 of them is not a typo.
        const hint = key.length <= 64 && problems.length < 100 ? suggest(key, known) : undefined;
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
  if (Array.isArray(value)) return value.length === 0 ? 'got an empty list' : `got a list of ${value.length}`;
  if (value instanceof Uint8Array) return 'got binary data (a !!binary value)';
  if (typeof value === 'object') return 'got a mapping';
  const node = doc.getIn(segs, true);
  const source = isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
  if (typeof value === 'number' && source !== undefined && source !== String(value)) {
    // YAML turned what looks like a string into a number (1.10 -> 1.1): say so, never let it pass.
    return `got ${printable(source, 80)}, which YAML reads as the number ${value}; quote it to keep it a string`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return `got ${String(value)} (a ${typeof value})`;
  return typeof value === 'string' ? `got ${quote(value)}` : `got ${printable(String(value), 80)}`;
}

function valueAt(raw: unknown, segs: string[]): unknown {
  let cur: unknown = raw;
  for (const s of segs) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[s];
  }
  return cur;
}

/** `file:line:col`, or the file alone when the position is unknown. */
function where(file: string, pos: { line?: number; col?: number }): string {
  return pos.line === undefined ? file : `${file}:${pos.line}:${pos.col ?? 1}`;
}

/**
 * Each mapping's pairs by key, built once per mapping: finding every problem's position is then
 * linear in the problems, not problems x keys (100,000 unknown keys took over a minute).
 */
const pairIndex = new WeakMap<YAMLMap, Map<string, Pair>>();
function pairOf(map: YAMLMap, key: string): Pair | undefined {
  let index = pairIndex.get(map);
  if (!index) {
    index = new Map();
    for (const p of map.items) {
      const k = isScalar(p.key) ? String(p.key.value) : undefined;
      if (k !== undefined && !index.has(k)) index.set(k, p);
    }
    pairIndex.set(map, index);
  }
  return index.get(key);
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
    if (isSeq(parent)) {
      // A list item (canary.steps.2): the item itself.
      const item = /^\d+$/.test(segs[n - 1]!) ? parent.items[Number(segs[n - 1])] : undefined;
      const range = (item as { range?: [number, number, number] } | undefined)?.range;
      if (range) return lc.linePos(range[0]);
      continue;
    }
    if (!isMap(parent)) continue;
    const pair = pairOf(parent, segs[n - 1]!);
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
