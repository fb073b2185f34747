import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ManifestError } from '../../src/errors.js';
import { parseManifest } from '../../src/manifest/load.js';
import { renderAll } from '../../src/render/render.js';
import { quote } from '../../src/util/printable.js';

/**
 * An injection corpus: every string field that can reach nginx.conf or docker-compose.yml (plus the
 * two observability paths, which decide where swiftdeploy writes) must refuse any value that could
 * change the meaning of a generated file. The value is placed with the yaml library's own
 * serialiser, so the payload reaches the schema byte for byte (checked in each case).
 */
const DEFAULT_MANIFEST = readFileSync(fileURLToPath(new URL('../../manifest.yaml', import.meta.url)), 'utf8');

/** Each field with a safe value of its kind: payloads are built around it. */
const FIELDS: Record<string, string> = {
  'project.name': 'swiftdeploy',
  'services.image': 'swiftdeploy-app:1.0.0',
  'services.version': '1.0.0',
  'services.log_volume': 'swiftdeploy-logs',
  'services.build.context': 'app',
  'services.build.dockerfile': 'Dockerfile',
  'services.build.target': 'runtime',
  'services.build.node_image': 'node:20.18-bookworm-slim',
  'nginx.image': 'nginx:1.27-alpine',
  'nginx.error_contact': 'oncall@example.com',
  'network.name': 'swiftdeploy-net',
  'opa.image': 'openpolicyagent/opa:1.4.2',
  'observability.history_file': 'history.jsonl',
  'observability.audit_report': 'audit_report.md',
};

/** Characters the issue names, plus their close relatives. */
const CHARACTERS: Record<string, string> = {
  newline: '\n',
  'carriage return': '\r',
  semicolon: ';',
  'open brace': '{',
  'close brace': '}',
  'double quote': '"',
  dollar: '$',
  'single quote': "'",
  backtick: '`',
  hash: '#',
  space: ' ',
  tab: '\t',
  backslash: '\\',
};

/** Realistic attacks, each tried against every field. */
const ATTACKS = [
  'oncall@example.com"; return 200 "pwned',
  'oncall@example.com; return 200 pwned',
  "oncall@example.com','x':'y",
  'nginx:1\n  privileged: true',
  'swiftdeploy-app:1.0.0\n    privileged: true\n    cap_add: [SYS_ADMIN]',
  '1.0.0"\n      privileged: "true',
  'swiftdeploy-net\n    external: true',
  '${HOME}',
  '$HOME',
  '${SWIFTDEPLOY_CHAOS_TOKEN}',
  '$(id)',
  '`id`',
  'x}}{{y',
  '{{app.image}}',
  '{{{nginx.error_contact}}}',
  'a; include /etc/passwd;',
  "x' ; rm -rf / #",
  'x # comment',
  'x\u2028y',
  'x\u0000y',
  'x\u0085y',
];

function setIn(doc: Record<string, unknown>, keyPath: string, value: unknown): void {
  const segs = keyPath.split('.');
  let cur = doc;
  for (const s of segs.slice(0, -1)) {
    cur[s] ??= {};
    cur = cur[s] as Record<string, unknown>;
  }
  cur[segs[segs.length - 1]!] = value;
}

function getIn(doc: unknown, keyPath: string): unknown {
  return keyPath.split('.').reduce<unknown>((cur, s) => (cur as Record<string, unknown> | undefined)?.[s], doc);
}

const BASE = YAML.parse(DEFAULT_MANIFEST) as Record<string, unknown>;

/** The default manifest with one field set to `value`, serialised by the yaml library. */
function manifestWith(keyPath: string, value: string): string {
  const doc = structuredClone(BASE);
  setIn(doc, keyPath, value);
  return YAML.stringify(doc);
}

/** Asserts the value is refused under its own key path; returns that problem's message. */
function expectRefused(keyPath: string, value: string): string {
  let err: unknown;
  try {
    parseManifest(manifestWith(keyPath, value), '/p/manifest.yaml');
  } catch (e) {
    err = e;
  }
  expect(err, `${keyPath} = ${JSON.stringify(value)} was accepted`).toBeInstanceOf(ManifestError);
  const manifestError = err as ManifestError;
  expect(manifestError.exitCode).toBe(2);
  const problem = manifestError.problems.find((p) => p.path === keyPath);
  expect(problem, JSON.stringify(manifestError.problems)).toBeDefined();
  expect(problem!.message).toMatch(/^expected /);
  // Also proves the payload reached the schema intact (else the test would prove nothing). It is
  // quoted as JSON with invisible characters (U+0085, U+2028) escaped, as every message quotes.
  expect(problem!.message).toContain(`got ${quote(value)}`);
  // The payload is quoted in the message, so the error itself cannot forge extra lines.
  expect(problem!.message).not.toMatch(/[\n\r]/);
  return problem!.message;
}

describe('injection corpus: every rendered string field', () => {
  for (const [keyPath, safe] of Object.entries(FIELDS)) {
    describe(keyPath, () => {
      it(`accepts the safe control value ${JSON.stringify(safe)}`, () => {
        const text = manifestWith(keyPath, safe);
        expect(getIn(YAML.parse(text), keyPath)).toBe(safe);
        const m = parseManifest(text, '/p/manifest.yaml');
        expect(getIn(m, keyPath)).toBe(safe);
      });

      for (const [name, ch] of Object.entries(CHARACTERS)) {
        it(`refuses a ${name} (inside, leading, trailing)`, () => {
          for (const value of [`${safe.slice(0, 2)}${ch}${safe.slice(2)}`, `${ch}${safe}`, `${safe}${ch}`]) {
            expect(expectRefused(keyPath, value)).toContain('would change the meaning of a generated file; refusing to render it');
          }
        });
      }

      for (const attack of ATTACKS) {
        it(`refuses ${JSON.stringify(attack)}`, () => {
          expectRefused(keyPath, attack);
        });
      }
    });
  }
});

describe('opa.url (not rendered, but passed to the HTTP client)', () => {
  for (const url of ['http://opa.internal:8181/\n  privileged: true', 'http://op\ta:8181', 'http://opa:8181 /x', 'file:///etc/passwd', 'http://user:pw@opa:8181']) {
    it(`refuses ${JSON.stringify(url)}`, () => expectRefused('opa.url', url));
  }
});

describe('a refused value is never rendered', () => {
  it('renderAll only ever sees a validated manifest, and the default renders with none of the payloads', async () => {
    // The only way to a Manifest is parseManifest; a payload therefore never reaches a template.
    // As a cross-check, the rendered default contains no payload fragment at all.
    const m = parseManifest(DEFAULT_MANIFEST, '/p/manifest.yaml');
    const rendered = (await renderAll(m, { policiesDir: './policies' })).map((f) => f.content).join('\n');
    for (const marker of ['pwned', 'privileged', '${HOME}', '{{', '}}', 'rm -rf']) expect(rendered).not.toContain(marker);
  });
});
