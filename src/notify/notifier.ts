/**
 * The NotifyPort of a project with `notifications:`. `send` picks the webhooks that want the notice
 * and starts their deliveries at once, in the background; `settle` waits for them (each bounded by
 * its webhook's budget) and then records one `notify` record per delivery, after the operation's own
 * records. What is recorded names the webhook by index and URL origin only: never the URL's path or
 * query (a Slack webhook URL's path is its secret), never a secret, never an environment value.
 */
import type { LifecycleStage } from '../history/types.js';
import type { WebhookConfig } from '../manifest/schema.js';
import { lastChangeBefore } from './correlate.js';
import { deliverWebhook, type DeliveryOptions, type DeliveryOutcome } from './deliver.js';
import { formatNotice } from './format.js';
import type { DeliveryRecord, Notice, NotifyPort } from './types.js';

export interface NotifierDeps {
  project: string;
  /** The commit the CLI runs on, for the bodies. */
  commit: string | null;
  /** Where correlations are looked up (Notice.correlate_at). */
  historyFile: string;
  /** Appends one `notify` record; may throw (the notifier warns and goes on). */
  record: (stage: Extract<LifecycleStage, 'delivered' | 'undelivered'>, delivery: DeliveryRecord) => Promise<unknown>;
  warn: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** The bodies' sent_at (default: now). */
  clock?: () => Date;
  delivery?: DeliveryOptions;
}

/** The origin of a URL for records and output: scheme, host and port only. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid URL';
  }
}

/** Whether the webhook wants `event`; `notify_test` reaches every webhook (that is its point). */
export function wants(webhook: Pick<WebhookConfig, 'events'>, event: Notice['event']): boolean {
  return event === 'notify_test' || webhook.events === undefined || webhook.events.includes(event);
}

/** A delivery without an error was answered 2xx (deliver.ts sets `error` on every other ending). */
export function deliveryStage(delivery: DeliveryRecord): 'delivered' | 'undelivered' {
  return delivery.error === undefined ? 'delivered' : 'undelivered';
}

/**
 * An approval link is its approver's credential: a webhook gets only the link of the approver it
 * names (`approver:`), and a webhook naming none (a team channel) gets no approver's link at all,
 * so nobody in a channel can tap someone else's approval. Links bound to no approver pass.
 */
export function withLinksFor(notice: Notice, webhook: Pick<WebhookConfig, 'approver'>): Notice {
  if (notice.links === undefined) return notice;
  const links = notice.links.filter((l) => l.approver === undefined || l.approver === webhook.approver);
  return links.length === notice.links.length ? notice : { ...notice, links };
}

export class WebhookNotifier implements NotifyPort {
  private inFlight: Promise<DeliveryRecord>[] = [];

  constructor(
    private readonly webhooks: readonly WebhookConfig[],
    private readonly deps: NotifierDeps,
  ) {}

  send(notice: Notice): void {
    try {
      const indices = this.webhooks.flatMap((w, i) => (wants(w, notice.event) ? [i] : []));
      if (indices.length > 0) void this.deliverTo(notice, indices);
    } catch (err) {
      this.deps.warn(`notification ${notice.event} not sent: ${(err as Error).message}`);
    }
  }

  /** Delivers `notice` to the webhooks at `indices` (the caller has chosen them); settle() records them. */
  deliverTo(notice: Notice, indices: readonly number[]): Promise<DeliveryRecord[]> {
    const ready = this.withCorrelation(notice);
    const deliveries = indices.map((i) => this.deliverOne(ready, i));
    this.inFlight.push(...deliveries);
    return Promise.all(deliveries);
  }

  private settling: Promise<void> = Promise.resolve();

  /**
   * Waits for every delivery started so far, then records each (in the order they were sent). Calls
   * are serialised: one made while another is recording ends after it (a long-running guard settles
   * after each stage in the background, and its last settle must still wait for those).
   */
  settle(): Promise<void> {
    this.settling = this.settling.then(() => this.drain());
    return this.settling;
  }

  private async drain(): Promise<void> {
    while (this.inFlight.length > 0) {
      const batch = this.inFlight;
      this.inFlight = [];
      for (const delivery of await Promise.all(batch)) {
        try {
          await this.deps.record(deliveryStage(delivery), delivery);
        } catch (err) {
          this.deps.warn(`the outcome of a notification to webhook ${delivery.webhook.index} (${delivery.webhook.origin}) could not be recorded: ${(err as Error).message}`);
        }
      }
    }
  }

  /** The notice with its correlation looked up (never fails: a lookup error leaves it absent). */
  private async withCorrelation(notice: Notice): Promise<Notice> {
    const { correlate_at: at, ...rest } = notice;
    if (at === undefined || notice.correlation !== undefined) return rest;
    try {
      return { ...rest, correlation: await lastChangeBefore(this.deps.historyFile, Date.parse(at)) };
    } catch (err) {
      this.deps.warn(`notification ${notice.event}: the last change could not be looked up: ${(err as Error).message}`);
      return rest;
    }
  }

  private async deliverOne(ready: Promise<Notice>, index: number): Promise<DeliveryRecord> {
    const started = performance.now();
    const webhook = this.webhooks[index]!;
    const env = this.deps.env ?? process.env;
    const url = webhook.url ?? (webhook.url_env !== undefined ? env[webhook.url_env] : undefined);
    const notice = withLinksFor(await ready, webhook);
    const base: DeliveryRecord = {
      event: notice.event,
      webhook: { index, origin: url === undefined || url === '' ? 'unknown (url_env unset)' : originOf(url), format: webhook.format },
      attempts: 0,
      elapsed_ms: 0,
      ...(notice.approval ? { approval_id: notice.approval.id } : {}),
      ...(notice.incident ? { incident_id: notice.incident.id } : {}),
    };
    const unset = url === undefined || url === '' ? webhook.url_env : env[webhook.secret_env] === undefined || env[webhook.secret_env] === '' ? webhook.secret_env : undefined;
    if (unset !== undefined) {
      // The variable's NAME, never a value.
      return { ...base, error: `environment variable ${unset} is not set`, elapsed_ms: Math.round(performance.now() - started) };
    }
    let outcome: DeliveryOutcome;
    try {
      const body = formatNotice(notice, webhook.format, { project: this.deps.project, commit: this.deps.commit, sentAt: this.deps.clock?.() ?? new Date() });
      outcome = await deliverWebhook({ url: url!, secret: env[webhook.secret_env]!, budgetMs: webhook.budget_seconds * 1000, event: notice.event }, body, this.deps.delivery);
    } catch (err) {
      outcome = { delivered: false, attempts: 0, error: `not sent: ${(err as Error).message}`, elapsed_ms: 0 };
    }
    return {
      ...base,
      attempts: outcome.attempts,
      ...(outcome.status !== undefined ? { status: outcome.status } : {}),
      ...(outcome.delivered || outcome.error === undefined ? {} : { error: outcome.error }),
      elapsed_ms: Math.round(performance.now() - started),
    };
  }
}
