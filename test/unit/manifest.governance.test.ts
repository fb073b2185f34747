/**
 * The manifest's governance sections across keys: a webhook's `approver` must be one of
 * approvals.approvers, and no webhook may be signed with the approval key (a receiver could mint
 * tokens). Each refusal names its key path and line:col.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/manifest/load.js';
import { only } from '../helpers/manifest-problems.js';

const DEFAULT_MANIFEST = readFileSync(fileURLToPath(new URL('../../manifest.yaml', import.meta.url)), 'utf8');

const APPROVALS = 'approvals:\n  approvers: [alice@example.com, bob@example.com]\n  secret_env: SD_APPROVAL_KEY\n';
const hook = (extra: string) => `notifications:\n  - url: https://hooks.example.com/sd\n    secret_env: SD_HOOK_KEY\n${extra}`;

describe('notifications x approvals', () => {
  it('a webhook may name one approver: it then carries only that approver links', () => {
    const m = parseManifest(`${DEFAULT_MANIFEST}\n${APPROVALS}${hook('    approver: bob@example.com\n')}`, 'm');
    expect(m.notifications?.[0]?.approver).toBe('bob@example.com');
  });

  it('an approver that is not in approvals.approvers is refused at its key', () => {
    const text = `${DEFAULT_MANIFEST}\n${APPROVALS}${hook('    approver: mallory@example.com\n')}`;
    const p = only(text);
    expect(p.path).toBe('notifications.0.approver');
    expect(p.message).toContain('expected one of approvals.approvers (alice@example.com, bob@example.com)');
    expect(p.line).toBe(text.split('\n').findIndex((l) => l.includes('approver: mallory')) + 1);
  });

  it('a webhook signed with the approval key is refused: its receiver could mint approval tokens', () => {
    const text = `${DEFAULT_MANIFEST}\n${APPROVALS}notifications:\n  - url: https://hooks.example.com/sd\n    secret_env: SD_APPROVAL_KEY\n`;
    const p = only(text);
    expect(p.path).toBe('notifications.0.secret_env');
    expect(p.message).toContain('expected a variable other than approvals.secret_env (SD_APPROVAL_KEY)');
  });
});
