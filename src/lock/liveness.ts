/**
 * Is the process that wrote a lock still the one running under its pid? A pid alone is not enough:
 * pids are reused, and a lock file survives reboots. On Linux we also compare the process start time
 * (/proc/<pid>/stat) and the boot id, so a recycled pid or a pre-reboot lock is recognised as stale.
 */
import { readFileSync } from 'node:fs';

/** Start time of a process in clock ticks since boot, or undefined when unknown (not Linux, no such pid). */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is parenthesised and may contain spaces or ")"; count from the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
    return fields[19];
  } catch {
    return undefined;
  }
}

export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** This boot's random id; differs after every reboot. Undefined off Linux. */
export function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

export interface ProcessIdentity {
  pid: number;
  pidStartTime?: string;
  bootId?: string;
}

/** Undefined when the process is alive; otherwise why it is not. Only meaningful on the host that wrote it. */
export function whyNotAlive(p: ProcessIdentity): string | undefined {
  const currentBoot = bootId();
  if (p.bootId && currentBoot && p.bootId !== currentBoot) return 'this host has rebooted since the lock was taken';
  try {
    process.kill(p.pid, 0);
  } catch (e) {
    // EPERM: the pid exists but belongs to another user; it is alive.
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return `pid ${p.pid} is no longer running on this host`;
  }
  // A zombie has exited; its lock will never be released by it.
  if (processState(p.pid) === 'Z') return `pid ${p.pid} has exited (zombie)`;
  if (p.pidStartTime !== undefined) {
    const now = processStartTime(p.pid);
    if (now !== undefined && now !== p.pidStartTime) return `pid ${p.pid} now belongs to a different process`;
  }
  return undefined;
}

// /proc reports process start times in USER_HZ ticks, which the kernel fixes at 100 on every
// architecture Node runs on (sysconf(_SC_CLK_TCK) is not reachable from Node without a child process).
const USER_HZ = 100;

function bootTimeMs(): number | undefined {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    return m ? Number(m[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** When a process started, in ms since the epoch (whole-second precision), or undefined when unknown (not Linux, no such pid). */
export function processStartedAtMs(pid: number): number | undefined {
  const ticks = processStartTime(pid);
  const boot = bootTimeMs();
  if (ticks === undefined || boot === undefined || !/^\d+$/.test(ticks)) return undefined;
  return boot + (Number(ticks) * 1000) / USER_HZ;
}
