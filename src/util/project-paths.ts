/**
 * The paths swiftdeploy owns in a project, and the one way a path becomes one it may read or write.
 *
 * A path is judged by where it really leads, never by how it is spelled: `history.jsonl`,
 * `./history.jsonl`, `nginx/../history.jsonl`, `alias/history.jsonl` (alias -> .), a symlink to it
 * and a hard link to it are all the ledger. `resolveProjectPath` walks the path one component at a
 * time with lstat/readlink (what realpath(3) does, but carrying on past the first missing component,
 * since a file about to be created does not exist yet), and refuses, with a UsageError (exit 2)
 * naming the path and where it leads:
 *   - a file path spelled as a directory (`x/`, `.`, `x/..`), or one that is a directory on disk;
 *   - anything that leads outside the project directory, naming the symlink that leads out;
 *   - a path that is (or, for a directory of swiftdeploy's, lies under) another owned path, hard
 *     links included: the same inode under another name is the same file.
 * Callers then use the canonical path it returns (re-rooted at the project directory as the caller
 * named it), which contains no symlink, so the write lands exactly where the check looked.
 *
 * Hand-written because neither fs.realpath (fails on a missing tail) nor the small path libraries
 * (lexical only, e.g. path-is-inside) answer "where would a write to this path land?".
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';

/** swiftdeploy's state directory: the project lock, the chaos token, the progressive canary's state. */
export const STATE_DIR = '.swiftdeploy';
export const LOCK_REL = `${STATE_DIR}/lock`;
export const CHAOS_TOKEN_REL = `${STATE_DIR}/chaos-token`;
export const ROLLOUT_REL = `${STATE_DIR}/rollout.json`;
/** The generated files (templates/ names what they are rendered from). */
export const NGINX_DIR = 'nginx';
export const NGINX_CONF = `${NGINX_DIR}/nginx.conf`;
export const COMPOSE_FILE = 'docker-compose.yml';
/** The Swarm stack file, generated only with `runtime: swarm`. */
export const STACK_FILE = 'docker-stack.yml';

/** One thing swiftdeploy owns in a project. */
export interface OwnedPath {
  /** Stable name: the manifest key for configurable paths, else the path itself. */
  id: string;
  /** Relative to the project directory, lexically normal (no `.`, `..`, `//`, trailing `/`). */
  rel: string;
  /** How a refusal names it, e.g. "the history file". */
  what: string;
  /** A directory swiftdeploy owns entirely: nothing else may be written under it. */
  tree: boolean;
}

export interface ObservabilityPaths {
  history_file: string;
  audit_report: string;
}

export const HISTORY_ID = 'observability.history_file';
export const REPORT_ID = 'observability.audit_report';

/**
 * Everything swiftdeploy owns in a project: the manifest, the ledger and its lock, the report, the
 * generated files (nginx/ is mounted whole into the nginx container, so all of it is theirs) and the
 * state directory.
 */
export function ownedPaths(manifestRel: string, obs: ObservabilityPaths): OwnedPath[] {
  const history = normalizeRel(obs.history_file);
  return [
    { id: 'manifest', rel: normalizeRel(manifestRel), what: 'the manifest', tree: false },
    { id: HISTORY_ID, rel: history, what: 'the history file', tree: false },
    { id: `${HISTORY_ID}.lock`, rel: `${history}.lock`, what: "the history file's lock", tree: false },
    { id: REPORT_ID, rel: normalizeRel(obs.audit_report), what: 'the audit report', tree: false },
    { id: NGINX_CONF, rel: NGINX_CONF, what: 'a generated file', tree: false },
    { id: COMPOSE_FILE, rel: COMPOSE_FILE, what: 'a generated file', tree: false },
    { id: STACK_FILE, rel: STACK_FILE, what: 'a generated file', tree: false },
    { id: LOCK_REL, rel: LOCK_REL, what: 'the project lock', tree: false },
    { id: CHAOS_TOKEN_REL, rel: CHAOS_TOKEN_REL, what: 'the chaos token', tree: false },
    { id: ROLLOUT_REL, rel: ROLLOUT_REL, what: 'the rollout state', tree: false },
    // Files are listed before the directories holding them, so a refusal names the most precise one.
    { id: NGINX_DIR, rel: NGINX_DIR, what: 'the generated nginx/ directory', tree: true },
    { id: STATE_DIR, rel: STATE_DIR, what: "swiftdeploy's state directory (lock, chaos token, rollout state)", tree: true },
  ];
}

