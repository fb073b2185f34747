import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { action } from '../context.js';

export function register(program: Command): void {
  program
    .command('validate')
    .description('check the manifest, the rendered files, nginx -t, compose config, ports, Docker and the app image')
    .addHelpText('after', '\nExample:\n  $ swiftdeploy validate\n  $ swiftdeploy validate --json | jq \'.checks[] | select(.status == "fail")\'\n')
    .action(
      action(async (ctx) => {
        const [{ runChecks }, { systemProbes }, { loadManifest }, { renderProject, checkGenerated }, { projectRollout }] = await Promise.all([
          import('../../validate/checks.js'),
          import('../../validate/probes.js'),
          import('../../manifest/load.js'),
          import('../../render/generate.js'),
          import('../../lifecycle/rollout-store.js'),
        ]);
        // During a progressive rollout the files are checked as rendered at its weight.
        const results = await runChecks({
          load: () => loadManifest(ctx.manifestPath),
          render: async (loaded) => renderProject(loaded, await projectRollout(loaded.projectDir)),
          generatedState: async (loaded) => checkGenerated(loaded, await projectRollout(loaded.projectDir)),
          probes: systemProbes(),
        });
        const count = (s: string) => results.filter((r) => r.status === s).length;
        const ok = count('fail') === 0;
        ctx.out.emit({ ok, checks: results, summary: { passed: count('pass'), failed: count('fail'), skipped: count('skip') } });
        const { c } = ctx.out;
        for (const r of results) {
          const tag = r.status === 'pass' ? c.green('[PASS]') : r.status === 'fail' ? c.red('[FAIL]') : c.yellow('[SKIP]');
          ctx.out.result(`${tag} ${r.id}: ${r.detail.replace(/\n/g, '\n       ')}`);
        }
        ctx.out.result(`validate: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped`);
        return ok ? EXIT.OK : EXIT.FAILED;
      }),
    );
}
