/**
 * The real dependencies of a status tick, wired from plain values, so the CLI and the integration
 * tests build ticks the same way (the tests pass local servers' URLs and a temp history).
 */
import { appendRecord } from '../history/ledger.js';
import type { StatusPayload } from './payload.js';
import { scrapeMetrics } from '../metrics/scrape.js';
import type { PolicyClient } from '../policy/client.js';
import { evaluatePolicy } from '../policy/gate.js';
import { gatherHostFacts } from '../policy/host-facts.js';
import type { Enforcement, PolicyDomain } from '../policy/types.js';
import type { StatusDeps } from './tick.js';

export interface StatusWiring {
  /** `http://127.0.0.1:<nginx.port>/metrics`: through nginx, as users reach the stack. */
  metricsUrl: string;
  scrapeTimeoutMs?: number;
  client: PolicyClient;
  thresholds: Record<PolicyDomain, unknown>;
  modes: Record<PolicyDomain, Enforcement>;
  /** policy_version per domain (policy files + that domain's thresholds). */
  policyVersions: Record<PolicyDomain, string>;
  /** Recorded on the record itself: the version over the policy files and all thresholds. */
  recordPolicyVersion: string;
  projectDir: string;
  historyFile: string;
  actor: string;
  manifestSha256: string | null;
  /** During a progressive rollout, each track's metrics URL through nginx; undefined when none runs (asked every tick). */
  trackMetricsUrls?: () => Promise<{ stable: string; canary: string } | undefined>;
  /** `runtime: swarm`: every app replica's own scrape (src/runtime/replica-scraper.ts), used instead of metricsUrl. */
  scrapeReplicas?: StatusDeps['scrapeReplicas'];
  /** `runtime: swarm` during a rollout: each track's replicas scraped on their own (null outside one); replaces trackMetricsUrls there. */
  scrapeTrackReplicas?: StatusDeps['scrapeTrackReplicas'];
  /** Overrides host fact gathering (tests); default measures this host. */
  hostFacts?: () => Promise<unknown>;
  now?: () => number;
}

export function createStatusDeps(w: StatusWiring): StatusDeps {
  const now = w.now ?? Date.now;
  return {
    scrape: () => scrapeMetrics(w.metricsUrl, { ...(w.scrapeTimeoutMs !== undefined ? { timeoutMs: w.scrapeTimeoutMs } : {}), now }),
    ...(w.scrapeReplicas ? { scrapeReplicas: w.scrapeReplicas } : {}),
    ...(w.scrapeTrackReplicas ? { scrapeTrackReplicas: w.scrapeTrackReplicas } : {}),
    hostFacts: w.hostFacts ?? (() => gatherHostFacts({ projectDir: w.projectDir })),
    scrapeTracks: async () => {
      const urls = w.trackMetricsUrls ? await w.trackMetricsUrls() : undefined;
      if (urls === undefined) return null;
      const one = (url: string) => scrapeMetrics(url, { ...(w.scrapeTimeoutMs !== undefined ? { timeoutMs: w.scrapeTimeoutMs } : {}), now }).catch(() => null);
      const [stable, canary] = await Promise.all([one(urls.stable), one(urls.canary)]);
      return { stable, canary };
    },
    decide: (domain, facts) =>
      evaluatePolicy({ domain, question: 'status', facts, thresholds: w.thresholds[domain] }, w.modes[domain], w.client, w.policyVersions[domain]),
    record: async (payload: StatusPayload) => {
      const record = await appendRecord(w.historyFile, {
        kind: 'status',
        actor: w.actor,
        policy_version: w.recordPolicyVersion,
        manifest_sha256: w.manifestSha256,
        payload,
      });
      return { seq: record.seq, hash: record.hash };
    },
    now,
  };
}
