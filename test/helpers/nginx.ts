/** The real nginx the tests run rendered configs with (npm run setup installs nginx-light). */
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { engineOrSkip } from './engines.js';

export function findNginx(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin']) {
    const candidate = path.join(dir, 'nginx');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Why `nginx -t` on a rendered config cannot run here, or undefined when it can. */
export function nginxUnavailable(nginx: string | undefined): string | undefined {
  if (!nginx) return 'no nginx binary on PATH or in /usr/sbin (CI installs nginx-light)';
  // -t opens the access log named in the config (/var/log/nginx/access.log): needs write access.
  try {
    accessSync('/var/log/nginx', constants.W_OK);
  } catch {
    return '/var/log/nginx is not writable by this user, and nginx -t opens the access log there';
  }
  return undefined;
}

/** The real nginx for a suite: in CI a missing one fails the file (test/helpers/engines.ts); elsewhere it skips. */
export function nginxForSuite(): { nginx: string | undefined; skip: string | undefined } {
  const nginx = findNginx();
  const skip = nginxUnavailable(nginx);
  engineOrSkip('nginx', skip === undefined ? 'nginx' : null, `${skip ?? ''} (npm run setup installs nginx-light)`);
  return { nginx, skip };
}

/** Temp directories removed after the suite. */
export function suiteTempDirs(): (prefix: string) => Promise<string> {
  const temps: string[] = [];
  afterAll(async () => {
    await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  return async (prefix) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
    temps.push(dir);
    return dir;
  };
}
