import { z } from 'zod';
import { OPA_IMAGE } from '../policy/opa-version.js';
import { invisibleIn } from '../util/printable.js';
import { filePathProblem } from '../util/project-paths.js';

// Interpret, do not compile: zod's JIT generates a parser (new Function) for each object schema on
// its first parse, which pays off for a schema parsed many times; the CLI parses one manifest per
// run, and generating code cost more than interpreting it (first parse about 25-45 ms with the JIT,
// 17-25 ms without, measured on these machines).
z.config({ jitless: true });

/**
 * The manifest schema: one zod object per section, every key documented in the README.
 *
 * Values that reach nginx.conf or docker-compose.yml are safe by construction: each is an integer in
 * range, an enum, or a string that must match a strict pattern. A pattern never admits a newline,
 * `;`, `{`, `}`, `"`, `'`, `$`, `#` or whitespace, so no manifest value can change the meaning of a
 * generated file. Every message states what was expected; the loader appends what was found.
 */

/** Characters that would change the meaning of nginx.conf or docker-compose.yml if rendered. */
export const UNSAFE_CHARS = /[\n\r;{}"'$`\\#\s]/;

function unsafeReason(value: string): string | undefined {
  const m = UNSAFE_CHARS.exec(value);
  if (!m) {
    const invisible = invisibleIn(value);
    return invisible ? `contains ${invisible}, which displays differently from what it is; refusing to render it` : undefined;
  }
  const ch = m[0] === '\n' || m[0] === '\r' ? 'a newline' : /\s/.test(m[0]) ? 'whitespace' : `"${m[0]}"`;
  return `contains ${ch}, which would change the meaning of a generated file; refusing to render it`;
}

/** A string matching `pattern`, described as `what` in errors; unsafe characters get their own message. */
function safeString(pattern: RegExp, what: string, maxLength = 255) {
  return z
    .string({ error: `expected ${what}` })
    .superRefine((value, ctx) => {
      const unsafe = unsafeReason(value);
      if (unsafe) {
        ctx.addIssue({ code: 'custom', message: `expected ${what}; the value ${unsafe}` });
      } else if (value.length > maxLength || !pattern.test(value)) {
        ctx.addIssue({ code: 'custom', message: `expected ${what}` });
      }
    });
}

function integer(min: number, max: number, unit = '') {
  const msg = `expected an integer from ${min} to ${max}${unit}`;
  return z.number({ error: msg }).int({ error: msg }).min(min, { error: msg }).max(max, { error: msg });
}

function decimal(min: number, max: number, what: string) {
  const msg = `expected ${what}`;
  return z.number({ error: msg }).min(min, { error: msg }).max(max, { error: msg });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.map((v) => `"${v}"`).join(', ')}` });
}

// Docker image reference: [registry[:port]/]path[:tag][@sha256:digest], lower-case path components.
const IMAGE =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const IMAGE_WHAT = 'an image reference such as "nginx:1.27-alpine" or "registry.local:5000/team/app:1.2.0"';
// Docker object names (networks, volumes).
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
// Compose project names: lower-case letters, digits, dashes and underscores, starting with a letter or digit.
const PROJECT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
// A release version label: no spaces or shell/YAML-significant characters.
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
const EMAIL = /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/;
// A relative path of plain segments (no leading "/", no ".." segment): checked again at resolve time.
const REL_PATH = /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/-]{1,200}$/;
const REL_PATH_WHAT = 'a relative path inside the project directory (no absolute path, no "..")';
const REL_FILE_WHAT = 'a relative file path inside the project directory (no absolute path, no "..")';

/**
 * A file swiftdeploy writes (history_file, audit_report): REL_PATH, and spelled as a file, not a
 * directory (no trailing "/", no last component "."). Which file it really is (after symlinks and
 * hard links) is checked when a command resolves it: src/util/project-paths.ts.
 */
function relFilePath(fallback: string) {
  return safeString(REL_PATH, REL_FILE_WHAT)
    .superRefine((value, ctx) => {
      const problem = filePathProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: `expected ${REL_FILE_WHAT}, but ${problem}` });
    })
    .default(fallback);
}

const mode = oneOf(['enforce', 'shadow'] as const).default('enforce');

export const projectSchema = z
  .strictObject({
    name: safeString(PROJECT_NAME, 'a compose project name: lower-case letters, digits, "-" and "_"').default(
      'swiftdeploy',
    ),
  })
  .default({ name: 'swiftdeploy' });

const buildSchema = z.strictObject({
  context: safeString(REL_PATH, REL_PATH_WHAT).default('.'),
  dockerfile: safeString(REL_PATH, REL_PATH_WHAT).default('Dockerfile'),
  target: safeString(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'a Dockerfile stage name').optional(),
  node_image: safeString(IMAGE, IMAGE_WHAT).optional(),
});

export const servicesSchema = z.strictObject({
  image: safeString(IMAGE, IMAGE_WHAT),
  port: integer(1, 65535),
  mode: oneOf(['stable', 'canary'] as const),
  version: safeString(
    VERSION,
    'a version string of letters, digits, ".", "_", "+" or "-" (quote it, e.g. version: "1.10")',
  ),
  restart_policy: oneOf(['no', 'always', 'on-failure', 'unless-stopped'] as const),
  log_volume: safeString(DOCKER_NAME, 'a Docker volume name (letters, digits, "_", "." or "-")'),
  health_timeout_seconds: integer(1, 3600, ' seconds').default(60),
  build: buildSchema.optional(),
});

export const nginxSchema = z.strictObject({
  image: safeString(IMAGE, IMAGE_WHAT),
  port: integer(1, 65535),
  proxy_timeout: integer(1, 3600, ' seconds'),
  error_contact: safeString(EMAIL, 'an e-mail address such as "oncall@example.com"'),
});

export const networkSchema = z.strictObject({
  name: safeString(DOCKER_NAME, 'a Docker network name (letters, digits, "_", "." or "-")'),
  driver_type: oneOf(['bridge', 'overlay', 'macvlan', 'ipvlan'] as const),
});

const OPA_URL_WHAT = 'an http(s) URL such as "http://opa.internal:8181" (no credentials in the URL)';

export const opaSchema = z.strictObject({
  // The official image of the release the tests run (src/policy/opa-version.ts).
  image: safeString(IMAGE, IMAGE_WHAT).default(OPA_IMAGE),
  port: integer(1, 65535),
  url: httpUrl(OPA_URL_WHAT).optional(),
  timeout_ms: integer(50, 60_000, ' milliseconds').default(2000),
});

export const infrastructurePolicySchema = z.strictObject({
  min_disk_free_gb: decimal(0, 1_000_000, 'a number of gigabytes, 0 or more'),
  max_cpu_load: decimal(0, 1000, 'a load average per CPU core, 0 or more (e.g. 2.0)'),
  min_memory_available_mb: decimal(0, 10_000_000, 'a number of megabytes, 0 or more').default(256),
  mode,
});

export const canaryPolicySchema = z.strictObject({
  max_error_rate: decimal(0, 1, 'a fraction from 0 to 1 (e.g. 0.01 for 1%)'),
  max_p99_latency_seconds: decimal(0, 3600, 'a number of seconds, 0 or more (e.g. 0.5)'),
  window_seconds: integer(5, 3600, ' seconds').default(30),
  min_requests: integer(1, 1_000_000).default(20),
  // Relative to stable, judged per step of a progressive rollout (the `canary:` section).
  max_error_rate_increase: decimal(0, 1, 'a fraction from 0 to 1 (e.g. 0.01: at most 1 percentage point above stable)').default(0.01),
  max_p99_ratio: decimal(1, 1000, 'a ratio from 1 to 1000 (e.g. 1.5: canary p99 at most 1.5 x stable p99)').default(1.5),
  mode,
});

const STEP_WHAT = 'a list of 1 to 20 traffic weights in %, integers from 1 to 100 (e.g. [10, 25, 50, 100])';

/**
 * A progressive rollout: the canary track beside the stable one, traffic moved to it in `steps`.
 * Absent, swiftdeploy renders and behaves exactly as without the section.
 */
export const canarySchema = z
  .strictObject({
    image: safeString(IMAGE, IMAGE_WHAT).optional(),
    version: safeString(VERSION, 'a version string of letters, digits, ".", "_", "+" or "-" (quote it, e.g. version: "1.10")').optional(),
    steps: z
      .array(integer(1, 100, '%'), { error: `expected ${STEP_WHAT}` })
      .min(1, { error: `expected ${STEP_WHAT}` })
      .max(20, { error: `expected ${STEP_WHAT}` }),
    step_seconds: integer(5, 3600, ' seconds').default(30),
    sticky: z.boolean({ error: 'expected true or false' }).default(false),
    failure_limit: integer(0, 10).default(0),
    inconclusive_limit: integer(0, 10).default(2),
    on_inconclusive: oneOf(['pause', 'fail'] as const).default('pause'),
    max_duration: integer(60, 86_400, ' seconds').default(3600),
  })
  .superRefine((c, ctx) => {
    // zod runs this even when a key failed its own check: compare only values that passed theirs.
    const valid = (v: unknown, min: number, max: number) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
    if (c.steps.length === 0 || c.steps.length > 20 || !c.steps.every((w) => valid(w, 1, 100))) return;
    // Growing weights only ever move users from stable to canary (nginx.conf lists the canary range first).
    const unordered = c.steps.findIndex((w, i) => i > 0 && w <= c.steps[i - 1]!);
    if (unordered > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps', unordered],
        message: `expected steps in strictly increasing order (a weight above the ${c.steps[unordered - 1]}% before it)`,
      });
    }
    const last = c.steps.length - 1;
    // Only for an ordered list: one problem with the steps at a time.
    if (unordered < 0 && c.steps[last] !== 100) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps', last],
        message: 'expected 100 as the last step (a finished rollout sends all traffic to the canary)',
      });
    }
    const windows = c.steps.length * c.step_seconds;
    if (valid(c.step_seconds, 5, 3600) && valid(c.max_duration, 60, 86_400) && c.max_duration < windows) {
      ctx.addIssue({
        code: 'custom',
        path: ['max_duration'],
        message: `expected at least the sum of the step windows (${c.steps.length} steps x ${c.step_seconds} s = ${windows} s)`,
      });
    }
  });

// An environment variable's NAME (its value is a secret and never appears in the manifest).
const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const ENV_NAME_WHAT = 'the NAME of an environment variable (upper-case letters, digits and "_", e.g. SWIFTDEPLOY_WEBHOOK_SECRET)';
// Who may approve: an actor as recorded (an e-mail address or a user name).
const APPROVER = /^[A-Za-z0-9][A-Za-z0-9._%+@-]{0,127}$/;
const APPROVER_WHAT = 'an approver as recorded for an actor, e.g. "alice@example.com" (letters, digits, ".", "_", "%", "+", "@", "-")';

/** Which happenings a webhook is told about (README "Notifications"). */
export const NOTIFY_EVENTS = [
  'deny',
  'would_have_blocked',
  'rollout_paused',
  'rollout_aborted',
  'rollback',
  'approval_requested',
  'approval_decided',
  'guard_detected',
  'guard_proposed',
  'guard_executed',
  'guard_recovered',
  'notify_test',
] as const;
export type NotifyEventName = (typeof NOTIFY_EVENTS)[number];

const HTTP_URL_WHAT = 'an http(s) URL such as "https://hooks.example.com/swiftdeploy" (no credentials in the URL)';
function httpUrl(what = HTTP_URL_WHAT) {
  return z.string({ error: `expected ${what}` }).superRefine((u, ctx) => {
    // The raw text first: the WHATWG parser silently drops tabs and newlines, and percent-encodes
    // (so accepts) a U+202E that would make the URL read differently in every log and message.
    const invisible = invisibleIn(u) ?? (/[\u0000-\u0020]/.test(u) ? 'whitespace' : undefined);
    if (invisible) {
      ctx.addIssue({ code: 'custom', message: `expected ${what}; the value contains ${invisible}` });
      return;
    }
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected ${what}` });
      return;
    }
    if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.username || parsed.password || u.length > 2048) {
      ctx.addIssue({ code: 'custom', message: `expected ${what}` });
    }
  });
}

