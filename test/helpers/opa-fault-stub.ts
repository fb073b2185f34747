/**
 * A misbehaving policy engine, for the failure paths real OPA does not produce on demand: a slow
 * answer, bytes that are not JSON, an HTTP 5xx, an unhealthy /health, a warning, a malformed
 * decision. A real node:http server on 127.0.0.1 that answers every request with canned bytes, a
 * canned status and an optional delay.
 *
 * It models no policy: it never looks at the input it is sent. When a test needs a 200 with a
 * decision-shaped body, the test writes that body itself. Where real OPA can produce a case (an
 * undefined decision from a server with no policy loaded, a 400 for a body that is not JSON), the
 * tests use real OPA instead (test/helpers/opa.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CannedAnswer {
  status: number;
  body: string;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface FaultStubAnswers {
  /** GET /health. Default: 200 `{}`, what a healthy OPA answers. */
  health?: CannedAnswer;
  /** Every other request (the client only POSTs /v1/data/...). No default: a test states it. */
  data?: CannedAnswer;
}

export interface StubRequest {
  method: string;
  path: string;
  body: string;
}

export interface FaultStub {
  url: string;
  /** Change the canned answers; keys not given keep their answer. */
  set(answers: FaultStubAnswers): void;
  /** Every request received, in order. */
  readonly requests: StubRequest[];
  /** TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** A body for `{"result": <document>}` answers; the test supplies the document. */
export const resultBody = (document: unknown): string => JSON.stringify({ result: document });

/** The error document OPA's server sends with a non-2xx status. */
export const errorBody = (code: string, message: string): string => JSON.stringify({ code, message });

export async function startFaultStub(initial: FaultStubAnswers = {}): Promise<FaultStub> {
  let answers: FaultStubAnswers = { health: { status: 200, body: '{}' }, ...initial };
  const requests: StubRequest[] = [];
  let connections = 0;

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const reqPath = (req.url ?? '/').split('?')[0] ?? '/';
    requests.push({ method: req.method ?? '', path: reqPath, body: Buffer.concat(chunks).toString('utf8') });
    const answer = reqPath === '/health' ? answers.health : answers.data;
    if (answer === undefined) {
      res.writeHead(501, { 'content-type': 'text/plain' }).end(`fault stub: no canned answer for ${req.method} ${reqPath}`);
      return;
    }
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    if (res.destroyed) return;
    res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer.body) });
    res.end(answer.body);
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    set(next) {
      answers = { ...answers, ...next };
    },
    requests,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
