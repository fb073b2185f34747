// @ts-check
/**
 * A stand-in for `opa run --server` loaded with policies/, for machines without the opa binary.
 *
 * Two halves, kept apart on purpose:
 * - the REST contract (GET /health; POST /v1/data/<path> with {"input": ...} -> {"result": ...};
 *   `{}` for an undefined document; the api_usage_warning OPA adds when `input` is missing;
 *   400 invalid_parameter for a body that is not JSON), as OPA's server behaves;
 * - a reference model of policies/*.rego (`decideInfrastructure`, `decideCanary`): same ids, same
 *   messages (numbers formatted as Rego's sprintf %v formats them), same order (sorted by id, then
 *   message). Where the real opa is on PATH, test/integration/policy.opa-real.test.ts checks the
 *   model against it input by input.
 *
 * Only the two decision documents are modelled: any other data path answers as undefined (`{}`).
 *
 * Run directly for end-to-end suites and benchmarks:  node test/helpers/opa-double.mjs --port 8181
 */
import http from 'node:http';
import { pathToFileURL } from 'node:url';

/** @typedef {{ id: string, message: string, observed: unknown, threshold: unknown }} Violation */
/** @typedef {{ domain: string, question: unknown, allowed: boolean, reason: string, violations: Violation[], observed: unknown }} Decision */

/**
 * Test knobs; all optional and changeable while the server runs via `double.set(...)`.
 * @typedef {object} Behaviour
 * @property {number} [delayMs]        wait this long before answering /v1/data (and /health)
 * @property {number} [status]         answer /v1/data with this HTTP status and an OPA error body
 * @property {number} [healthStatus]   answer /health with this status (OPA says 500 when unhealthy)
 * @property {string} [rawBody]        answer /v1/data with exactly these bytes (status 200)
 * @property {boolean} [undefinedDecision] answer every /v1/data query as undefined: `{}`
 * @property {boolean} [forceWarning]  add the api_usage_warning even when `input` is present
 * @property {(d: Decision) => unknown} [transform] rewrite the modelled decision before sending
 */

// ---------------------------------------------------------------------------------------------
// Reference model of the Rego.

/** @param {unknown} x */
const isNumber = (x) => typeof x === 'number' && Number.isFinite(x);
/** @param {unknown} x @returns {x is Record<string, unknown>} */
const isObject = (x) => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Rego's sprintf("%v") of a JSON number: integer text prints as-is; anything else goes through Go's
 * strconv.FormatFloat(f, 'g', -1, 64), which uses exponent form when the exponent is below -4 or at
 * least 6 (shortest-precision %g), e.g. 0.00001 -> "1e-05", 1234567.5 -> "1.2345675e+06".
 * @param {number} n
 */
export function formatRegoNumber(n) {
  const text = JSON.stringify(n);
  if (/^-?\d+$/.test(text)) return text;
  const [mantissa = '', expText = '0'] = n.toExponential().split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(n);
}

/** Go compares strings byte-wise; JS `<` compares UTF-16 units. Same for ASCII, not beyond. */
/** @param {string} a @param {string} b */
const compareBytes = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/**
 * OPA sorts a set of objects with equal key sets key by key in key order: id, message, observed,
 * threshold. Ids and messages already tell every violation apart.
 * @param {Violation[]} vs
 */