/**
 * One webhook. The URL is given either in the manifest (`url`) or, when the URL itself is a secret
 * (a Slack incoming webhook's is), as the name of an environment variable holding it (`url_env`).
 */
export const webhookSchema = z
  .strictObject({
    url: httpUrl().optional(),
    url_env: safeString(ENV_NAME, ENV_NAME_WHAT).optional(),
    format: oneOf(['slack', 'generic'] as const).default('generic'),
    secret_env: safeString(ENV_NAME, ENV_NAME_WHAT),
    events: z
      .array(oneOf(NOTIFY_EVENTS), { error: `expected a list of events from ${NOTIFY_EVENTS.join(', ')}` })
      .min(1, { error: 'expected at least one event (leave `events` out for all of them)' })
      .optional(),
    // The whole delivery, retries included: never longer than this, whatever the receiver does.
    budget_seconds: decimal(0.5, 120, 'a number of seconds from 0.5 to 120').default(10),
    // The one approver this webhook reaches (their DM, their pager): only it carries that approver's
    // own approval link. A webhook without it (a team channel) gets notices without links.
    approver: safeString(APPROVER, APPROVER_WHAT, 128).optional(),
  })
  .superRefine((w, ctx) => {
    if ((w.url === undefined) === (w.url_env === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of `url` (the URL) or `url_env` (the name of an environment variable holding it)' });
    }
  });

export const notificationsSchema = z
  .array(webhookSchema, { error: 'expected a list of webhooks, each with url (or url_env), format, secret_env and events' })
  .max(20, { error: 'expected at most 20 webhooks' });

/** Who authorises from afar, and where `swiftdeploy serve` listens for their one-tap decisions. */
export const approvalsSchema = z
  .strictObject({
    approvers: z
      .array(safeString(APPROVER, APPROVER_WHAT, 128), { error: `expected a list of approvers (${APPROVER_WHAT})` })
      .min(1, { error: 'expected at least one approver' })
      .max(50, { error: 'expected at most 50 approvers' }),
    required: integer(1, 50).default(1),
    secret_env: safeString(ENV_NAME, ENV_NAME_WHAT),
    expires_seconds: integer(60, 7 * 86_400, ' seconds').default(1800),
    serve: z
      .strictObject({
        listen: safeString(/^[0-9a-fA-F.:]{2,45}$/, 'an IP address to listen on, e.g. "127.0.0.1"').default('127.0.0.1'),
        port: integer(1, 65535).default(8787),
        // Where approvers reach `serve` (the operator's TLS reverse proxy); links are built on it.
        public_url: httpUrl('an http(s) URL approvers open, e.g. "https://deploy.example.com" (no credentials)').optional(),
        tls_cert: safeString(REL_PATH, REL_FILE_WHAT).optional(),
        tls_key: safeString(REL_PATH, REL_FILE_WHAT).optional(),
      })
      .default({ listen: '127.0.0.1', port: 8787 }),
  })
  .superRefine((a, ctx) => {
    if (!Array.isArray(a.approvers) || !Number.isInteger(a.required)) return;
    const seen = new Set<string>();
    a.approvers.forEach((who, i) => {
      if (seen.has(who)) ctx.addIssue({ code: 'custom', path: ['approvers', i], message: `expected distinct approvers; "${who}" is listed twice` });
      seen.add(who);
    });
    if (a.required > a.approvers.length) {
      ctx.addIssue({ code: 'custom', path: ['required'], message: `expected at most the number of approvers (${a.approvers.length})` });
    }
    if ((a.serve?.tls_cert === undefined) !== (a.serve?.tls_key === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['serve'], message: 'expected both tls_cert and tls_key, or neither' });
    }
  });

