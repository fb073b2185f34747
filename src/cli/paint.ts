import type { ChalkInstance } from 'chalk';

/** The colours a view uses, by meaning; `noPaint` for pipes, logs and tests. */
export interface Paint {
  ok(s: string): string;
  bad(s: string): string;
  warn(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export const noPaint: Paint = { ok: (s) => s, bad: (s) => s, warn: (s) => s, dim: (s) => s, bold: (s) => s };

export function paintOf(c: ChalkInstance): Paint {
  return c.level > 0 ? { ok: c.green, bad: c.red, warn: c.yellow, dim: c.dim, bold: c.bold } : noPaint;
}
