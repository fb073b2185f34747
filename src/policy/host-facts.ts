import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import type { InfrastructureFacts } from './types.js';

/**
 * The few system calls host facts come from, injected so tests can play Windows, a missing
 * /proc/meminfo or a vanished Docker root on any machine.
 */
export interface HostProbes {
  platform: NodeJS.Platform;
  statfs(path: string): Promise<{ bavail: number; bsize: number }>;
  loadavg(): number[];
  cpuCount(): number;
  /** Contents of /proc/meminfo; rejects where there is none. */
  readMeminfo(): Promise<string>;
  freemem(): number;
}

export const systemProbes: HostProbes = {
  platform: process.platform,
  statfs: (path) => statfs(path),
  loadavg: () => os.loadavg(),
  // The load average counts the whole host's runnable tasks, so divide by the host's cores, not by
  // os.availableParallelism() (which shrinks under CPU affinity and would inflate load per core).
  cpuCount: () => os.cpus().length,
  readMeminfo: () => readFile('/proc/meminfo', 'utf8'),
  freemem: () => os.freemem(),
};

export interface HostFactsOptions {
  /** Project directory: measured when Docker's data root is unknown or not on this host. */
  projectDir: string;
  /** Docker's data root (`docker info --format '{{.DockerRootDir}}'`), when the caller knows it. */
  dockerDataRoot?: string | null;
}

const GIB = 1024 ** 3;

/**
 * Measure the host. A fact that cannot be measured is null with the reason in `sources`, never 0.
 * Units are binary (GB = GiB, MB = MiB, as df -h and free -m print them). Rounding always leans
 * towards failing a gate: free space and memory round down, load per core rounds up.
 */
export async function gatherHostFacts(
  options: HostFactsOptions,
  probes: HostProbes = systemProbes,
): Promise<InfrastructureFacts> {
  const sources: Record<string, string> = {};
  const disk = await measureDisk(options, probes);
  sources.disk_free_gb = disk.source;

  const cores = probes.cpuCount();
  sources.cpu_cores = 'os.cpus';
  let load: number | null = null;
  if (probes.platform === 'win32') {
    // Windows has no load average; Node reports [0, 0, 0], which must not read as "idle".
    sources.cpu_load_1m = 'unavailable: win32 has no load average';
  } else {
    const first = probes.loadavg()[0];
    load = typeof first === 'number' && Number.isFinite(first) ? first : null;
    sources.cpu_load_1m = load === null ? 'unavailable: os.loadavg returned nothing' : 'os.loadavg';
  }
  const perCore = load !== null && cores > 0 ? ceilTo(load / cores, 3) : null;
  sources.cpu_load_per_core =
    perCore !== null ? 'cpu_load_1m / cpu_cores' : cores > 0 ? 'unavailable: no load average' : 'unavailable: no core count';

  const memory = await measureMemory(probes);
  sources.memory_available_mb = memory.source;

  return {
    disk_free_gb: disk.gb,
    disk_path: disk.path,
    cpu_load_1m: load,
    cpu_cores: cores,
    cpu_load_per_core: perCore,
    memory_available_mb: memory.mb,
    sources,
  };
}

async function measureDisk(
  options: HostFactsOptions,
  probes: HostProbes,
): Promise<{ gb: number | null; path: string; source: string }> {
  let fallbackNote = '';
  if (options.dockerDataRoot) {
    try {
      const s = await probes.statfs(options.dockerDataRoot);
      return { gb: floorTo((s.bavail * s.bsize) / GIB, 3), path: options.dockerDataRoot, source: `statfs:${options.dockerDataRoot}` };
    } catch (err) {
      // Docker Desktop keeps its data root inside a VM: the project's disk is the best we can see.
      fallbackNote = ` (docker data root ${options.dockerDataRoot} not measurable here: ${errCode(err)})`;
    }
  }
  try {
    const s = await probes.statfs(options.projectDir);
    // bavail, not bfree: blocks reserved for root are not available to Docker's image pulls.
    return { gb: floorTo((s.bavail * s.bsize) / GIB, 3), path: options.projectDir, source: `statfs:${options.projectDir}${fallbackNote}` };
  } catch (err) {
    return { gb: null, path: options.projectDir, source: `unavailable: statfs:${options.projectDir}: ${errCode(err)}${fallbackNote}` };
  }
}

async function measureMemory(probes: HostProbes): Promise<{ mb: number | null; source: string }> {
  try {
    const kib = parseMemAvailableKib(await probes.readMeminfo());
    if (kib !== null) return { mb: Math.floor(kib / 1024), source: '/proc/meminfo:MemAvailable' };
  } catch {
    // no /proc (macOS, Windows): fall through to os.freemem
  }
  const free = probes.freemem();
  if (Number.isFinite(free) && free > 0) {
    // os.freemem excludes reclaimable page cache on Linux: an underestimate, which fails safe.
    return { mb: Math.floor(free / 1024 ** 2), source: 'os.freemem' };
  }
  return { mb: null, source: 'unavailable: no MemAvailable and os.freemem gave nothing' };
}

/** MemAvailable from /proc/meminfo, in KiB (the file's "kB"); null when the kernel predates it (< 3.14). */
export function parseMemAvailableKib(meminfo: string): number | null {
  const match = /^MemAvailable:\s+(\d+)\s*kB\s*$/m.exec(meminfo);
  return match?.[1] === undefined ? null : Number(match[1]);
}

function floorTo(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.floor(x * f) / f;
}

function ceilTo(x: number, digits: number): number {
  const f = 10 ** digits;
  // Round first so 0.1 + 0.2-style noise (0.30000000000000004) does not ceil to 0.301.
  return Math.ceil(Number((x * f).toFixed(6))) / f;
}

function errCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}