/** The guard: the status loop that detects by policy and proposes recovery to a human. */
export const guardSchema = z.strictObject({
  // Shadow first: a team watches what the guard would do before trusting it.
  mode: oneOf(['shadow', 'enforce'] as const).default('shadow'),
  // How many consecutive judged ticks with a violation make an incident (the policy counts them).
  sustain_ticks: integer(1, 100).default(3),
  // How many consecutive healthy ticks after the action make it recovered.
  recover_ticks: integer(1, 100).default(2),
  auto_abort_canary: z.boolean({ error: 'expected true or false' }).default(false),
});

/** How Swarm replaces (update) or restores (rollback) a service's tasks; durations in seconds. */
function swarmUpdateSchema(failureActions: readonly [string, ...string[]], defaultFailure: string) {
  return z
    .strictObject({
      // Tasks replaced at once; 0 means all at once.
      parallelism: integer(0, 100).default(1),
      delay: integer(0, 3600, ' seconds').default(0),
      // start-first: the new task is running (healthy) before the old one stops.
      order: oneOf(['start-first', 'stop-first'] as const).default('start-first'),
      failure_action: oneOf(failureActions).default(defaultFailure),
      // How long a new task is watched for a failure after it starts.
      monitor: integer(1, 3600, ' seconds').default(15),
    })
    .default({ parallelism: 1, delay: 0, order: 'start-first', failure_action: defaultFailure, monitor: 15 });
}

