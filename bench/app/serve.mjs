// One app server for the benchmark, built from dist/app exactly as production builds it; the only
// difference between the two variants is AppOptions.metrics. Reports its port and CPU time over IPC.
import { buildApp } from '../../dist/app/server.js';

const metrics = process.argv[2] !== 'off';
const { server } = buildApp(
  { port: 0, host: '127.0.0.1', mode: 'canary', track: 'stable', version: 'bench', chaosToken: undefined, drainTimeoutMs: 1000 },
  { metrics },
);
await server.listen({ port: 0, host: '127.0.0.1' });
const address = server.server.address();
process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 });
// CPU time per request is the load-robust figure on a shared machine: the runner asks before and
// after each round.
process.on('message', (msg) => {
  if (msg === 'cpu') process.send?.({ cpu: process.cpuUsage() });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
