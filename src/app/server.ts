/**
 * The HTTP service. Fastify earns its place here: its router gives us the matched route template
 * (the bounded `path` label) for free, its body parser enforces the size limit and content type
 * before our code sees a byte, and it is among the fastest Node HTTP stacks (bench/app measures it).
 *
 * Request pipeline, in registration order (Fastify runs onRequest hooks in that order):
 *   1. observe   (outermost) starts the clock; on response records metrics and the log line
 *   2. mode      adds `X-Mode: canary` (canary mode) and `X-Track: stable|canary` to every response,
 *                errors and chaos failures included
 *   3. drain     once SIGTERM arrived, answers new requests 503 and closes their connections
 *   4. chaos     delays or fails ordinary requests; /healthz, /metrics and /chaos are exempt
 * Hooks 1 and 2 also cover the 404 and error handlers, so every answer is counted and labelled.
 */
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { bearerTokenMatches } from './bearer.js';
import { chaosEffect, NO_CHAOS, parseChaosRequest, type ChaosState } from './chaos.js';
import type { AppConfig } from './config.js';
import { formatEventLine, formatRequestLine, requestPath, writeStdout, type LogWriter } from './log.js';
import { createAppMetrics, methodLabel, pathLabel } from './metrics.js';

/** Bodies are tiny (`{"mode":"error","rate":0.5}`); anything larger is a mistake or an attack. */
export const BODY_LIMIT_BYTES = 4096;

/** Routes that chaos never touches, so observation and the container healthcheck survive it. */
const CHAOS_EXEMPT: ReadonlySet<string> = new Set(['/healthz', '/metrics', '/chaos']);

export interface AppOptions {
  /** false only for the benchmark's baseline: no /metrics route and no per-request observation. */
  metrics?: boolean;
  /** Decides which requests `error` chaos fails; [0, 1) like Math.random. */
  random?: () => number;
  log?: LogWriter;
  /** Epoch milliseconds the service counts its uptime from. */
  startedAt?: number;
}

export interface App {
  readonly server: FastifyInstance;
  chaos(): ChaosState;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** performance.now() when the observe hook saw the request. */
    receivedAt: number;
  }
}

export function buildApp(config: AppConfig, options: AppOptions = {}): App {
  const log = options.log ?? writeStdout;
  const random = options.random ?? Math.random;
  const startedAt = options.startedAt ?? Date.now();
  const metrics =
    options.metrics === false ? undefined : createAppMetrics({ mode: config.mode, startedAt });
  let chaos: ChaosState = NO_CHAOS;
  let draining = false;

  const knownRoutes = new Set(['/', '/healthz']);
  if (metrics !== undefined) knownRoutes.add('/metrics');
  if (config.chaosToken !== undefined) knownRoutes.add('/chaos');

  const setModeHeader = (reply: FastifyReply): void => {
    if (config.mode === 'canary') reply.header('x-mode', 'canary');
    reply.header('x-track', config.track);
  };

  const observe = (request: FastifyRequest, reply: FastifyReply): void => {
    const durationMs = performance.now() - request.receivedAt;
    const method = methodLabel(request.method);
    const route = pathLabel(request.routeOptions.url, knownRoutes);
    metrics?.observeRequest(method, route, reply.statusCode, durationMs / 1000);
    log(
      formatRequestLine({
        method,
        path: requestPath(request.url),
        route,
        status: reply.statusCode,
        durationMs,
        mode: config.mode,
      }),
    );
  };

  const server = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Fastify's own 503-on-close bypasses every hook (no X-Mode, not counted); the drain hook does it.
    return503OnClosing: false,
    // A URL the router cannot decode (`/%zz`) bypasses every hook too, so this handler applies the
    // mode header and the observation itself.
    frameworkErrors: (error, request, reply) => {
      request.receivedAt = performance.now();
      // Fastify types this reply with generics that reject a plain status code; it is an ordinary reply.
      const plainReply = reply as unknown as FastifyReply;
      setModeHeader(plainReply);
      plainReply.raw.once('finish', () => observe(request, plainReply));
      void plainReply.code(400).send({ error: oneLine(error.message) });
    },
  });
  server.decorateRequest('receivedAt', 0);

  // 1. observe (outermost)
  server.addHook('onRequest', async (request) => {
    request.receivedAt = performance.now();
  });
  server.addHook('onResponse', async (request, reply) => {
    observe(request, reply);
  });

  // 2. mode header
  server.addHook('onRequest', async (_request, reply) => {
    setModeHeader(reply);
  });

  // 3. drain
  server.addHook('preClose', async () => {
    draining = true;
  });
  server.addHook('onRequest', async (_request, reply) => {
    if (!draining) return;
    reply.header('connection', 'close');
    return reply.code(503).send({ error: 'shutting down' });
  });
  server.addHook('onSend', async (_request, reply) => {
    // Requests in flight when the drain began finish normally but must not keep their socket open.
    if (draining) reply.header('connection', 'close');
  });

  // 4. chaos
  server.addHook('onRequest', async (request, reply) => {
    if (CHAOS_EXEMPT.has(request.routeOptions.url ?? '')) return;
    const effect = chaosEffect(chaos, random);
    if (effect.kind === 'delay') await sleep(effect.ms);
    if (effect.kind === 'fail') return reply.code(500).send({ error: 'chaos: injected failure' });
  });

  server.setNotFoundHandler((_request, reply) => {
    void reply.code(404).send({ error: 'not found' });
  });
  server.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) {
      // Unexpected: keep the detail in the log, not in the response.
      log(formatEventLine('error', { message: oneLine(error.message), stack: error.stack }));
      return reply.code(status).send({ error: 'internal error' });
    }
    return reply.code(status).send({ error: oneLine(error.message) });
  });

  server.get('/', async () => ({
    message: `Hello from swiftdeploy (${config.mode})`,
    mode: config.mode,
    version: config.version,
    timestamp: new Date().toISOString(),
    chaos,
  }));

  server.get('/healthz', async () => ({
    status: 'ok',
    uptime_seconds: (Date.now() - startedAt) / 1000,
  }));

  if (metrics !== undefined) {
    server.get('/metrics', async (_request, reply) => {
      const body = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(body);
    });
  }

  const chaosToken = config.chaosToken;
  if (chaosToken !== undefined) {
    void server.register(async (scope) => {
      // Only application/json is accepted; without this Fastify would hand a text/plain string through.
      scope.removeContentTypeParser('text/plain');
      scope.post(
        '/chaos',
        {
          // Authenticate in onRequest, before the body is read: a stranger gets 401, not a parse error.
          onRequest: async (request, reply) => {
            if (bearerTokenMatches(request.headers.authorization, chaosToken)) return;
            reply.header('www-authenticate', 'Bearer');
            return reply.code(401).send({ error: 'missing or wrong bearer token' });
          },
        },
        async (request, reply) => {
          if (request.body === undefined) {
            return reply.code(415).send({ error: 'expected a JSON body with Content-Type: application/json' });
          }
          const parsed = parseChaosRequest(request.body);
          if (!parsed.ok) return reply.code(400).send({ error: parsed.reason });
          chaos = parsed.state;
          metrics?.setChaos(chaos);
          log(formatEventLine('chaos', { chaos }));
          return { chaos };
        },
      );
    });
  }

  return { server, chaos: () => chaos };
}

function oneLine(message: string): string {
  return message.replace(/\s+/g, ' ').trim();
}
