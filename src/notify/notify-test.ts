/** `swiftdeploy notify test`: one `notify_test` notice to every webhook, whatever its events filter. */
import { UsageError } from '../errors.js';
import type { Session } from '../lifecycle/session.js';
import { deliveryStage, WebhookNotifier } from './notifier.js';
import type { DeliveryRecord } from './types.js';

export interface TestDelivery extends DeliveryRecord {
  delivered: boolean;
}

/** Sends, waits (each webhook within its budget), records every delivery; returns them in manifest order. */
export async function notifyTest(session: Session): Promise<TestDelivery[]> {
  const { notifier } = session;
  const webhooks = session.manifest.notifications ?? [];
  if (webhooks.length === 0 || !(notifier instanceof WebhookNotifier)) {
    throw new UsageError(`${session.loaded.file}: no \`notifications:\` in the manifest, so there is no webhook to test (README "Notifications")`);
  }
  const project = session.manifest.project.name;
  const deliveries = notifier.deliverTo(
    {
      event: 'notify_test',
      summary: `swiftdeploy test notification for ${project} from ${session.operator.actor}`,
      actor: session.operator.actor,
      detail: { note: 'sent by `swiftdeploy notify test`; nothing happened to the stack' },
    },
    webhooks.map((_w, i) => i),
  );
  const records = await deliveries;
  await session.settleNotifications();
  return records.map((r) => ({ ...r, delivered: deliveryStage(r) === 'delivered' }));
}

/** "webhook 0 https://hooks.example.com: delivered, 1 attempt, HTTP 200, 42 ms". */
export function deliveryLine(d: TestDelivery): string {
  const what = d.status !== undefined ? `HTTP ${d.status}` : null;
  const parts = [
    d.delivered ? 'delivered' : 'undelivered',
    `${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`,
    ...(d.delivered ? [what] : [d.error ?? what]),
    `${d.elapsed_ms} ms`,
  ].filter((p): p is string => p !== null);
  return `webhook ${d.webhook.index} ${d.webhook.origin} (${d.webhook.format}): ${parts.join(', ')}`;
}
