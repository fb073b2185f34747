/**
 * What a runtime backend must do for the lifecycle. The lifecycle (src/lifecycle/) decides *when*
 * to start, replace, reload or tear down; an Engine decides *how* on its platform, building argv and
 * running it through a Runner. Docker Compose is one implementation (compose-engine.ts); a swarm
 * backend is meant to be a second one, not a fork of the lifecycle.
 */
import type { Snapshot } from '../metrics/types.js';
import type { ServiceContainer } from './ps.js';

// The one runner signature: argv + options -> { exitCode, stdout, stderr }. `runArgv` (run.ts) is the
// real one; `runArgvChecked(argv, options, run)` is the checked variant (a non-zero exit throws).
export type { Runner, RunOptions, RunResult } from './run.js';

/** The project an engine runs, as the lifecycle resolved it. */
export interface EngineProject {
  /** Where the manifest lives; commands run here. */
  projectDir: string;
  /** `project.name`: scopes containers, networks and volumes. */
  projectName: string;
  /** The generated docker-compose.yml (it may be gone after `teardown --clean`). */
  composeFile: string;
  /** The generated docker-stack.yml, for `runtime: swarm` (swarm-engine.ts). */
  stackFile?: string;
  /** The secret the app's /chaos is guarded with, handed to the app by the engine, never via a file it reads. */
  chaosToken: string;
  /** A line of the engine's own progress output (build, pull, create), for display as it happens. */
  onLine?: (line: string) => void;
}

export interface Engine {
  /** The container engine's version (e.g. dockerd's "20.10.24"), for reports. */
  readonly version: string;
  /** Start some services and what they depend on (the OPA sidecar before the policy gate). */
  startServices(services: readonly string[]): Promise<void>;
  /** Converge the whole stack on the current definition, removing services no longer defined. */
  up(): Promise<void>;
  /** Build the app image from `services.build`. */
  buildApp(): Promise<void>;
  /** Whether an image exists locally (never pulls). */
  imageExists(image: string): Promise<boolean>;
  /**
   * Replace the app with the current definition, start-before-stop: the new one is healthy before
   * the old one stops; one that does not become healthy within `healthTimeoutMs` is removed and the
   * old one keeps serving (OperationFailed).
   */
  replaceApp(healthTimeoutMs: number): Promise<void>;
  /** Make nginx read a re-rendered nginx.conf; the config is tested first and a broken one is never loaded. */
  reloadNginx(): Promise<void>;
  /** The project's containers, stopped ones included; empty when the engine cannot say. */
  services(): Promise<ServiceContainer[]>;
  /** The last `tail` lines of each service's log, for failure reports. */
  logs(services: readonly string[], tail: number): Promise<string>;
  /**
   * Stop (gracefully: in-flight requests drain) and remove one service's containers, touching no
   * other service; for a service no longer in the compose file (the canary track after a rollout).
   */
  removeService(service: string): Promise<void>;
  /** Stop and remove everything of the project but its volumes (even without the compose file). */
  down(): Promise<void>;
  /** The filesystem images and containers fill (for the disk fact); null when the engine does not say. */
  dataRoot(): Promise<string | null>;
  /**
   * For a progressive rollout's step windows: a scrape of each track's cumulative counters. Absent
   * when nginx's per-track metrics locations measure a track whole (compose: one container a track).
   */
  trackScraper?(windowSeconds: number): () => Promise<TrackSnapshots>;
}

/** Both tracks' counters at one moment. */
export interface TrackSnapshots {
  stable: Snapshot;
  canary: Snapshot;
}
