/**
 * A Docker host with compose, as the commands swiftdeploy runs see it: rules for a RecordingRunner
 * that keep a list of containers and answer with the output real docker 20.10 / compose v2.40 (or
 * v1.29) print, in the shapes src/runtime/ps.ts parses. `up` reads the rendered docker-compose.yml
 * (which services exist, the app's MODE), `--scale` adds an app container that reports
 * `health: starting` once and then the health the test queued, `stop`/`rm`/`down` change the list.
 * `onChange` runs after every change, so a test can make its nginx stand-in follow the running app.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { DOCKER_PS_TEMPLATE, LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE } from '../../src/runtime/compose-argv.js';
import type { ContainerHealth } from '../../src/runtime/ps.js';
import type { Answer, RecordingRunner } from './recording-runner.js';

export const ENGINE_VERSION = '20.10.24+dfsg1';
export const COMPOSE_V2 = '2.40.3';
export const COMPOSE_V1 = '1.29.2';
export const DATA_ROOT = '/var/lib/docker';

export interface HostContainer {
  id: string;
  service: string;
  number: number;
  image: string;
  state: 'running' | 'exited';
  health?: ContainerHealth;
  /** What a `starting` container becomes at the next listing. */
  becomes?: ContainerHealth;
  /** The app's MODE from the compose file it was created from. */
  mode?: string;
}

export interface ComposeHostOptions {
  flavour: 'v2' | 'v1';
  /** Images present locally (`docker image inspect` answers for these). */
  images: string[];
  onChange?: (host: ComposeHost) => void | Promise<void>;
}

interface ComposeFile {
  services: Record<string, { image?: string; environment?: Record<string, string> }>;
}

export class ComposeHost {
  containers: HostContainer[] = [];
  /** The health each new app container (`--scale`) reaches, in order; `healthy` when empty. */
  readonly newAppHealth: ContainerHealth[] = [];
  private serial = 0;
  private readonly images: Set<string>;

  constructor(
    runner: RecordingRunner,
    private readonly options: ComposeHostOptions,
  ) {
    this.images = new Set(options.images);
    this.install(runner);
  }

  /** A container of the running stack before the test starts (e.g. the app of an earlier deploy). */
  add(service: string, extra: Partial<HostContainer> = {}): HostContainer {
    const number = Math.max(0, ...this.containers.filter((c) => c.service === service).map((c) => c.number)) + 1;
    this.serial += 1;
    const id = createHash('sha256').update(`${service}-${this.serial}`).digest('hex');
    const c: HostContainer = { id, service, number, image: `${service}-image`, state: 'running', ...extra };
    this.containers.push(c);
    return c;
  }

  running(service: string): HostContainer[] {
    return this.containers.filter((c) => c.service === service && c.state === 'running');
  }

  private async changed(): Promise<void> {
    await this.options.onChange?.(this);
  }

  private install(r: RecordingRunner): void {
    const v1 = this.options.flavour === 'v1';
    r.on(['docker', '--version'], { stdout: `Docker version ${ENGINE_VERSION}, build 297e128` });
    r.on(['docker', 'version', '--format', '{{.Server.Version}}'], { stdout: ENGINE_VERSION });
    r.on(
      ['docker', 'compose', 'version', '--short'],
      v1 ? { exitCode: 1, stderr: "docker: 'compose' is not a docker command.\nSee 'docker --help'" } : { stdout: COMPOSE_V2 },
    );
    r.on(['docker-compose', 'version', '--short'], { stdout: COMPOSE_V1 });
    r.on(['docker', 'info', '--format', '{{.DockerRootDir}}'], { stdout: DATA_ROOT });
    r.on(['docker', 'image', 'inspect'], (argv) => {
      const image = argv.at(-1)!;
      if (!this.images.has(image)) return { exitCode: 1, stderr: `Error: No such image: ${image}` };
      return { stdout: `sha256:${createHash('sha256').update(image).digest('hex')}` };
    });
    r.on(['up', '--detach'], (argv) => this.up(argv));
    r.on(['build'], (argv) => {
      const file = readCompose(argv);
      this.images.add(String(file.services.app?.image));
      return { stdout: '#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s' };
    });
    r.on(['ps', '--all', '--format', 'json'], (argv) => ({ stdout: this.listV2(projectOf(argv)) }));
    r.on(['docker', 'ps', '--all', '--no-trunc', '--filter'], (argv) =>
      argv.includes(DOCKER_PS_TEMPLATE) ? { stdout: this.listV1(argv) } : { stdout: '' },
    );
    r.on(['docker', 'ps', '--all', '--quiet', '--no-trunc'], () => ({ stdout: this.containers.map((c) => c.id).join('\n') }));
    r.on(['docker', 'network', 'ls', '--quiet', '--no-trunc'], { stdout: '' });
    r.on(['logs', '--no-color'], (argv) => ({
      stdout: this.containers
        .filter((c) => c.service === 'app')
        .map((c) => `${projectOf(argv)}-app-${c.number}  | {"level":"info","msg":"listening","port":3000,"mode":"${c.mode ?? 'stable'}"}`)
        .join('\n'),
    }));
    r.on(['exec', '-T', 'nginx', 'nginx'], (argv) =>
      argv.includes('-t')
        ? { stderr: 'nginx: the configuration file /etc/swiftdeploy/nginx/nginx.conf syntax is ok\nnginx: configuration file /etc/swiftdeploy/nginx/nginx.conf test is successful' }
        : { stderr: '2026/11/30 11:02:03 [notice] 31#31: signal process started' },
    );
    r.on(['docker', 'stop', '--time'], async (argv) => {
      const ids = argv.slice(4);
      for (const c of this.containers) if (ids.includes(c.id)) Object.assign(c, { state: 'exited', health: undefined });
      await this.changed();
      return { stdout: ids.join('\n') };
    });
    r.on(['docker', 'rm', '--force', '--volumes'], async (argv) => {
      const ids = argv.slice(4);
      this.containers = this.containers.filter((c) => !ids.includes(c.id));
      await this.changed();
      return { stdout: ids.join('\n') };
    });
    r.on(['down', '--remove-orphans'], async (argv) => {
      const p = projectOf(argv);
      const lines = this.containers.flatMap((c) => [` Container ${p}-${c.service}-${c.number}  Stopping`, ` Container ${p}-${c.service}-${c.number}  Removed`]);
      this.containers = [];
      await this.changed();
      return { stderr: [...lines, ` Network ${p}_swiftdeploy  Removed`].join('\n') };
    });
  }

