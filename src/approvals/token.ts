/**
 * One-tap tokens: per approver, 128 random bits bound by HMAC-SHA256 to the approval id, the plan
 * hash, that approver and the expiry. The token is `<approver, base64url>.<nonce>.<mac>`; the ledger
 * keeps only `token_id`, a digest of the nonce, so a token cannot be rebuilt from the ledger.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { ApprovalsConfig } from '../manifest/schema.js';
import { canonicalJson } from '../util/canonical-json.js';

export interface TokenBinding {
  id: string;
  plan_hash: string;
  approver: string;
  expires_at: string;
}

export interface ParsedToken {
  approver: string;
  nonce: string;
  mac: string;
}

const NONCE_BYTES = 16;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** The signing key: the value of the variable `approvals.secret_env` names. Missing or short is a usage error naming it. */
export function approvalKey(config: Pick<ApprovalsConfig, 'secret_env'>, env: NodeJS.ProcessEnv = process.env): Buffer {
  const value = env[config.secret_env];
  if (value === undefined || value === '') {
    throw new UsageError(`approvals.secret_env names ${config.secret_env}, which is not set: export ${config.secret_env}=<a random secret of at least 16 characters>`);
  }
  if (value.length < 16) throw new UsageError(`${config.secret_env} is too short to sign approval tokens: expected at least 16 characters`);
  return Buffer.from(value, 'utf8');
}

/** The digest the ledger keeps for a token (never the token). */
export function tokenId(nonce: string): string {
  return createHash('sha256').update(`swiftdeploy-approval-token\0${nonce}`).digest('hex').slice(0, 32);
}

function mac(key: Buffer, binding: TokenBinding, nonce: string): Buffer {
  const { id, plan_hash, approver, expires_at } = binding;
  return createHmac('sha256', key).update(canonicalJson({ id, plan_hash, approver, expires_at, nonce })).digest();
}

export function mintToken(key: Buffer, binding: TokenBinding): { token: string; token_id: string } {
  const nonce = randomBytes(NONCE_BYTES).toString('base64url');
  const token = `${Buffer.from(binding.approver, 'utf8').toString('base64url')}.${nonce}.${mac(key, binding, nonce).toString('base64url')}`;
  return { token, token_id: tokenId(nonce) };
}

/** The token's parts, or undefined when it is not shaped like one of ours. */
export function parseToken(token: string): ParsedToken | undefined {
  if (token.length > 512) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => p.length > 0 && B64URL.test(p))) return undefined;
  const [who, nonce, sig] = parts as [string, string, string];
  const approver = Buffer.from(who, 'base64url').toString('utf8');
  if (approver.length === 0 || approver.length > 128) return undefined;
  return { approver, nonce, mac: sig };
}

/** true when `parsed` was minted with `key` for exactly this binding (timing-safe). */
export function tokenMatches(key: Buffer, binding: TokenBinding, parsed: ParsedToken): boolean {
  const expected = mac(key, binding, parsed.nonce);
  const given = Buffer.from(parsed.mac, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