function sortViolations(vs) {
  const seen = new Set();
  const unique = vs.filter((v) => {
    const k = JSON.stringify([v.id, v.message, v.observed, v.threshold]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return unique.sort((a, b) => compareBytes(a.id, b.id) || compareBytes(a.message, b.message));
}

/**
 * @param {Record<string, unknown>} obj @param {string} key
 * @returns {unknown}
 */
const get = (obj, key) => (Object.hasOwn(obj, key) && obj[key] !== undefined ? obj[key] : null);

/**
 * @param {string} domain
 * @param {unknown} input
 * @param {string[]} supported
 * @param {(facts: Record<string, unknown>, thresholds: Record<string, unknown>) => Violation[]} checks
 * @returns {Decision}
 */
function decide(domain, input, supported, checks) {
  const inp = isObject(input) ? input : {};
  const question = Object.hasOwn(inp, 'question') ? inp.question : null;
  const facts = isObject(inp.facts) ? inp.facts : {};
  const thresholds = isObject(inp.thresholds) ? inp.thresholds : {};
  /** @type {Violation[]} */
  let violations;
  if (typeof question === 'string' && supported.includes(question)) {
    violations = checks(facts, thresholds);
  } else {
    violations = [
      {
        id: 'unsupported_question',
        message: `unsupported question: policy/${domain} answers ${supported.join(' and ')}`,
        observed: question,
        threshold: null,
      },
    ];
  }
  const sorted = sortViolations(violations);
  const allowed = sorted.length === 0;
  return {
    domain,
    question,
    allowed,
    reason: allowed
      ? `${domain} checks passed for ${String(question)}`
      : sorted.map((v) => v.message).join('; '),
    violations: sorted,
    observed: facts,
  };
}

/**
 * @param {Record<string, unknown>} thresholds
 * @param {string[]} names
 * @returns {Violation[]}
 */
function missingThresholds(thresholds, names) {
  return names
    .filter((name) => !isNumber(get(thresholds, name)))
    .map((name) => ({
      id: 'threshold_missing',
      message: `threshold ${name} is missing or not a number`,
      observed: null,
      threshold: get(thresholds, name),
    }));
}

/**
 * One `observed <op> limit` deny rule: fires only when both sides are numbers (absence is
 * reported by facts_unavailable / threshold_missing instead).
 * @param {unknown} observed @param {unknown} limit
 * @param {(o: number, l: number) => boolean} breaches
 * @param {string} id
 * @param {(o: string, l: string) => string} message
 * @returns {Violation[]}
 */
function compare(observed, limit, breaches, id, message) {
  if (!isNumber(observed) || !isNumber(limit) || !breaches(observed, limit)) return [];
  return [{ id, message: message(formatRegoNumber(observed), formatRegoNumber(limit)), observed, threshold: limit }];
}

const INFRA_FACT_THRESHOLD = /** @type {const} */ ([
  ['disk_free_gb', 'min_disk_free_gb'],
  ['cpu_load_per_core', 'max_cpu_load'],
  ['memory_available_mb', 'min_memory_available_mb'],
]);

/** Reference model of policies/infrastructure.rego `decision`. @param {unknown} input */
export function decideInfrastructure(input) {
  return decide('infrastructure', input, ['pre_deploy', 'status'], (f, t) => [
    ...missingThresholds(t, INFRA_FACT_THRESHOLD.map(([, name]) => name)),
    ...INFRA_FACT_THRESHOLD.filter(([fact]) => !isNumber(get(f, fact))).map(([fact, name]) => ({
      id: 'facts_unavailable',
      message: `${fact} could not be measured`,
      observed: get(f, fact),
      threshold: get(t, name),
    })),
    ...compare(f.disk_free_gb, t.min_disk_free_gb, (o, l) => o < l, 'disk_free_too_low',
      (o, l) => `disk free ${o} GB is below the minimum ${l} GB`),
    ...compare(f.cpu_load_per_core, t.max_cpu_load, (o, l) => o > l, 'cpu_load_too_high',
      (o, l) => `1-minute load per core ${o} is above the maximum ${l}`),
    ...compare(f.memory_available_mb, t.min_memory_available_mb, (o, l) => o < l, 'memory_available_too_low',
      (o, l) => `available memory ${o} MB is below the minimum ${l} MB`),
  ]);
}

const CANARY_THRESHOLDS = ['max_error_rate', 'max_p99_latency_seconds', 'window_seconds', 'min_requests'];
const CANARY_NUMBER_FACTS = ['window_seconds', 'requests', 'error_rate', 'p99_latency_seconds'];

/** Reference model of policies/canary.rego `decision`. @param {unknown} input */
export function decideCanary(input) {
  return decide('canary', input, ['pre_promote', 'status'], (f, t) => [
    ...missingThresholds(t, CANARY_THRESHOLDS),
    ...CANARY_NUMBER_FACTS.filter((fact) => !isNumber(get(f, fact))).map((fact) => ({
      id: 'facts_unavailable',
      message: `${fact} could not be measured`,
      observed: get(f, fact),
      threshold: null,
    })),
    ...(typeof get(f, 'p99_capped') === 'boolean'
      ? []
      : [{ id: 'facts_unavailable', message: 'p99_capped could not be measured', observed: get(f, 'p99_capped'), threshold: null }]),
    ...compare(f.window_seconds, t.window_seconds, (o, l) => o < l, 'window_too_short',
      (o, l) => `window covered ${o}s, shorter than the required ${l}s`),
    ...compare(f.requests, t.min_requests, (o, l) => o < l, 'insufficient_traffic',
      (o, l) => `${o} completed requests in the window, fewer than the minimum ${l}`),
    ...compare(f.error_rate, t.max_error_rate, (o, l) => o > l, 'error_rate_too_high',
      (o, l) => `error rate ${o} is above the maximum ${l}`),
    ...compare(f.p99_latency_seconds, t.max_p99_latency_seconds, (o, l) => o > l, 'p99_latency_too_high',
      (o, l) => `p99 latency ${o}s is above the maximum ${l}s`),
    ...(f.p99_capped === true
      ? compare(f.p99_latency_seconds, t.max_p99_latency_seconds, (o, l) => o <= l, 'p99_latency_unbounded',
          (o, l) => `p99 latency is above the highest histogram bucket (${o}s), so it cannot be shown to be within ${l}s`)
      : []),
  ]);
}

/** @type {Record<string, (input: unknown) => Decision>} */
const DECISIONS = {
  'swiftdeploy/infrastructure/decision': decideInfrastructure,
  'swiftdeploy/canary/decision': decideCanary,
};

// ---------------------------------------------------------------------------------------------
// The REST contract.

/**
 * @param {http.ServerResponse} res @param {number} status @param {unknown} body
 */
function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @param {{ port?: number, host?: string } & Behaviour} [options]
 * @returns {Promise<{ url: string, port: number, close: () => Promise<void>, set: (b: Behaviour) => void,
 *   reset: () => void, stats: { dataRequests: number, healthRequests: number, connections: number },
 *   lastInput: () => unknown }>}
 */
export async function startOpaDouble(options = {}) {
  const { port = 0, host = '127.0.0.1', ...initial } = options;
  /** @type {Behaviour} */
  let behaviour = { ...initial };
  const stats = { dataRequests: 0, healthRequests: 0, connections: 0 };
  /** @type {unknown} */
  let lastInput;

  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString('utf8');
    const b = behaviour;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (b.delayMs) await sleep(b.delayMs);

    if (req.method === 'GET' && path === '/health') {
      stats.healthRequests += 1;
      const status = b.healthStatus ?? 200;
      return sendJson(res, status, status === 200 ? {} : { error: 'not ready' });
    }
    if (!path.startsWith('/v1/data')) {
      return sendJson(res, 404, { code: 'resource_not_found', message: `${path} not found` });
    }
    if (req.method !== 'POST') {
      return sendJson(res, 405, { code: 'invalid_parameter', message: 'the double only models POST /v1/data' });
    }
    stats.dataRequests += 1;
    if (b.status) {
      return sendJson(res, b.status, { code: 'internal_error', message: `forced HTTP ${b.status} by the test double` });
    }
    if (b.rawBody !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(b.rawBody);
    }

    // OPA: an empty body means no input; a body that is not a JSON document is a 400.
    /** @type {unknown} */
    let parsed = {};
    if (body.trim() !== '') {
      try {
        parsed = JSON.parse(body);
      } catch (err) {
        return sendJson(res, 400, {
          code: 'invalid_parameter',
          message: `body contains malformed input document: ${/** @type {Error} */ (err).message}`,
        });
      }
      // OPA decodes the body into {"input": ...}; an array or scalar does not fit (null does).
      if (parsed !== null && !isObject(parsed)) {
        return sendJson(res, 400, {
          code: 'invalid_parameter',
          message: 'body contains malformed input document: expected a JSON object',
        });
      }
    }
    const hasInput = isObject(parsed) && parsed.input !== undefined && parsed.input !== null;
    const input = hasInput && isObject(parsed) ? parsed.input : undefined;
    lastInput = input;

    const docPath = path.replace(/^\/v1\/data\/?/, '').replace(/\/+$/, '');
    const model = DECISIONS[docPath];
    /** @type {Record<string, unknown>} */
    const answer = {};
    if (model && !b.undefinedDecision) {
      const decision = model(input);
      answer.result = b.transform ? b.transform(decision) : decision;
    }
    if (!hasInput || b.forceWarning) {
      answer.warning = { code: 'api_usage_warning', message: "'input' key missing from the request" };
    }
    return sendJson(res, 200, answer);
  });
  server.on('connection', () => {
    stats.connections += 1;
  });
  server.keepAliveTimeout = 30_000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(undefined));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('opa double: no TCP address');
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    stats,
    lastInput: () => lastInput,
    set(next) {
      behaviour = { ...behaviour, ...next };
    },
    reset() {
      behaviour = {};
    },
    close() {
      return new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      });
    },
  };
}

// CLI mode: `node test/helpers/opa-double.mjs [--port N] [--host H]`; prints the URL, runs until killed.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  /** @param {string} flag */
  const flag = (flag) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const port = Number(flag('--port') ?? 8181);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`opa-double: --port must be an integer 0-65535, got ${flag('--port')}\n`);
    process.exit(2);
  }
  const double = await startOpaDouble({ port, host: flag('--host') ?? '127.0.0.1' });
  process.stdout.write(`${double.url}\n`);
  const stop = () => {
    void double.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