/** Lexical normal form of a relative path: `./a//b/./c` -> `a/b/c`. */
export function normalizeRel(rel: string): string {
  const norm = path.posix.normalize(rel);
  return norm.length > 1 && norm.endsWith('/') ? norm.slice(0, -1) : norm;
}

/**
 * Why `value` cannot name a file, judged by its spelling alone; undefined when it can. A trailing `/`
 * or a last component of `.` or `..` names a directory, whatever is on disk.
 */
export function filePathProblem(value: string): string | undefined {
  if (value === '') return 'it is empty';
  if (value.endsWith('/')) return 'it ends with "/", which names a directory';
  const last = value.slice(value.lastIndexOf('/') + 1);
  if (last === '.' || last === '..') return `its last component is "${last}", which names a directory`;
  return undefined;
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  // Not rel.startsWith('..'): a file may be called "..notes.md".
  return rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

function under(dir: string, p: string): boolean {
  return p !== dir && inside(dir, p);
}

/**
 * Lexical conflicts between the manifest's configurable paths and what swiftdeploy owns, checked when
 * the manifest loads, before anything touches the disk. Symlinks and hard links are judged when a
 * command resolves the path (resolveProjectPath).
 */
export function manifestPathConflicts(manifestRel: string, obs: ObservabilityPaths): Array<{ path: string; message: string }> {
  const owned = ownedPaths(manifestRel, obs);
  const problems: Array<{ path: string; message: string }> = [];
  for (const [id, value] of [
    [HISTORY_ID, obs.history_file],
    [REPORT_ID, obs.audit_report],
  ] as const) {
    const rel = normalizeRel(value);
    const clash =
      rel === '.'
        ? 'the project directory itself'
        : owned.find((o) => o.id !== id && o.id !== `${id}.lock` && (o.rel === rel || (o.tree && rel.startsWith(`${o.rel}/`))))?.what;
    if (clash) problems.push({ path: id, message: `expected a file of its own, got ${JSON.stringify(value)}, which is ${clash}` });
  }
  // Both clash with each other: report it once, on the key that comes second.
  if (problems.length === 2 && normalizeRel(obs.history_file) === normalizeRel(obs.audit_report)) problems.shift();
  return problems;
}

/** A symlink met on the way, and where it points. */
interface Hop {
  link: string;
  target: string;
}

interface Walk {
  /** The path with every symlink resolved; components after the first missing one are taken as written. */
  canonical: string;
  /** lstat of `canonical` when it exists. */
  stats: Stats | undefined;
  hops: Hop[];
}

class WalkProblem extends Error {}

/**
 * Resolves every symlink in an absolute path, like realpath(3), but tolerates a missing tail.
 * Synchronous on purpose: a resolution is a few dozen lstat calls of microseconds each, while each
 * async call is a thread-pool round trip (a session's resolution took 10-30 ms that way on a loaded
 * 2-core machine, under 1 ms like this).
 */
function walk(abs: string): Walk {
  let done = path.parse(abs).root;
  let todo = abs.slice(done.length).split(path.sep);
  const hops: Hop[] = [];
  let stats: Stats | undefined = lstatSync(done);
  while (todo.length > 0) {
    const seg = todo.shift() as string;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      done = path.dirname(done);
      stats = lstatSync(done);
      continue;
    }
    if (stats !== undefined && !stats.isDirectory()) throw new WalkProblem(`${done} is not a directory`);
    const next = path.join(done, seg);
    try {
      stats = lstatSync(next);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // Missing: nothing below it exists either, so no symlink can redirect the rest.
      return { canonical: path.join(next, ...todo), stats: undefined, hops };
    }
    if (stats.isSymbolicLink()) {
      if (hops.length >= 40) throw new WalkProblem(`too many symlinks (a loop?) at ${next}`);
      const target = readlinkSync(next);
      hops.push({ link: next, target });
      todo = [...target.split(path.sep), ...todo];
      if (path.isAbsolute(target)) done = path.parse(target).root;
      stats = lstatSync(done);
      continue;
    }
    done = next;
  }
  return { canonical: done, stats, hops };
}

