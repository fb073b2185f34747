/**
 * What `status` and `guard` both watch, wired from a project opened as a Session: the stack's front
 * door, the policy thresholds and enforcement per domain, the versions recorded, and on swarm every
 * replica's own scrape (docs/swarm.md). One place, so the guard judges exactly what status shows.
 */
import { replicaScraper } from '../runtime/replica-scraper.js';
import type { StatusWiring } from '../status/deps.js';
import type { Session } from './session.js';

type Required = Pick<StatusWiring, 'actor' | 'client'>;
type Overrides = Partial<Pick<StatusWiring, 'metricsUrl' | 'scrapeTimeoutMs' | 'hostFacts' | 'trackMetricsUrls' | 'scrapeReplicas'>>;

export function sessionStatusWiring(session: Session, o: Required & Overrides): StatusWiring {
  const { manifest } = session;
  const { mode: infraMode, ...infraThresholds } = manifest.policy.infrastructure;
  const { mode: canaryMode, ...canaryThresholds } = manifest.policy.canary;
  // On swarm, nginx reaches one replica per request: each replica is scraped on its own instead.
  const scrapeReplicas =
    o.scrapeReplicas ?? (manifest.runtime === 'swarm' ? replicaScraper({ stack: manifest.project.name, port: manifest.services.port }) : undefined);
  return {
    metricsUrl: o.metricsUrl ?? session.nginxUrl('/metrics'),
    ...(o.scrapeTimeoutMs !== undefined ? { scrapeTimeoutMs: o.scrapeTimeoutMs } : {}),
    client: o.client,
    thresholds: { infrastructure: infraThresholds, canary: canaryThresholds },
    modes: { infrastructure: infraMode, canary: canaryMode },
    policyVersions: { infrastructure: session.policyVersion('infrastructure'), canary: session.policyVersion('canary') },
    recordPolicyVersion: session.policyVersion('all'),
    projectDir: session.loaded.projectDir,
    historyFile: session.historyFile,
    actor: o.actor,
    manifestSha256: session.loaded.sha256,
    ...(scrapeReplicas ? { scrapeReplicas } : {}),
    ...(o.hostFacts ? { hostFacts: o.hostFacts } : {}),
    ...(o.trackMetricsUrls ? { trackMetricsUrls: o.trackMetricsUrls } : {}),
  };
}