  /** `up --detach` in its four forms: the whole stack, some services, a recreate, a scale. */
  private async up(argv: readonly string[]): Promise<Answer> {
    const file = readCompose(argv);
    const p = projectOf(argv);
    const i = argv.indexOf('--scale');
    const fromFile = (service: string): Partial<HostContainer> => {
      const s = file.services[service];
      return { image: s?.image ?? service, ...(s?.environment?.MODE ? { mode: s.environment.MODE } : {}) };
    };
    const created: HostContainer[] = [];
    if (i >= 0) {
      const count = Number(argv[i + 1]!.split('=')[1]);
      while (this.running('app').length < count) {
        created.push(this.add('app', { ...fromFile('app'), health: 'starting', becomes: this.newAppHealth.shift() ?? 'healthy' }));
      }
    } else if (argv.includes('--force-recreate')) {
      this.containers = this.containers.filter((c) => c.service !== 'app');
      created.push(this.add('app', { ...fromFile('app'), health: 'healthy' }));
    } else {
      const named = argv.slice(argv.indexOf('--detach') + 1).filter((a) => !a.startsWith('--'));
      const services = named.length > 0 ? named : Object.keys(file.services);
      if (named.length === 0) {
        // --remove-orphans: containers of services no longer in the file go.
        this.containers = this.containers.filter((c) => c.service in file.services);
      }
      for (const s of services) {
        if (this.running(s).length > 0) continue;
        created.push(this.add(s, { ...fromFile(s), ...(s === 'app' ? { health: 'healthy' as const } : {}) }));
      }
    }
    await this.changed();
    return { stderr: created.flatMap((c) => [` Container ${p}-${c.service}-${c.number}  Creating`, ` Container ${p}-${c.service}-${c.number}  Started`]).join('\n') };
  }

  /** A listing advances every `starting` container to the health it was scripted to reach. */
  private listed(): HostContainer[] {
    const now = this.containers.map((c) => ({ ...c }));
    for (const c of this.containers) {
      if (c.health === 'starting' && c.becomes) {
        c.health = c.becomes;
        delete c.becomes;
      }
    }
    return now;
  }

  /** compose v2.21+ `ps --all --format json`: one object per line. */
  private listV2(project: string): string {
    return this.listed()
      .map((c) => {
        const name = `${project}-${c.service}-${c.number}`;
        return JSON.stringify({
          Command: '"docker-entrypoint.s…"',
          CreatedAt: '2026-11-30 11:02:03 +0000 UTC',
          ExitCode: 0,
          Health: c.health ?? '',
          ID: c.id,
          Image: c.image,
          Labels: `${LABEL_PROJECT}=${project},${LABEL_SERVICE}=${c.service},${LABEL_ONEOFF}=False,com.docker.compose.container-number=${c.number},com.docker.compose.config-hash=3f1d,com.docker.compose.project.config_files=/srv/${project}/docker-compose.yml`,
          LocalVolumes: '0',
          Mounts: '',
          Name: name,
          Names: name,
          Networks: `${project}-net`,
          Ports: '',
          Project: project,
          Publishers: null,
          RunningFor: '2 minutes ago',
          Service: c.service,
          Size: '0B',
          State: c.state,
          Status: statusOf(c),
        });
      })
      .join('\n');
  }

  /** `docker ps --format DOCKER_PS_TEMPLATE` (compose v1): one object per line, no health field. */
  private listV1(argv: readonly string[]): string {
    const project = argv.find((a) => a.startsWith(`label=${LABEL_PROJECT}=`))!.split('=')[2];
    return this.listed()
      .map((c) => JSON.stringify({ id: c.id, project, service: c.service, oneoff: 'False', state: c.state, status: statusOf(c), image: c.image }))
      .join('\n');
  }
}

function statusOf(c: HostContainer): string {
  if (c.state === 'exited') return 'Exited (0) 1 second ago';
  if (c.health === 'starting') return 'Up 1 second (health: starting)';
  return `Up 2 minutes${c.health ? ` (${c.health})` : ''}`;
}

function readCompose(argv: readonly string[]): ComposeFile {
  const file = argv[argv.indexOf('--file') + 1]!;
  return parse(readFileSync(file, 'utf8')) as ComposeFile;
}

function projectOf(argv: readonly string[]): string {
  return argv[argv.indexOf('--project-name') + 1]!;
}