export interface ResolveRequest {
  /** The project directory, as the caller names it (need not be canonical). */
  projectDir: string;
  /** The path as the user or the manifest wrote it. */
  requested: string;
  /** How the refusal names the setting, e.g. "observability.history_file" or "--out". */
  label: string;
  /** What `requested` is relative to (default: projectDir). */
  baseDir?: string;
  /** What swiftdeploy owns in this project (ownedPaths); empty to check only containment. */
  owned: OwnedPath[];
  /** Ids of owned paths this request may be (its own), e.g. the report for `--out`. */
  self?: string[];
  /** `file` (default): must name a regular file or nothing yet; `directory`: a directory or nothing yet. */
  kind?: 'file' | 'directory';
  /**
   * The file is written in place (appended), not replaced by rename: refuse one with more than one
   * name, since the write would change every other name too.
   */
  inPlace?: boolean;
}

export interface ResolvedPath {
  /** Absolute, free of symlinks below the project directory: where reads and writes go. */
  abs: string;
  /** Relative to the project directory. */
  rel: string;
  /** Whether it exists now. */
  exists: boolean;
}

/**
 * Resolves `requested` to where a read or write would really land, and refuses (UsageError, exit 2)
 * anything that is not a file (or directory) of its own inside the project. See the module comment.
 */
export async function resolveProjectPath(req: ResolveRequest): Promise<ResolvedPath> {
  const kind = req.kind ?? 'file';
  const shown = `${req.label} ${JSON.stringify(req.requested)}`;
  const refuse = (why: string): never => {
    throw new UsageError(`${shown}: ${why}; refusing to use it`);
  };
  if (kind === 'file') {
    const problem = filePathProblem(req.requested);
    if (problem) refuse(`expected a file path, but ${problem}`);
  }
  const lexical = path.resolve(req.baseDir ?? req.projectDir, req.requested);
  let root: string;
  let target: Walk;
  try {
    root = walk(path.resolve(req.projectDir)).canonical;
    target = walk(lexical);
  } catch (err) {
    return refuse(err instanceof WalkProblem ? err.message : `cannot resolve it: ${(err as Error).message}`);
  }
  if (!inside(root, lexical) && !inside(path.resolve(req.projectDir), lexical)) {
    refuse(`it is outside the project directory ${req.projectDir}`);
  }
  if (!inside(root, target.canonical)) {
    const out = target.hops.find((h) => !inside(root, path.resolve(path.dirname(h.link), h.target))) ?? target.hops[target.hops.length - 1];
    const via = out ? ` through the symlink ${out.link} -> ${out.target}` : '';
    refuse(`it leads outside the project directory ${req.projectDir}${via} (to ${target.canonical})`);
  }
  if (target.canonical === root) refuse('it is the project directory itself');
  if (target.stats !== undefined) {
    if (kind === 'file' && target.stats.isDirectory()) refuse(`${target.canonical} is a directory`);
    if (kind === 'file' && !target.stats.isFile()) refuse(`${target.canonical} is not a regular file`);
    if (kind === 'directory' && !target.stats.isDirectory()) refuse(`${target.canonical} is not a directory`);
    if (req.inPlace && target.stats.nlink > 1) {
      refuse(
        `${target.canonical} has ${target.stats.nlink} names (hard links), and writing to it would change every one of them; ` +
          'give it a single name (cp it aside, then mv the copy over it)',
      );
    }
  }
  const self = new Set(req.self ?? []);
  for (const owned of req.owned) {
    if (self.has(owned.id)) continue;
    const clash = sameOrUnder(root, req.projectDir, owned, target);
    if (clash) refuse(`${clash} ${owned.what} (${owned.rel})`);
  }
  const rel = path.relative(root, target.canonical);
  return { abs: path.join(path.resolve(req.projectDir), rel), rel, exists: target.stats !== undefined };
}

