/**
 * The one seam through which a lifecycle operation gets its runtime backend. The CLI passes nothing
 * and gets Docker Compose on this machine; tests pass a compose engine on a recording runner.
 */
import { ensureChaosToken } from '../runtime/chaos-token.js';
import { connectComposeEngine, type ComposeEngineOptions } from '../runtime/compose-engine.js';
import type { Engine, EngineProject } from '../runtime/engine.js';
import { connectSwarmEngine, type SwarmEngineOptions } from '../runtime/swarm-engine.js';
import { runArgv } from '../runtime/run.js';
import type { Session } from './session.js';

export type ConnectEngine = (session: Session) => Promise<Engine>;

/** What deploy, promote, rollback and teardown may be given instead of the defaults. */
export interface LifecycleDeps {
  /** The runtime backend for the session's project; Docker Compose (composeEngine()) when absent. */
  connectEngine?: ConnectEngine;
}

/** The session's project as an engine sees it; creates the chaos token on first use. */
export async function engineProject(session: Session): Promise<EngineProject> {
  const out = session.out;
  return {
    projectDir: session.loaded.projectDir,
    projectName: session.manifest.project.name,
    composeFile: session.composeFile(),
    stackFile: session.files.stack,
    chaosToken: await ensureChaosToken(session.stateDir),
    // compose's progress lines, reported as they happen (the CLI shows them dimmed)
    onLine: (line) => {
      if (line.trim() !== '') out.runtimeOutput(line);
    },
  };
}

/** Docker Compose as the backend: detected on this machine, or as `options` say. */
export function composeEngine(options: ComposeEngineOptions = {}): ConnectEngine {
  return async (session) => connectComposeEngine(await engineProject(session), options);
}

/**
 * Docker Swarm as the backend (`runtime: swarm`): the stack through `docker stack deploy`, and the
 * OPA sidecar and image build through compose on the same runner.
 */
export function swarmEngine(options: ComposeEngineOptions & SwarmEngineOptions = {}): ConnectEngine {
  return async (session) => {
    const project = await engineProject(session);
    const compose = await connectComposeEngine(project, options);
    // With `canary:` nginx bind-mounts nginx/ and is reloaded in place (docs/swarm.md).
    const m = session.manifest;
    return connectSwarmEngine(project, compose, options.run ?? runArgv, {
      ...options,
      nginxMounted: m.canary !== undefined,
      appPort: m.services.port,
      healthTimeoutMs: m.services.health_timeout_seconds * 1000,
    });
  };
}

const connectCompose = composeEngine();
const connectSwarm = swarmEngine();

/** The backend `runtime:` names. */
const connectDefault: ConnectEngine = (session) => (session.manifest.runtime === 'swarm' ? connectSwarm : connectCompose)(session);

export function connectEngine(session: Session, deps: LifecycleDeps = {}): Promise<Engine> {
  return (deps.connectEngine ?? connectDefault)(session);
}
