import { createInterface } from 'node:readline/promises';
import type { Operator } from '../lifecycle/session.js';
import type { CliContext } from './context.js';
import { eventRenderer } from './render-events.js';

/** The person at the keyboard: actor, where events are drawn, --yes, and a y/N prompt only when stdin and stderr are TTYs. */
export function operatorFrom(ctx: CliContext, yes: boolean): Operator {
  const canAsk = process.stdin.isTTY === true && process.stderr.isTTY === true && !ctx.global.json;
  return {
    actor: ctx.actor(),
    events: eventRenderer(ctx.out),
    yes,
    ...(canAsk
      ? {
          confirm: async (question: string) => {
            const rl = createInterface({ input: process.stdin, output: process.stderr });
            try {
              return /^(y|yes)$/i.test((await rl.question(question)).trim());
            } finally {
              rl.close();
            }
          },
        }
      : {}),
  };
}
