import { Argument, type Command } from 'commander';
import { EXIT } from '../../errors.js';
import type { PolicyDomain } from '../../policy/types.js';
import { action } from '../context.js';
import { operatorFrom } from '../operator.js';
import { decisionLines } from '../decision.js';
import { paintOf } from '../paint.js';
import { progress } from '../progress.js';

/** `policy check` and `policy test`: flags and printing here, the work in src/policy/check.ts. */
export function register(program: Command): void {
  const policy = program
    .command('policy')
    .description('ask the policy engine about this host or the canary now, or run the Rego tests')
    .addHelpText('after', '\nExample:\n  $ swiftdeploy policy check infrastructure\n  $ swiftdeploy policy test\n');

  policy
    .command('check')
    .description('gather facts, ask OPA, print the decision; exit 0 allowed, 3 denied, 4 engine unavailable')
    .addArgument(new Argument('<domain>', 'which policy').choices(['infrastructure', 'canary']))
    .option('--question <question>', 'the question to ask (default: pre_deploy for infrastructure, pre_promote for canary)')
    .addHelpText(
      'after',
      '\nExample:\n  $ swiftdeploy policy check infrastructure\n  $ swiftdeploy policy check canary --question status --json\n',
    )
    .action(
      action<{ question?: string }, [PolicyDomain]>(async (ctx, opts, domain) => {
        const [{ Session }, { canaryWindow }, check, { gatherHostFacts }, { canaryFactsFromWindow }, { waitReady }, { dockerDataRoot }] =
          await Promise.all([
            import('../../lifecycle/session.js'),
            import('../../lifecycle/canary-window.js'),
            import('../../policy/check.js'),
            import('../../policy/host-facts.js'),
            import('../../policy/canary-facts.js'),
            import('../../policy/client.js'),
            import('../../runtime/docker-info.js'),
          ]);
        const session = await Session.open(ctx.manifestPath, operatorFrom(ctx, true), 'policy_check');
        const { mode, ...thresholds } = session.manifest.policy[domain];
        const question = opts.question ?? check.DEFAULT_QUESTION[domain];
        const client = await session.policyClient();
        const out = ctx.out;
        try {
          const outcome = await check.checkPolicy(
            { domain, question, thresholds, mode, policyVersion: session.policyVersion(domain) },
            {
              client,
              ready: async () => {
                const wait = progress(out, `waiting for OPA at ${client.url}`);
                try {
                  // Short bound: a check against a stack that is not up should say so, not hang.
                  await waitReady(client, { timeoutMs: 5_000, onProgress: (p) => wait.update(p.detail) });
                } catch (err) {
                  wait.suspend(); // the error line that follows starts on a clean line
                  throw err;
                }
                wait.done(`OPA at ${client.url} is ready`);
              },
              gatherFacts: async () => {
                if (domain === 'canary') return canaryFactsFromWindow((await canaryWindow(session)).window);
                return gatherHostFacts({ projectDir: session.loaded.projectDir, dockerDataRoot: await dockerDataRoot() });
              },
              record: (payload) => session.event(payload.stage, payload),
            },
          );
          if (outcome.kind === 'unavailable') {
            const failure = (outcome.error as { failure?: string }).failure ?? 'unknown';
            out.emit({ ok: false, domain, question, policy_version: session.policyVersion(domain), unavailable: { failure, message: outcome.error.message } });
            out.error(`policy/${domain}: ${outcome.error.message}`);
            return EXIT.POLICY_UNAVAILABLE;
          }
          const { record } = outcome;
          out.emit({ ok: record.allowed, decision: record });
          // A check is not an action: a shadowed deny is still reported as [FAIL], with a note.
          for (const line of decisionLines(record, false, paintOf(out.c))) out.result(line);
          if (record.enforcement === 'shadow' && !record.allowed) {
            out.result(`       (policy.${record.domain}.mode is shadow: the gated action would proceed, recorded as would_have_blocked)`);
          }
          return record.allowed ? EXIT.OK : EXIT.POLICY_DENIED;
        } finally {
          await client.close();
        }
      }),
    );

  policy
    .command('test')
    .description('run `opa test -v` on the policies with the pinned OPA (exit 1 without it, never a silent pass)')
    .addHelpText('after', '\nExample:\n  $ swiftdeploy policy test\n')
    .action(
      action(async (ctx) => {
        const [{ policiesPathFor }, { opaInstallHint }, { findOpaBinary }, { opaTest }, { runArgv }] = await Promise.all([
          import('../../render/render.js'),
          import('../../policy/check.js'),
          import('../../runtime/opa-binary.js'),
          import('../../runtime/opa-argv.js'),
          import('../../runtime/run.js'),
        ]);
        const dir = policiesPathFor(ctx.projectDir);
        const out = ctx.out;
        const opa = findOpaBinary();
        if (!opa) {
          const image = await ctx
            .loadManifest()
            .then((l) => l.manifest.opa.image)
            .catch(() => undefined);
          out.emit({ ok: false, ran: false, policies: dir, reason: 'no opa binary' });
          out.error(opaInstallHint(dir, image));
          return EXIT.FAILED;
        }
        const r = await runArgv(opaTest(opa.path, dir));
        out.emit({ ok: r.exitCode === 0, ran: true, policies: dir, opa: opa.path, exit_code: r.exitCode, output: `${r.stdout}${r.stderr}` });
        if (!out.json) {
          out.stdout.write(r.stdout ? `${r.stdout}\n` : '');
          out.stderr.write(r.stderr ? `${r.stderr}\n` : '');
        }
        return r.exitCode === 0 ? EXIT.OK : EXIT.FAILED;
      }),
    );
}
