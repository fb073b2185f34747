import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares an `Authorization` header against the expected bearer token in constant time.
 * Both sides are hashed first so the comparison takes the same time whatever the presented length:
 * timingSafeEqual alone throws on unequal lengths, and an early length check leaks the token length.
 */
export function bearerTokenMatches(authorization: string | undefined, expected: string): boolean {
  const presented = /^Bearer (\S+)$/i.exec(authorization?.trim() ?? '')?.[1] ?? '';
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  // Evaluate both operands: && would skip the compare for an empty token and return faster.
  const equal = timingSafeEqual(a, b);
  return equal && presented.length > 0;
}
