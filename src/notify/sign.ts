/**
 * Webhook signatures, Stripe-style: `X-Swiftdeploy-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256
 * over "<t>.<raw body>">`. The timestamp is inside the MAC, so a receiver that refuses an old `t`
 * refuses a replayed request; the compare is timing-safe, so the MAC cannot be guessed byte by byte.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Swiftdeploy-Signature';

/** How old (or how far in the future) a signature may be by default: five minutes, as Stripe's. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

function mac(secret: string, t: number, body: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest();
}

/** The header value for `body` signed at `t` (unix seconds). */
export function signBody(body: string | Uint8Array, secret: string, t: number): string {
  return `t=${t},v1=${mac(secret, t, body).toString('hex')}`;
}

export type VerifyOutcome = { ok: true; t: number } | { ok: false; reason: 'malformed' | 'stale' | 'mismatch' };

export interface VerifyOptions {
  /** Refuse a `t` further than this from `now` (default 300). */
  toleranceSeconds?: number;
  /** Unix milliseconds (default Date.now()). */
  now?: number;
}

/**
 * The reference verifier (README "Notifications" has a ten-line one for receivers). Accepts several
 * `v1=` values (a sender rotating secrets may send two); any one matching is enough.
 */
export function verifySignature(header: string | undefined, rawBody: string | Uint8Array, secret: string, options: VerifyOptions = {}): VerifyOutcome {
  if (typeof header !== 'string') return { ok: false, reason: 'malformed' };
  let t: number | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, reason: 'malformed' };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || t !== undefined) return { ok: false, reason: 'malformed' };
      t = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/i.test(value)) return { ok: false, reason: 'malformed' };
      candidates.push(Buffer.from(value, 'hex'));
    }
  }
  if (t === undefined || candidates.length === 0) return { ok: false, reason: 'malformed' };
  const nowSeconds = (options.now ?? Date.now()) / 1000;
  if (Math.abs(nowSeconds - t) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return { ok: false, reason: 'stale' };
  const expected = mac(secret, t, rawBody);
  // Every candidate is compared (no early exit), each in constant time.
  let match = false;
  for (const c of candidates) if (timingSafeEqual(c, expected)) match = true;
  return match ? { ok: true, t } : { ok: false, reason: 'mismatch' };
}
