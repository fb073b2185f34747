/**
 * One status tick: scrape, window, ask both policy domains (question `status`), append one record.
 * Everything that touches the network, the disk or the clock is injected, so a test drives ticks
 * against real local servers and a temp history, and the CLI passes the real ones.
 */
import { EXIT, OperationFailed } from '../errors.js';
import type { PolicyVerdict, StatusPayload } from './payload.js';
import { ReplicaAggregate, TrackAggregates, type ReplicaDetail, type ReplicaScrape, type Track, type TrackScrape } from '../metrics/replicas.js';
import { RollingWindow } from '../metrics/rolling.js';
import type { Snapshot, WindowStats } from '../metrics/types.js';
import type { PolicyOutcome } from '../policy/gate.js';
import { canaryFactsFromWindow } from '../policy/canary-facts.js';
import type { Enforcement, PolicyDomain } from '../policy/types.js';
import { observeStack } from './observe.js';

export interface StatusDeps {
  /** GET /metrics through nginx. Throws when the stack cannot be scraped. */
  scrape(): Promise<Snapshot>;
  /**
   * `runtime: swarm`: each app replica's own scrape, used instead of `scrape` (through nginx, one
   * scrape reaches one replica). Their increases are summed into the window the policies judge.
   * Throws when the replicas cannot be listed.
   */
  scrapeReplicas?(): Promise<ReplicaScrape[]>;
  /** Host facts for the infrastructure domain. */
  hostFacts(): Promise<unknown>;
  /** Asks one domain with question `status`; an unreachable engine is an outcome, not a throw. */
  decide(domain: PolicyDomain, facts: unknown): Promise<PolicyOutcome>;
  /**
   * During a progressive rollout, each track's own /metrics through nginx; null when no rollout has a
   * canary track (then the record has no `tracks`). A failed track scrape is null for that track.
   */
  scrapeTracks?(): Promise<{ stable: Snapshot | null; canary: Snapshot | null } | null>;
  /**
   * `runtime: swarm` during a progressive rollout: each track's tasks (`app`, `app-canary`) scraped on
   * their own, used instead of `scrapeReplicas` and `scrapeTracks`: the stack's aggregate sums both
   * tracks' tasks (what nginx sends users to) and each track is summed on its own. null when no
   * rollout runs (then `scrapeReplicas` scrapes `app` alone). A track that cannot be listed says why.
   */
  scrapeTrackReplicas?(): Promise<Record<Track, TrackScrape> | null>;
  /** Appends the tick's record; returns what the ledger wrote (seq, hash) for --json. */
  record(payload: StatusPayload): Promise<{ seq: number; hash: string } | null>;
  now(): number;
}

export interface StatusMonitorOptions {
  /** policy.canary.window_seconds: what the canary policy judges. */
  windowSeconds: number;
  /** policy.canary.mode, for a canary verdict that could not be asked for. */
  canaryEnforcement: Enforcement;
}

export type TickExit = typeof EXIT.OK | typeof EXIT.FAILED | typeof EXIT.POLICY_DENIED | typeof EXIT.POLICY_UNAVAILABLE;

export interface TickResult {
  at: number;
  payload: StatusPayload;
  record: { seq: number; hash: string } | null;
  /** What `status --once` exits with for this tick. */
  exit: TickExit;
}

function verdictOf(domain: PolicyDomain, outcome: PolicyOutcome): PolicyVerdict {
  if (outcome.kind === 'decided') return outcome.record;
  return { domain, unavailable: outcome.error.message, enforcement: outcome.enforcement };
}

/** 1 when nothing was observed; else 4 if an engine could not answer; else 3 if a policy said no. */
export function exitForTick(payload: StatusPayload): TickExit {
  if (payload.error !== undefined) return EXIT.FAILED;
  const verdicts = Object.values(payload.decisions);
  if (verdicts.some((v) => v !== undefined && 'unavailable' in v)) return EXIT.POLICY_UNAVAILABLE;
  if (verdicts.some((v) => v !== undefined && 'allowed' in v && !v.allowed)) return EXIT.POLICY_DENIED;
  return EXIT.OK;
}

/** Why a swarm tick has no snapshot: no task listed, or none answered (the first replica's reason). */
function noReplicaScraped(replicas: readonly ReplicaDetail[]): string {
  if (replicas.length === 0) return 'no app replica is running';
  return `no app replica could be scraped (${replicas.length} listed): ${replicas[0]?.error ?? 'no answer'}`;
}

export class StatusMonitor {
  private readonly window: RollingWindow;
  private readonly replicas: ReplicaAggregate | null;
  private tracks: { stable: RollingWindow; canary: RollingWindow } | null = null;
  /** swarm, during a rollout: each track's replicas summed on their own; null outside one, so a new rollout starts over. */
  private trackSums: TrackAggregates | null = null;
  /** The canary tasks last listed, kept (unscraped) in the stack's aggregate while a listing of them fails. */
  private canaryTasks: ReplicaScrape[] = [];
  private primed = false;

  constructor(
    private readonly deps: StatusDeps,
    private readonly options: StatusMonitorOptions,
  ) {
    this.window = new RollingWindow(options.windowSeconds);
    this.replicas = deps.scrapeReplicas || deps.scrapeTrackReplicas ? new ReplicaAggregate(options.windowSeconds) : null;
  }

