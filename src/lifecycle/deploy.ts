import { EXIT, OperationFailed, UsageError, type ExitCode } from '../errors.js';
import { gatherHostFacts } from '../policy/host-facts.js';
import { gate } from '../policy/gate.js';
import { PolicyDecisionDenied } from '../policy/errors.js';
import { waitReady } from '../policy/client.js';
import { planGenerate } from '../render/generate.js';
import { pollHealth } from '../runtime/health.js';
import { describeServices } from '../runtime/ps.js';
import { Session, type Operator } from './session.js';
import { activeRollout } from './rollout.js';
import { describeRollout } from './rollout-state.js';
import { connectEngine, type LifecycleDeps } from './engine.js';
import { alertDecision } from './alerts.js';
import { withProjectLock, type LockOptions } from './locking.js';
import { changeFiles, performEffect } from './wal.js';

export interface DeployOptions extends LockOptions {
  /** Overwrite hand-edited generated files (as `init --force`). */
  force?: boolean;
}

/**
 * deploy: lock, render, start the policy engine, ask infrastructure/pre_deploy, then build (if
 * needed), bring the stack up and poll /healthz through nginx. A deny stops before the app and
 * nginx are created.
 */
export async function deploy(manifestPath: string, operator: Operator, options: DeployOptions = {}, deps: LifecycleDeps = {}): Promise<ExitCode> {
  const session = await Session.open(manifestPath, operator, 'deploy');
  return withProjectLock(session, 'deploy', options, async () => {
    const { out } = session;
    const m = session.manifest;
    await session.event('requested', { detail: `deploy ${m.services.image} (${m.services.mode}, version ${m.services.version})` });
    let gateRecorded = false; // the gate records its own decision or engine failure
    try {
      const active = await activeRollout(session);
      if (active) {
        throw new UsageError(`a rollout is under way (${describeRollout(active)}): finish it (\`swiftdeploy promote stable\`) or end it (\`swiftdeploy abort\`) before a deploy`);
      }
      const toWrite = (await planGenerate(session.loaded, { force: options.force })).filter((p) => !p.unchanged);
      await changeFiles(session, toWrite, {
        detail: `render ${toWrite.map((p) => p.abs.slice(session.loaded.projectDir.length + 1)).join(', ')}${options.force ? ' (--force)' : ''}`,
        command: options.force ? 'deploy --force' : 'deploy',
      });
      const nginxConfChanged = toWrite.some((p) => p.abs.endsWith('nginx.conf'));
      const engine = await connectEngine(session, deps);

      const client = await session.policyClient();
      try {
        if (m.opa.url === undefined) {
          out.info(`starting the OPA sidecar (${m.opa.image})`);
          await engine.startServices(['opa']);
        }
        const wait = out.progress(`waiting for OPA at ${client.url}`);
        await waitReady(client, { timeoutMs: 30_000, onProgress: (p) => wait.update(p.detail) });
        wait.done(`OPA at ${client.url} is ready`);

        const dataRoot = await engine.dataRoot();
        const facts = await gatherHostFacts({ projectDir: session.loaded.projectDir, dockerDataRoot: dataRoot });
        const { mode, ...thresholds } = m.policy.infrastructure;
        try {
          const record = await gate(
            { domain: 'infrastructure', question: 'pre_deploy', facts, thresholds, mode },
            {
              client,
              recorder: session.recorder,
              policyVersion: session.policyVersion('infrastructure'),
              manifestSha256: session.loaded.sha256,
              actor: operator.actor,
              action: 'deploy',
              ...(session.git ? { git: session.git } : {}),
              warn: (line) => out.info(line, 'warn'),
              onDenied: (record) => alertDecision(session, record, 'deploy'),
            },
          );
          if (record) out.decision(record, record.enforcement === 'shadow');
        } catch (err) {
          gateRecorded = true;
          if (err instanceof PolicyDecisionDenied) {
            out.decision(err.decision);
            out.info('deploy stopped before the app and nginx were created.');
          }
          throw err;
        }
      } finally {
        await client.close();
      }

      if (!(await engine.imageExists(m.services.image))) {
        if (!m.services.build) {
          throw new OperationFailed(`image ${m.services.image} does not exist locally and services.build is not set`);
        }
        out.info(`building ${m.services.image}`);
        await engine.buildApp();
      }
      await performEffect(session, `compose up project ${m.project.name}${nginxConfChanged ? ', reload nginx' : ''}`, async () => {
        out.info(`bringing up project ${m.project.name}`);
        await engine.up();
        if (nginxConfChanged) {
          // compose does not recreate nginx for a changed bind-mounted file; a running nginx must reload.
          await engine.reloadNginx();
          out.info('nginx reloaded with the new nginx.conf');
        }
      });
      await session.event('executed', { detail: 'compose up' });

      const url = session.nginxUrl('/healthz');
      const poll = out.progress(`waiting for ${url}`);
      const health = await pollHealth(url, {
        intervalMs: 1000,
        timeoutMs: m.services.health_timeout_seconds * 1000,
        onTick: (t) => poll.update(t.status !== undefined ? `HTTP ${t.status}` : (t.error ?? '')),
      });
      if (!health.healthy) {
        poll.done(`not healthy after ${health.attempts} attempts`);
        const services = await engine.services();
        out.info(`service states:\n${describeServices(services)}`);
        out.info(`last log lines (app, nginx):\n${await engine.logs(['app', 'nginx'], 20)}`);
        throw new OperationFailed(
          `the stack did not become healthy through nginx within ${m.services.health_timeout_seconds}s ` +
            `(last: ${health.last?.status !== undefined ? `HTTP ${health.last.status}` : (health.last?.error ?? 'no answer')})`,
        );
      }
      poll.done(`healthy through nginx at ${session.nginxUrl('/')}`);
      await session.event('confirmed', { detail: `healthy after ${health.elapsedMs} ms`, to_mode: m.services.mode });
      out.result(`deployed ${m.project.name}: ${m.services.image} in ${m.services.mode} mode at ${session.nginxUrl('/')}`, {
        ok: true, action: 'deploy', project: m.project.name, mode: m.services.mode, url: session.nginxUrl('/'),
      });
      return EXIT.OK;
    } catch (err) {
      if (!gateRecorded) {
        await session.event('failed', { detail: (err as Error).message }).catch(() => undefined);
      }
      throw err;
    }
  });
}
