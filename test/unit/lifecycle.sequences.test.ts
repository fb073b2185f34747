/**
 * deploy and teardown as exact command sequences (Kamal-style, no Docker): the real lifecycle and
 * the real compose engine, with a RecordingRunner in place of execa, a scripted Docker host behind
 * it, a real OPA, a real HTTP front on the nginx port and real files. For each step that fails: what
 * runs next, what is recorded, and how the command ends. Promote and rollback:
 * lifecycle.sequences-mode.test.ts. The Docker e2e (test/e2e) runs the real thing.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT, exitCodeOf, OperationFailed, PolicyDenied, RuntimeError } from '../../src/errors.js';
import { deploy } from '../../src/lifecycle/deploy.js';
import { initProject } from '../../src/lifecycle/init.js';
import { teardown } from '../../src/lifecycle/teardown.js';
import { requireOpa } from '../helpers/engines.js';
import { opaForSuite } from '../helpers/opa.js';
import { APP_IMAGE, detection, NGINX_CONF_IN_CONTAINER, PROJECT, scriptedProject, stages, type ScriptedProject, failure } from '../helpers/scripted-project.js';

const engine = requireOpa();
const DATA_ROOT_PROBE = ['docker', 'info', '--format', '{{.DockerRootDir}}'];
const IMAGE_PROBE = ['docker', 'image', 'inspect', '--format', '{{.Id}}', APP_IMAGE];
const NGINX = ['exec', '-T', 'nginx', 'nginx', '-c', NGINX_CONF_IN_CONTAINER];

let p: ScriptedProject | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});


describe.skipIf(!engine.path)(`deploy: the commands it runs, in order${engine.skipNote}`, () => {
  const suite = opaForSuite();

  it('first deploy with a central OPA: detect, data root, image, up, test then reload nginx (nginx.conf is new), then healthy through nginx', async () => {
    p = await scriptedProject({ 'opa.url': suite.opa.url });
    expect(await deploy(p.manifest, p.operator, {}, p.deps)).toBe(EXIT.OK);
    expect(p.argvs()).toEqual([
      ...detection(),
      DATA_ROOT_PROBE,
      IMAGE_PROBE,
      p.compose('up', '--detach', '--remove-orphans'),
      p.compose(...NGINX, '-t'),
      p.compose(...NGINX, '-s', 'reload'),
    ]);
    // compose runs in the project with the chaos token in its environment (never in a file)
    const projectCalls = p.runner.calls.filter((c) => c.argv.includes('--project-name'));
    expect(projectCalls).toHaveLength(3);
    for (const call of projectCalls) {
      expect(call.cwd).toBe(p.dir);
      expect(call.envKeys).toEqual(['SWIFTDEPLOY_CHAOS_TOKEN']);
    }
    const records = await p.records();
    expect(stages(records)).toEqual(['requested', 'intent', 'completed', 'policy_decided', 'intent', 'completed', 'executed', 'confirmed']);
    expect(records[4]!.payload.effect).toBe(`compose up project ${PROJECT}, reload nginx`);
    expect(records.at(-1)!.payload).toMatchObject({ action: 'deploy', to_mode: 'stable' });
    expect(p.text()).toContain(`deployed ${PROJECT}: ${APP_IMAGE} in stable mode`);
  });

  it('rendered files unchanged since init: no nginx reload', async () => {
    p = await scriptedProject({ 'opa.url': suite.opa.url });
    await initProject(p.manifest, p.operator);
    expect(await deploy(p.manifest, p.operator, {}, p.deps)).toBe(EXIT.OK);
    expect(p.argvs()).toEqual([...detection(), DATA_ROOT_PROBE, IMAGE_PROBE, p.compose('up', '--detach', '--remove-orphans')]);
  });

  it('with the OPA sidecar: compose starts `opa` before the policy is asked, and the real OPA answers on opa.port', async () => {
    p = await scriptedProject({ 'opa.port': Number(new URL(suite.opa.url).port) });
    await initProject(p.manifest, p.operator);
    expect(await deploy(p.manifest, p.operator, {}, p.deps)).toBe(EXIT.OK);
    expect(p.argvs()).toEqual([
      ...detection(),
      p.compose('up', '--detach', 'opa'),
      DATA_ROOT_PROBE,
      IMAGE_PROBE,
      p.compose('up', '--detach', '--remove-orphans'),
    ]);
    expect(p.host.running('opa')).toHaveLength(1);
    const decided = (await p.records()).find((r) => r.payload.stage === 'policy_decided');
    expect(decided?.payload.decision).toMatchObject({ domain: 'infrastructure', question: 'pre_deploy', allowed: true });
  });

  it('a missing image with services.build: compose build app before up', async () => {
    p = await scriptedProject({ 'opa.url': suite.opa.url, 'services.build': { context: '.', dockerfile: 'Dockerfile' } }, { images: [] });
    await initProject(p.manifest, p.operator);
    expect(await deploy(p.manifest, p.operator, {}, p.deps)).toBe(EXIT.OK);
    expect(p.argvs().slice(-3)).toEqual([IMAGE_PROBE, p.compose('build', 'app'), p.compose('up', '--detach', '--remove-orphans')]);
  });

  it('a missing image without services.build: nothing is brought up, exit 1, recorded as failed', async () => {
    p = await scriptedProject({ 'opa.url': suite.opa.url }, { images: [] });
    await initProject(p.manifest, p.operator);
    const err = await failure(deploy(p.manifest, p.operator, {}, p.deps));
    expect(err).toBeInstanceOf(OperationFailed);
    expect(err.message).toContain(`image ${APP_IMAGE} does not exist locally`);
    expect(p.argvs().at(-1)).toEqual(IMAGE_PROBE);
    expect(stages(await p.records()).at(-1)).toBe('failed');
  });

  it('denied by policy (real OPA): stops after the facts, nothing created, exit 3, the decision is the last record', async () => {
    p = await scriptedProject({ 'opa.url': suite.opa.url, 'policy.infrastructure.min_disk_free_gb': 1_000_000 });
    await initProject(p.manifest, p.operator);
    const err = await failure(deploy(p.manifest, p.operator, {}, p.deps));
    expect(err).toBeInstanceOf(PolicyDenied);
    expect(exitCodeOf(err)).toBe(EXIT.POLICY_DENIED);
    expect(p.argvs()).toEqual([...detection(), DATA_ROOT_PROBE]);
    expect(p.host.containers).toEqual([]);
    const last = (await p.records()).at(-1)!;
    expect(last.payload.stage).toBe('policy_decided');
    expect(last.payload.decision).toMatchObject({ allowed: false, enforcement: 'enforce' });
  });

  it('`compose up` fails: no reload, no health poll; the effect is recorded as unknown, then failed, exit 1', async () => {
    p = await scriptedProject({ 'opa.url': suite.opa.url });
    p.runner.failNext(['up', '--detach', '--remove-orphans'], { exitCode: 1, stderr: 'Error response from daemon: driver failed programming external connectivity' });
    const err = await failure(deploy(p.manifest, p.operator, {}, p.deps));
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err.message).toContain('driver failed programming external connectivity');
    expect(p.argvs().at(-1)).toEqual(p.compose('up', '--detach', '--remove-orphans'));
    const records = await p.records();
    expect(stages(records).slice(-3)).toEqual(['intent', 'unknown', 'failed']);
    expect(records.at(-2)!.payload.detail).toContain('compose up project');
  });

  it('`nginx -t` fails: nginx is never reloaded with the broken config; exit 1', async () => {
    p = await scriptedProject({ 'opa.url': suite.opa.url });
    p.runner.failNext([...NGINX, '-t'], { exitCode: 1, stderr: 'nginx: [emerg] unknown directive "proxy_passs" in /etc/swiftdeploy/nginx/nginx.conf:40' });
    const err = await failure(deploy(p.manifest, p.operator, {}, p.deps));
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err.message).toContain('unknown directive');
    expect(p.argvs().at(-1)).toEqual(p.compose(...NGINX, '-t'));
    expect(p.argvs().some((a) => a.includes('reload'))).toBe(false);
    expect(stages(await p.records()).slice(-2)).toEqual(['unknown', 'failed']);
  });

  it('not healthy through nginx in time: service states and app+nginx logs are read, exit 1, recorded as failed', async () => {
    p = await scriptedProject({ 'opa.url': suite.opa.url, 'services.health_timeout_seconds': 1 });
    await initProject(p.manifest, p.operator);
    // nginx is up but no app answers behind it: 502 on every poll
    p.host.add('nginx', { image: 'swiftdeploy-nginx:local' });
    p.runner.on(['up', '--detach', '--remove-orphans'], { stderr: ` Container ${PROJECT}-app-1  Started` });
    const err = await failure(deploy(p.manifest, p.operator, {}, p.deps));
    expect(err).toBeInstanceOf(OperationFailed);
    expect(err.message).toContain('the stack did not become healthy through nginx within 1s');
    expect(p.text()).toMatch(/waiting for http:\/\/127\.0\.0\.1:\d+\/healthz \(0s\): HTTP 502/);
    expect(p.argvs().slice(-3)).toEqual([
      p.compose('up', '--detach', '--remove-orphans'),
      p.compose('ps', '--all', '--format', 'json'),
      p.compose('logs', '--no-color', '--tail', '20', 'app', 'nginx'),
    ]);
    expect(p.text()).toContain('nginx: running - Up 2 minutes');
    expect(stages(await p.records()).slice(-3)).toEqual(['completed', 'executed', 'failed']);
  });
});

describe('teardown: the commands it runs, in order', () => {
  async function running(): Promise<ScriptedProject> {
    const project = await scriptedProject({});
    await initProject(project.manifest, project.operator);
    for (const s of ['app', 'nginx', 'opa']) project.host.add(s);
    return project;
  }

  it('compose down, then ps confirms nothing remains', async () => {
    p = await running();
    expect(await teardown(p.manifest, p.operator, {}, p.deps)).toBe(EXIT.OK);
    expect(p.argvs()).toEqual([...detection(), p.compose('down', '--remove-orphans'), p.compose('ps', '--all', '--format', 'json')]);
    const records = await p.records();
    expect(stages(records).slice(-6)).toEqual(['requested', 'authorised', 'intent', 'completed', 'executed', 'confirmed']);
    expect(records.at(-4)!.payload.effect).toBe(`compose down project ${PROJECT}`);
  });

  it('--clean deletes the generated files; a second teardown finds no compose file and removes by label', async () => {
    p = await running();
    expect(await teardown(p.manifest, p.operator, { clean: true }, p.deps)).toBe(EXIT.OK);
    expect(existsSync(p.composeFile)).toBe(false);
    expect(existsSync(path.join(p.dir, 'nginx', 'nginx.conf'))).toBe(false);
    expect(readFileSync(p.manifest, 'utf8')).toContain(`name: ${PROJECT}`);

    const leftover = p.host.add('app');
    p.runner.calls.length = 0;
    expect(await teardown(p.manifest, p.operator, {}, p.deps)).toBe(EXIT.OK);
    const label = `label=com.docker.compose.project=${PROJECT}`;
    expect(p.argvs()).toEqual([
      ...detection(),
      ['docker', 'ps', '--all', '--quiet', '--no-trunc', '--filter', label],
      ['docker', 'rm', '--force', '--volumes', leftover.id],
      ['docker', 'network', 'ls', '--quiet', '--no-trunc', '--filter', label],
      p.compose('ps', '--all', '--format', 'json'),
    ]);
  });

  it('`compose down` fails: nothing is confirmed, the effect is unknown, failed recorded, exit 1', async () => {
    p = await running();
    p.runner.failNext(['down'], { exitCode: 1, stderr: 'Error response from daemon: error while removing network: network sdseq-net has active endpoints' });
    const err = await failure(teardown(p.manifest, p.operator, {}, p.deps));
    expect(err).toBeInstanceOf(RuntimeError);
    expect(p.argvs().at(-1)).toEqual(p.compose('down', '--remove-orphans'));
    expect(stages(await p.records()).slice(-3)).toEqual(['intent', 'unknown', 'failed']);
    expect(p.host.containers).toHaveLength(3);
  });

  it('containers left after a down that exited 0: exit 1 naming them, recorded as failed', async () => {
    p = await running();
    p.runner.on(['down', '--remove-orphans'], {});
    const err = await failure(teardown(p.manifest, p.operator, {}, p.deps));
    expect(err).toBeInstanceOf(OperationFailed);
    expect(err.message).toBe('containers remain after compose down: app (running), nginx (running), opa (running)');
    expect(stages(await p.records()).slice(-2)).toEqual(['executed', 'failed']);
  });
});