  /**
   * The stack's snapshot: one scrape, or on swarm the replicas' aggregate (null when none answered)
   * with each one's detail; during a rollout on swarm, over both tracks' tasks from `tracked`.
   */
  private async scrapeStack(tracked: Record<Track, TrackScrape> | null): Promise<{ snapshot: Snapshot | null; replicas?: ReplicaDetail[] }> {
    if (this.replicas === null) return { snapshot: await this.deps.scrape() };
    if (tracked === null) {
      this.canaryTasks = [];
      if (!this.deps.scrapeReplicas) throw new OperationFailed('no scraper for the app replicas outside a rollout');
      return this.replicas.add(await this.deps.scrapeReplicas());
    }
    const { stable, canary } = tracked;
    // The stable tasks are the stack's: not listed, no snapshot (as scrapeReplicas throws).
    if (stable.scrapes === null) throw new OperationFailed(`cannot list the tasks of ${stable.service}: ${stable.error ?? 'no answer'}`);
    if (canary.scrapes !== null) this.canaryTasks = canary.scrapes;
    const canaryScrapes =
      canary.scrapes ?? this.canaryTasks.map((t): ReplicaScrape => ({ ...t, snapshot: null, error: `cannot list the tasks of ${canary.service}: ${canary.error ?? 'no answer'}` }));
    return this.replicas.add([...stable.scrapes, ...canaryScrapes]);
  }

  /** swarm's per-track replica scrapes for this tick; null outside a rollout (or on compose). */
  private async scrapeTracked(): Promise<Record<Track, TrackScrape> | null> {
    return this.deps.scrapeTrackReplicas ? this.deps.scrapeTrackReplicas() : null;
  }

  /**
   * Takes the first snapshot. One scrape holds totals, not rates, so a tick needs an earlier one;
   * the first is taken here, unrecorded. Throws when the stack cannot be scraped.
   */
  async prime(): Promise<void> {
    const { snapshot, replicas } = await this.scrapeStack(await this.scrapeTracked());
    if (snapshot === null) throw new OperationFailed(noReplicaScraped(replicas ?? []));
    this.window.add(snapshot);
    this.primed = true;
  }

  async tick(): Promise<TickResult> {
    let snapshot: Snapshot | null = null;
    let replicas: ReplicaDetail[] | undefined;
    let scrapeError: string | undefined;
    // On swarm during a rollout one scrape of every task serves the stack's window and each track's.
    let tracked: Record<Track, TrackScrape> | null = null;
    try {
      tracked = await this.scrapeTracked();
      ({ snapshot, replicas } = await this.scrapeStack(tracked));
      if (snapshot === null) scrapeError = noReplicaScraped(replicas ?? []);
    } catch (err) {
      scrapeError = err instanceof Error ? err.message : String(err);
    }
    let window: WindowStats | null = null;
    if (snapshot !== null) {
      this.window.add(snapshot);
      this.primed = true;
      window = this.window.stats();
    }
    const observed = snapshot === null ? { mode: null, chaos: null, uptime_seconds: null } : observeStack(snapshot);
    const tracks = await this.trackWindows(tracked);

    const [infrastructure, canary] = await Promise.all([
      this.deps.hostFacts().then((facts) => this.deps.decide('infrastructure', facts)),
      window === null ? Promise.resolve(null) : this.deps.decide('canary', canaryFactsFromWindow(window)),
    ]);
    const decisions: StatusPayload['decisions'] = { infrastructure: verdictOf('infrastructure', infrastructure) };
    // Without a window the canary cannot be judged; saying "unavailable" with the reason is honest,
    // inventing an empty window would be a deny the canary did not earn.
    decisions.canary =
      canary === null
        ? { domain: 'canary', unavailable: scrapeError !== undefined ? 'no metrics window: the scrape failed' : 'no metrics window yet', enforcement: this.options.canaryEnforcement }
        : verdictOf('canary', canary);

    const payload: StatusPayload = {
      ...observed,
      window,
      decisions,
      ...(tracks !== null ? { tracks } : {}),
      ...(replicas !== undefined ? { replicas } : {}),
      ...(scrapeError !== undefined ? { error: scrapeError } : {}),
    };
    const record = await this.deps.record(payload);
    return { at: window?.to ?? this.deps.now(), payload, record, exit: exitForTick(payload) };
  }

  /** Each track's window during a rollout; the windows start over when a rollout begins. */
  private async trackWindows(tracked: Record<Track, TrackScrape> | null): Promise<{ stable: WindowStats | null; canary: WindowStats | null } | null> {
    let scraped: { stable: Snapshot | null; canary: Snapshot | null } | null;
    if (tracked !== null) {
      this.trackSums ??= new TrackAggregates(this.options.windowSeconds);
      const summed = this.trackSums.add(tracked);
      scraped = { stable: summed.stable.snapshot, canary: summed.canary.snapshot };
    } else {
      this.trackSums = null;
      scraped = this.deps.scrapeTracks ? await this.deps.scrapeTracks() : null;
    }
    if (scraped === null) {
      this.tracks = null;
      return null;
    }
    this.tracks ??= { stable: new RollingWindow(this.options.windowSeconds), canary: new RollingWindow(this.options.windowSeconds) };
    const one = (track: Track): WindowStats | null => {
      const s = scraped[track];
      if (s === null) return null;
      this.tracks![track].add(s);
      return this.tracks![track].stats();
    };
    return { stable: one('stable'), canary: one('canary') };
  }

  get isPrimed(): boolean {
    return this.primed;
  }
}
