/** The real nginx the tests run rendered configs with (npm run setup installs nginx-light). */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

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
