import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { packageRoot } from '../util/package-root.js';
import * as approvals from './commands/approvals.js';
import * as audit from './commands/audit.js';
import * as guard from './commands/guard.js';
import * as init from './commands/init.js';
import * as lifecycle from './commands/lifecycle.js';
import * as lock from './commands/lock.js';
import * as notify from './commands/notify.js';
import * as policy from './commands/policy.js';
import * as status from './commands/status.js';
import * as validate from './commands/validate.js';

export function createProgram(): Command {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  const program = new Command('swiftdeploy')
    .description('Deploy a small service stack with Docker Compose under Open Policy Agent control.')
    .version(pkg.version, '-V, --version')
    .addOption(
      new Option('-f, --manifest <path>', 'the manifest (single source of truth)')
        .env('SWIFTDEPLOY_MANIFEST')
        .default('manifest.yaml'),
    )
    .option('--json', 'machine-readable JSON on stdout (stable shape, no colour, no spinners)', false)
    .option('--no-color', 'no colour (NO_COLOR is honoured too)')
    .addOption(
      new Option('--actor <name>', 'who is acting, recorded with every action (default: git user.email, else OS user)').env(
        'SWIFTDEPLOY_ACTOR',
      ),
    )
    // Before any subcommand exists: commander copies these settings into each one as it is created,
    // so usage errors in nested commands (`lock status --bogus`) also reach main() and exit 2.
    .exitOverride()
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 failed, 2 usage/invalid input, 3 denied by policy, 4 policy engine unavailable,\n' +
        '            5 locked by another operation, 6 history integrity failure, 7 history cannot be written\n' +
        '            (nothing changed; a rollback completes and exits 7), 8 rollout paused for a human (resume or abort),\n' +
        '            9 not approved (a requested approval was denied, expired or voided), 130 interrupted.\n',
    );

  for (const command of [init, validate, lifecycle, approvals, status, guard, policy, audit, lock, notify]) command.register(program);
  return program;
}