/** How `target` collides with `owned`, or undefined when it does not. */
function sameOrUnder(root: string, projectDir: string, owned: OwnedPath, target: Walk): string | undefined {
  // Symlinks above the project directory (e.g. /tmp -> /private/tmp) are not how the path was redirected.
  const redirected = (w: Walk): boolean => w.hops.some((h) => inside(root, h.link));
  let o: Walk;
  try {
    o = walk(path.resolve(projectDir, owned.rel));
  } catch {
    return undefined; // an owned path that cannot be resolved is refused when its own writer resolves it
  }
  if (o.canonical === target.canonical) {
    // The same file twice: blame the name that was redirected to it. Only the owned path is (e.g.
    // nginx/nginx.conf -> ../history.jsonl): its own resolution refuses it, naming the symlink.
    if (!redirected(target) && redirected(o)) return undefined;
    return redirected(target) ? 'it leads (through a symlink) to' : 'it is';
  }
  if (owned.tree && under(o.canonical, target.canonical)) return 'it lies inside';
  if (target.stats?.isFile() && o.stats?.isFile() && target.stats.dev === o.stats.dev && target.stats.ino === o.stats.ino) {
    return 'it is a hard link to';
  }
  return undefined;
}

/** Where a project's own files really are, each checked by resolveProjectPath. */
export interface ProjectFiles {
  history: string;
  stateDir: string;
  nginxConf: string;
  compose: string;
  /** The swarm stack file (generated only with `runtime: swarm`). */
  stack: string;
}

/**
 * Resolves every path a lifecycle command reads or writes as its own, so a project whose layout is
 * unsafe (a symlink leading out, a ledger that is another owned file) is refused before anything is
 * locked, written or recorded.
 */
export async function resolveProjectFiles(projectDir: string, manifestFile: string, obs: ObservabilityPaths): Promise<ProjectFiles> {
  const owned = ownedPaths(path.relative(projectDir, manifestFile), obs);
  const [history, stateDir, nginxConf, compose, stack] = await Promise.all([
    resolveProjectPath({ projectDir, requested: obs.history_file, label: HISTORY_ID, owned, self: [HISTORY_ID], inPlace: true }),
    resolveStateDir(projectDir),
    resolveGenerated(projectDir, owned, NGINX_CONF),
    resolveGenerated(projectDir, owned, COMPOSE_FILE),
    resolveGenerated(projectDir, owned, STACK_FILE),
  ]);
  return { history: history.abs, stateDir, nginxConf: nginxConf.abs, compose: compose.abs, stack: stack.abs };
}

/** A generated file (NGINX_CONF or COMPOSE_FILE). */
export function resolveGenerated(projectDir: string, owned: OwnedPath[], rel: string): Promise<ResolvedPath> {
  return resolveProjectPath({ projectDir, requested: rel, label: 'generated file', owned, self: rel === NGINX_CONF ? [rel, NGINX_DIR] : [rel] });
}

/** `.swiftdeploy/`: inside the project, a directory (or not yet created). */
export async function resolveStateDir(projectDir: string): Promise<string> {
  return (await resolveProjectPath({ projectDir, requested: STATE_DIR, label: 'state directory', owned: [], kind: 'directory' })).abs;
}
