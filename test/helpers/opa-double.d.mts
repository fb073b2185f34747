// Types for opa-double.mjs (plain ESM so Node runs it directly as a server); keep in step with its JSDoc.
import type { Violation } from '../../src/policy/types.js';

export type { Violation };

export interface Decision {
  domain: string;
  question: unknown;
  allowed: boolean;
  reason: string;
  violations: Violation[];
  observed: unknown;
}

export interface Behaviour {
  delayMs?: number;
  status?: number;
  healthStatus?: number;
  rawBody?: string;
  undefinedDecision?: boolean;
  forceWarning?: boolean;
  transform?: (d: Decision) => unknown;
}

export interface OpaDouble {
  url: string;
  port: number;
  close(): Promise<void>;
  set(b: Behaviour): void;
  reset(): void;
  stats: { dataRequests: number; healthRequests: number; connections: number };
  lastInput(): unknown;
}

export function formatRegoNumber(n: number): string;
export function decideInfrastructure(input: unknown): Decision;
export function decideCanary(input: unknown): Decision;
export function startOpaDouble(options?: { port?: number; host?: string } & Behaviour): Promise<OpaDouble>;
