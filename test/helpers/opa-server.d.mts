// Types for opa-server.mjs (plain ESM so the benchmarks import it without a build); keep in step with its JSDoc.

export interface OpaServer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  pid: number;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. */
  close(): Promise<void>;
}

export function freePort(): Promise<number>;
export function startOpaServer(options: { binary: string; paths?: string[]; readyTimeoutMs?: number }): Promise<OpaServer>;