// A Swarm placement constraint, written without spaces: `node.role==manager`, `node.labels.zone!=b`.
const CONSTRAINT = /^(?:node|engine)\.[A-Za-z0-9_.-]{1,100}(?:==|!=)[A-Za-z0-9_.:-]{1,100}$/;
const CONSTRAINT_WHAT = 'a placement constraint without spaces, e.g. "node.role==manager" or "node.labels.zone!=b"';

/**
 * `runtime: swarm`: the stack's replicas and how Swarm rolls them. Swarm's own default failure
 * action is `pause`, which leaves a service half-updated: ours is `rollback`.
 */
export const swarmSchema = z
  .strictObject({
    replicas: integer(1, 100).default(3),
    // How nginx's port is published: through the routing mesh (every node answers; needs IPVS in
    // the kernel), or on the node nginx runs on only (no IPVS; nginx is then replaced stop-first).
    publish: oneOf(['ingress', 'host'] as const).default('ingress'),
    update: swarmUpdateSchema(['rollback', 'pause', 'continue'] as const, 'rollback'),
    rollback: swarmUpdateSchema(['pause', 'continue'] as const, 'pause'),
    placement: z
      .strictObject({
        constraints: z
          .array(safeString(CONSTRAINT, CONSTRAINT_WHAT, 201), { error: `expected a list of constraints (${CONSTRAINT_WHAT})` })
          .max(20, { error: 'expected at most 20 constraints' })
          .default([]),
      })
      .default({ constraints: [] }),
  });

