/**
 * Entry point of the deployed service (`npm run start:app`, and the container's CMD).
 * Imports only the app's own modules, fastify, prom-client and node builtins, so the image needs
 * nothing of the CLI.
 */
import { AppConfigError, readAppConfig, type AppConfig } from './config.js';
import { formatEventLine, writeStdout } from './log.js';
import { buildApp } from './server.js';

// The same numbers as EXIT in src/errors.ts, repeated rather than imported: the image ships no CLI code.
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

function readConfigOrExit(): AppConfig {
  try {
    return readAppConfig(process.env);
  } catch (error) {
    if (!(error instanceof AppConfigError)) throw error;
    process.stderr.write(`swiftdeploy app: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
}

async function main(): Promise<void> {
  const config = readConfigOrExit();
  const { server } = buildApp(config);
  await server.listen({ port: config.port, host: config.host });
  const address = server.server.address();
  writeStdout(
    formatEventLine('listening', {
      port: typeof address === 'object' && address !== null ? address.port : config.port,
      mode: config.mode,
      track: config.track,
      version: config.version,
      chaos_enabled: config.chaosToken !== undefined,
    }),
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    writeStdout(formatEventLine('draining', { signal, timeout_ms: config.drainTimeoutMs }));
    // Bounded: a request still running when the timer fires is cut, and the exit code says so.
    const deadline = setTimeout(() => {
      writeStdout(formatEventLine('drain_timeout', { timeout_ms: config.drainTimeoutMs }));
      server.server.closeAllConnections();
      process.exit(EXIT_FAILED);
    }, config.drainTimeoutMs);
    deadline.unref();
    server.close().then(
      () => {
        clearTimeout(deadline);
        writeStdout(formatEventLine('stopped', { signal }));
        process.exit(EXIT_OK);
      },
      (error: unknown) => {
        process.stderr.write(`swiftdeploy app: error while draining: ${String(error)}\n`);
        process.exit(EXIT_FAILED);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`swiftdeploy app: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(EXIT_FAILED);
});
