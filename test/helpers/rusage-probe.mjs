// Preloaded with `node --import` into a CLI run under test: at exit, writes the process's own peak
// RSS and CPU time to $RUSAGE_PROBE_OUT as JSON, so a test can bound what one refusal cost.
import { writeFileSync } from 'node:fs';

const out = process.env.RUSAGE_PROBE_OUT;
if (out) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(out, JSON.stringify({ maxRssKb: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }));
  });
}
