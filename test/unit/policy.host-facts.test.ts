import { describe, expect, it } from 'vitest';
import { gatherHostFacts, parseMemAvailableKib, type HostProbes } from '../../src/policy/host-facts.js';

const GIB = 1024 ** 3;
const MEMINFO = 'MemTotal:       16318420 kB\nMemFree:         1021504 kB\nMemAvailable:    8388608 kB\nBuffers: 1 kB\n';

function probes(overrides: Partial<HostProbes> = {}): HostProbes {
  return {
    platform: 'linux',
    statfs: async (path) => {
      if (path === '/var/lib/docker' || path === '/project') return { bavail: 25 * GIB / 4096, bsize: 4096 };
      throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    },
    loadavg: () => [1.5, 1, 0.5],
    cpuCount: () => 4,
    readMeminfo: async () => MEMINFO,
    freemem: () => 512 * 1024 ** 2,
    ...overrides,
  };
}

describe('gatherHostFacts', () => {
  it('measures docker data root, load per core and MemAvailable, naming each source', async () => {
    const f = await gatherHostFacts({ projectDir: '/project', dockerDataRoot: '/var/lib/docker' }, probes());
    expect(f).toMatchObject({ disk_free_gb: 25, disk_path: '/var/lib/docker', cpu_load_1m: 1.5, cpu_cores: 4,
      cpu_load_per_core: 0.375, memory_available_mb: 8192 });
    expect(f.sources).toMatchObject({ disk_free_gb: 'statfs:/var/lib/docker', cpu_load_1m: 'os.loadavg',
      memory_available_mb: '/proc/meminfo:MemAvailable' });
  });

  it('measures the project directory when the docker data root is unknown', async () => {
    const f = await gatherHostFacts({ projectDir: '/project' }, probes());
    expect(f.disk_path).toBe('/project');
    expect(f.sources.disk_free_gb).toBe('statfs:/project');
  });

  it('falls back to the project directory, and says why, when the data root is not on this host', async () => {
    const f = await gatherHostFacts({ projectDir: '/project', dockerDataRoot: '/vm/only' }, probes());
    expect(f.disk_free_gb).toBe(25);
    expect(f.disk_path).toBe('/project');
    expect(f.sources.disk_free_gb).toMatch(/^statfs:\/project \(docker data root \/vm\/only not measurable here: ENOENT\)$/);
  });

  it('reports disk as null (not 0) when nothing can be measured', async () => {
    const f = await gatherHostFacts({ projectDir: '/gone' }, probes());
    expect(f.disk_free_gb).toBeNull();
    expect(f.sources.disk_free_gb).toMatch(/^unavailable: statfs:\/gone: ENOENT/);
  });

  it('reports load as null on win32, where Node returns [0, 0, 0]', async () => {
    const f = await gatherHostFacts({ projectDir: '/project' }, probes({ platform: 'win32', loadavg: () => [0, 0, 0] }));
    expect(f.cpu_load_1m).toBeNull();
    expect(f.cpu_load_per_core).toBeNull();
    expect(f.sources.cpu_load_1m).toMatch(/win32/);
  });

  it('reports load per core as null when the core count is unknown', async () => {
    const f = await gatherHostFacts({ projectDir: '/project' }, probes({ cpuCount: () => 0 }));
    expect(f.cpu_load_per_core).toBeNull();
    expect(f.sources.cpu_load_per_core).toMatch(/no core count/);
  });

  it('falls back to os.freemem without /proc/meminfo', async () => {
    const f = await gatherHostFacts({ projectDir: '/project' },
      probes({ readMeminfo: async () => { throw new Error('ENOENT'); } }));
    expect(f.memory_available_mb).toBe(512);
    expect(f.sources.memory_available_mb).toBe('os.freemem');
  });

  it('rounds towards failing: free space and memory down, load per core up', async () => {
    const f = await gatherHostFacts({ projectDir: '/project' }, probes({
      statfs: async () => ({ bavail: Math.floor(9.99999 * GIB / 4096), bsize: 4096 }),
      loadavg: () => [2.0001, 0, 0],
      cpuCount: () => 1,
      readMeminfo: async () => 'MemAvailable: 1048575 kB\n',
    }));
    expect(f.disk_free_gb).toBe(9.999);
    expect(f.cpu_load_per_core).toBe(2.001);
    expect(f.memory_available_mb).toBe(1023);
  });
});

describe('parseMemAvailableKib', () => {
  it('reads MemAvailable and returns null on kernels without it', () => {
    expect(parseMemAvailableKib(MEMINFO)).toBe(8388608);
    expect(parseMemAvailableKib('MemTotal: 1 kB\nMemFree: 2 kB\n')).toBeNull();
  });
});
