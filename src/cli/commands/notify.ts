import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { action } from '../context.js';
import { operatorFrom } from '../operator.js';

export function register(program: Command): void {
  const notify = program
    .command('notify')
    .description('the webhooks of `notifications:` (signed, retried within a budget, every delivery recorded)')
    .addHelpText('after', '\nExample:\n  $ swiftdeploy notify test\n');

  notify
    .command('test')
    .description('send a test event to every webhook and report each; exit 0 all delivered, 1 any undelivered, 2 no `notifications:`')
    .addHelpText(
      'after',
      '\nOne line per webhook: index, URL origin, delivered/undelivered, attempts, HTTP status or error, time.\n' +
        'With --json: {"ok": bool, "deliveries": [{event, webhook: {index, origin, format}, attempts, status?, error?, elapsed_ms, delivered}]}.\n' +
        'Each delivery is recorded in history.jsonl (action notify). The URL path and the secrets are never printed or recorded.\n' +
        '\nExample:\n  $ SWIFTDEPLOY_WEBHOOK_SECRET=... swiftdeploy notify test\n  $ swiftdeploy notify test --json\n',
    )
    .action(
      action(async (ctx) => {
        const [{ Session }, { notifyTest, deliveryLine }] = await Promise.all([import('../../lifecycle/session.js'), import('../../notify/notify-test.js')]);
        const session = await Session.open(ctx.manifestPath, operatorFrom(ctx, true), 'notify');
        const deliveries = await notifyTest(session);
        const ok = deliveries.every((d) => d.delivered);
        ctx.out.emit({ ok, deliveries });
        for (const d of deliveries) ctx.out.result(deliveryLine(d));
        if (session.hasUnrecorded) throw session.unrecordedError();
        return ok ? EXIT.OK : EXIT.FAILED;
      }),
    );
}
