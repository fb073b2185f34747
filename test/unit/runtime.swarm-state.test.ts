/**
 * The swarm argv builders (one-line array assertions) and the pure convergence judgement: which
 * UpdateStatus after a deploy counts, and how each of Swarm's outcomes is read.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { execNginx, localTaskContainers, serviceLogs, stackDeploy, stackRm, stackService, stackServiceList, stackTasks } from '../../src/runtime/swarm-argv.js';
import { judgeConvergence, parseServiceInspect, parseServiceList, type InspectedService, type Replicas } from '../../src/runtime/swarm-state.js';

describe('swarm argv', () => {
  it('stack deploy prunes and never resolves images on a registry', () => {
    expect(stackDeploy('/p/docker-stack.yml', 'shop')).toEqual([
      'docker', 'stack', 'deploy', '--compose-file', '/p/docker-stack.yml', '--prune', '--resolve-image', 'never', 'shop',
    ]);
  });
  it('stack rm, service ls by the stack label, stack ps of running tasks, logs of one service', () => {
    expect(stackRm('shop')).toEqual(['docker', 'stack', 'rm', 'shop']);
    expect(stackServiceList('shop')).toEqual(['docker', 'service', 'ls', '--filter', 'label=com.docker.stack.namespace=shop', '--format', '{{json .}}']);
    expect(stackTasks('shop')).toEqual(['docker', 'stack', 'ps', '--no-trunc', '--filter', 'desired-state=running', '--format', '{{json .}}', 'shop']);
    expect(serviceLogs('shop', 'app', 20)).toEqual(['docker', 'service', 'logs', '--no-task-ids', '--tail', '20', 'shop_app']);
  });
  it('nginx in its task container on this node: found by the swarm service label, -c the file it runs, then -t or -s reload', () => {
    expect(localTaskContainers('shop', 'nginx')).toEqual(['docker', 'ps', '--no-trunc', '--filter', 'label=com.docker.swarm.service.name=shop_nginx', '--format', '{{.ID}} {{.Label "com.docker.swarm.task.id"}}']);
    expect(execNginx('0123456789abcdef', '/etc/swiftdeploy/nginx/nginx.conf', ['-t'])).toEqual(['docker', 'exec', '0123456789abcdef', 'nginx', '-c', '/etc/swiftdeploy/nginx/nginx.conf', '-t']);
    expect(execNginx('0123456789abcdef', '/c', ['-s', 'reload']).slice(-2)).toEqual(['-s', 'reload']);
    expect(() => execNginx('--privileged', '/c', ['-t'])).toThrow(UsageError);
  });

  it('refuses a name that argv would read as a flag', () => {
    expect(() => stackService('shop', '--all')).toThrow(UsageError);
    expect(() => stackRm('-x')).toThrow(UsageError);
  });
});

const svc = (name: string, taskTemplate: string, update?: InspectedService['update']): InspectedService => ({ name, taskTemplate, update });
const reps = (...rows: Array<[string, number, number]>): Replicas => new Map(rows.map(([n, running, desired]) => [n, { running, desired }]));
const at = (state: NonNullable<InspectedService['update']>['state'], startedAt: string, message = '') => ({ state, startedAt, message });

describe('parsing', () => {
  it('service ls rows, with and without a max-per-node note', () => {
    const text = '{"Name":"s_app","Replicas":"2/3"}\n{"Name":"s_nginx","Replicas":"1/1 (max 1 per node)"}\n';
    expect(parseServiceList(text)).toEqual(reps(['s_app', 2, 3], ['s_nginx', 1, 1]));
  });
  it('service inspect: UpdateStatus read, absent when Swarm has none', () => {
    const text = JSON.stringify([
      { Spec: { Name: 's_app', TaskTemplate: { a: 1 } }, UpdateStatus: { State: 'rollback_completed', StartedAt: 't1', Message: 'rolled back' } },
      { Spec: { Name: 's_nginx', TaskTemplate: { b: 2 } } },
    ]);
    expect(parseServiceInspect(text)).toEqual([svc('s_app', '{"a":1}', at('rollback_completed', 't1', 'rolled back')), svc('s_nginx', '{"b":2}')]);
  });
});

describe('judgeConvergence', () => {
  it('a new stack converges when every service runs its desired tasks', () => {
    const now = [svc('s_app', 'A'), svc('s_nginx', 'N')];
    expect(judgeConvergence([], now, now, reps(['s_app', 2, 3], ['s_nginx', 1, 1])).state).toBe('converging');
    expect(judgeConvergence([], now, now, reps(['s_app', 3, 3], ['s_nginx', 1, 1]))).toEqual({ state: 'converged', detail: 's_app 3/3, s_nginx 1/1' });
  });

  it('an unchanged spec with an old rollback in its status: converged, not failed', () => {
    const old = svc('s_app', 'A', at('rollback_completed', 't1', 'from last week'));
    expect(judgeConvergence([old], [old], [old], reps(['s_app', 3, 3])).state).toBe('converged');
  });

  it('a changed spec waits for an update that started after the deploy, then for completed', () => {
    const before = svc('s_app', 'A', at('completed', 't1'));
    const after = svc('s_app', 'B', at('completed', 't1'));
    expect(judgeConvergence([before], [after], [after], reps(['s_app', 3, 3]))).toEqual({ state: 'converging', detail: 's_app 3/3 update not started' });
    const updating = svc('s_app', 'B', at('updating', 't2'));
    expect(judgeConvergence([before], [after], [updating], reps(['s_app', 3, 3])).state).toBe('converging');
    const done = svc('s_app', 'B', at('completed', 't2'));
    expect(judgeConvergence([before], [after], [done], reps(['s_app', 3, 3]))).toEqual({ state: 'converged', detail: 's_app 3/3 completed' });
  });

  for (const outcome of ['rollback_completed', 'paused', 'rollback_paused'] as const) {
    it(`${outcome} after the deploy is a failure naming the service and Swarm's message`, () => {
      const before = svc('s_app', 'A');
      const after = svc('s_app', 'B');
      const now = svc('s_app', outcome === 'rollback_completed' ? 'A' : 'B', at(outcome, 't2', 'task x failed'));
      expect(judgeConvergence([before], [after], [now], reps(['s_app', 3, 3]))).toMatchObject({ state: 'failed', service: 's_app', outcome, message: 'task x failed' });
    });
  }
});
