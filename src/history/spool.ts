/**
 * Records that could not be appended to history.jsonl when they happened. Only `rollback` writes
 * here: it is the one mutation that proceeds when the ledger cannot be written (getting back to
 * stable matters more than the record of it), so it keeps what it would have recorded and the next
 * mutating command appends it (src/lifecycle/wal.ts, `reconcile`).
 *
 * A spool file is JSON lines, one RecordInput each, written with one write and an fsync per line.
 * It lives in `<stateDir>/unrecorded/` and nowhere else: never outside the project (a shared temp
 * directory could be pre-filled by anyone, and what is here is appended to the ledger). When it cannot
 * be written either (the same full or read-only filesystem), the caller prints the record. Each spooled record
 * carries `payload.spool_id`, so a flush interrupted half way never appends a record twice.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readFile, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { RecordInput } from './types.js';

export interface SpoolLine {
  input: RecordInput;
  /** When the record would have been appended. */
  spooled_at: string;
}

/** Where spool files go: inside the project's state directory (resolved and checked by the session). */
export function spoolDirs(stateDir: string): string[] {
  return [path.join(stateDir, 'unrecorded')];
}

export class Spool {
  private file: string | null = null;
  private readonly name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${randomBytes(4).toString('hex')}.jsonl`;

  constructor(private readonly dirs: string[]) {}

  /**
   * Writes one record durably and returns the file it is in, or throws when no spool directory
   * can be written (the caller then prints the record, the last place left).
   */
  write(input: RecordInput, now = new Date()): string {
    const line: SpoolLine = { input: { ...input, payload: { ...input.payload, spool_id: randomBytes(8).toString('hex') } }, spooled_at: now.toISOString() };
    const bytes = Buffer.from(`${JSON.stringify(line)}\n`, 'utf8');
    const errors: string[] = [];
    const candidates = this.file !== null ? [this.file, ...this.dirs.map((d) => path.join(d, this.name)).filter((f) => f !== this.file)] : this.dirs.map((d) => path.join(d, this.name));
    for (const file of candidates) {
      try {
        mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        const fd = openSync(file, 'a', 0o600);
        try {
          const written = writeSync(fd, bytes);
          if (written !== bytes.length) throw new Error(`short write (${written} of ${bytes.length} bytes)`);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        this.file = file;
        return file;
      } catch (err) {
        errors.push(`${file}: ${(err as Error).message}`);
      }
    }
    throw new Error(`no spool file could be written (${errors.join('; ')})`);
  }
}

/** Spool files waiting to be appended, oldest first. */
export async function pendingSpools(dirs: string[]): Promise<string[]> {
  const found: Array<{ name: string; file: string }> = [];
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) if (name.endsWith('.jsonl')) found.push({ name, file: path.join(dir, name) });
  }
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((f) => f.file);
}

/** The lines of a spool file; a torn last line (a crash while spooling) is left out. */
export async function readSpool(file: string): Promise<SpoolLine[]> {
  const text = await readFile(file, 'utf8');
  const lines: SpoolLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    try {
      const v = JSON.parse(raw) as SpoolLine;
      if (typeof v === 'object' && v !== null && typeof v.spooled_at === 'string' && typeof v.input === 'object' && v.input !== null) lines.push(v);
    } catch {
      // torn
    }
  }
  return lines;
}

export async function removeSpool(file: string): Promise<void> {
  await unlink(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
