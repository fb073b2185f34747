/**
 * What `status` and `guard` both watch, wired from a project opened as a Session: the stack's front
 * door, the policy thresholds and enforcement per domain, the versions recorded, on swarm every
 * replica's own scrape (docs/swarm.md), and during a progressive rollout each track's figures. One
 * place, so the guard judges exactly what status shows.
 */
import { replicaScraper, trackReplicaScraper } from '../runtime/replica-scraper.js';
import type { Runner } from '../runtime/run.js';
import type { StatusWiring } from '../status/deps.js';
import type { Session } from './session.js';

type Required = Pick<StatusWiring, 'actor' | 'client'>;
type Overrides = Partial<Pick<StatusWiring, 'metricsUrl' | 'scrapeTimeoutMs' | 'hostFacts' | 'scrapeReplicas'>> & {
  /** Whether a progressive rollout runs (asked every tick); absent: never, so no per-track figures. */
  rolloutRunning?: () => boolean | Promise<boolean>;
  /** The Docker CLI runner for the swarm replica scrapes (tests: a scripted one). */
  run?: Runner;
};

export function sessionStatusWiring(session: Session, o: Required & Overrides): StatusWiring {
  const { manifest } = session;
  const { mode: infraMode, ...infraThresholds } = manifest.policy.infrastructure;
  const { mode: canaryMode, ...canaryThresholds } = manifest.policy.canary;
  const swarm = manifest.runtime === 'swarm';
  const scraper = { stack: manifest.project.name, port: manifest.services.port, ...(o.run ? { run: o.run } : {}) };
  // On swarm, nginx reaches one replica per request: each replica is scraped on its own instead.
  const scrapeReplicas = o.scrapeReplicas ?? (swarm ? replicaScraper(scraper) : undefined);
  // During a rollout each track on its own: on compose through nginx's per-track location (one
  // container a track); on swarm each track's tasks scraped and summed, since through nginx the stable
  // track's counters would alternate between its tasks (read as resets). Outside a rollout nothing is
  // asked of app-canary (it does not exist).
  const running = o.rolloutRunning;
  const tracks: Pick<StatusWiring, 'trackMetricsUrls' | 'scrapeTrackReplicas'> = {};
  if (running && swarm) {
    const scrapeTracks = trackReplicaScraper(scraper);
    tracks.scrapeTrackReplicas = async () => ((await running()) ? scrapeTracks() : null);
  } else if (running) {
    tracks.trackMetricsUrls = async () => ((await running()) ? session.trackMetricsUrls() : undefined);
  }
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
    ...tracks,
  };
}