export const policySchema = z.strictObject({
  infrastructure: infrastructurePolicySchema,
  canary: canaryPolicySchema,
});

export const observabilitySchema = z.strictObject({
  history_file: relFilePath('history.jsonl'),
  audit_report: relFilePath('audit_report.md'),
  status_interval: decimal(0.5, 3600, 'a number of seconds from 0.5 to 3600').default(5),
});

export const manifestSchema = z
  .strictObject({
  project: projectSchema,
  // Which orchestrator runs the stack: Docker Compose on this host, or a Docker Swarm stack.
  runtime: oneOf(['compose', 'swarm'] as const).default('compose'),
  services: servicesSchema,
  nginx: nginxSchema,
  network: networkSchema,
  opa: opaSchema,
  policy: policySchema,
  canary: canarySchema.optional(),
  notifications: notificationsSchema.optional(),
  approvals: approvalsSchema.optional(),
  guard: guardSchema.optional(),
  swarm: swarmSchema.optional(),
  observability: observabilitySchema.default({
    history_file: 'history.jsonl',
    audit_report: 'audit_report.md',
    status_interval: 5,
  }),
})
  .superRefine((m, ctx) => {
    if (m.runtime === 'swarm') {
      // The stack makes its own overlay network; this one carries only the loopback-only OPA sidecar.
      if (m.network?.driver_type !== undefined && m.network.driver_type !== 'bridge') {
        ctx.addIssue({
          code: 'custom',
          path: ['network', 'driver_type'],
          message: 'expected "bridge" with runtime: swarm (the stack makes its own overlay network; this one carries only the OPA sidecar on this host)',
        });
      }
      // The weighted split changes nginx.conf at every step; on swarm nginx then bind-mounts the
      // project's nginx/ and is reloaded in place, which needs it on this node: publish: host pins it
      // to the manager (docs/swarm.md, "Progressive canary").
      if (m.canary !== undefined && m.swarm?.publish !== 'host') {
        ctx.addIssue({
          code: 'custom',
          path: ['canary'],
          message:
            'expected swarm.publish: host for a progressive canary with runtime: swarm (nginx is then pinned to the manager and reloaded in place at each step; with ingress every step would replace nginx). Without a canary: section, promote canary|stable is a rolling update',
        });
      }
    } else if (m.swarm !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['swarm'], message: 'expected runtime: swarm for a swarm: section (runtime is "compose")' });
    }
    const hooks = Array.isArray(m.notifications) ? m.notifications : [];
    const approvers = Array.isArray(m.approvals?.approvers) ? m.approvals.approvers : [];
    hooks.forEach((w, i) => {
      if (w.approver !== undefined && !approvers.includes(w.approver)) {
        ctx.addIssue({ code: 'custom', path: ['notifications', i, 'approver'], message: `expected one of approvals.approvers (${approvers.length > 0 ? approvers.join(', ') : 'there is no approvals: section'})` });
      }
      // A receiver holds its webhook's key: were it also the approval key, it could mint any approver's token.
      if (m.approvals !== undefined && w.secret_env === m.approvals.secret_env) {
        ctx.addIssue({ code: 'custom', path: ['notifications', i, 'secret_env'], message: `expected a variable other than approvals.secret_env (${w.secret_env}): a receiver holding the signing key must not be able to mint approval tokens` });
      }
    });
  });

export type Manifest = z.output<typeof manifestSchema>;
export type AppMode = Manifest['services']['mode'];
export type CanaryConfig = NonNullable<Manifest['canary']>;
export type WebhookConfig = z.output<typeof webhookSchema>;
export type ApprovalsConfig = NonNullable<Manifest['approvals']>;
export type GuardConfig = NonNullable<Manifest['guard']>;
export type SwarmConfig = z.output<typeof swarmSchema>;

/** The swarm settings a manifest runs with: its `swarm:` section, or every default when it has none. */
export function swarmConfigOf(m: Manifest): SwarmConfig {
  return m.swarm ?? swarmSchema.parse({});
}
export type Runtime = Manifest['runtime'];
