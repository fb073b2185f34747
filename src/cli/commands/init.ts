import path from 'node:path';
import type { Command } from 'commander';
import { action } from '../context.js';

/**
 * The pattern every command follows: commander wiring and printing here, the work in a core module
 * imported lazily inside the action (so `--help` and `--version` stay fast).
 */
export function register(program: Command): void {
  program
    .command('init')
    .description('render nginx/nginx.conf and docker-compose.yml from the manifest (atomic, byte-identical)')
    .option('--force', 'overwrite generated files even if they were edited by hand', false)
    .addHelpText('after', '\nExample:\n  $ swiftdeploy init\n  $ swiftdeploy -f stacks/prod/manifest.yaml init --force\n')
    .action(
      action<{ force: boolean }>(async (ctx, opts) => {
        const [{ initProject }, { operatorFrom }] = await Promise.all([import('../../lifecycle/init.js'), import('../operator.js')]);
        const { result } = await initProject(ctx.manifestPath, operatorFrom(ctx, true), { force: opts.force });
        ctx.out.emit({ ok: true, files: result.files.map((f) => ({ path: path.relative(ctx.projectDir, f.path), action: f.action })) });
        for (const f of result.files) {
          ctx.out.result(`${f.action === 'written' ? ctx.out.c.green('wrote    ') : 'unchanged'} ${path.relative(process.cwd(), f.path)}`);
        }
      }),
    );
}
