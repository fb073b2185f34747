/** A labelled sample from a Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** The optional exposition timestamp (ms since the epoch); prom-client never sets one. */
  timestamp_ms?: number;
}

/** One scrape of /metrics at a point in time. */
export interface Snapshot {
  /** Milliseconds since the epoch when the scrape completed. */
  at: number;
  samples: Sample[];
}

/** Statistics of the app's own traffic between two snapshots (or over a rolling window). */
export interface WindowStats {
  from: number;
  to: number;
  seconds: number;
  requests: number;
  errors: number;
  requests_per_second: number;
  /** null when there were no requests ("no data"). */
  error_rate: number | null;
  p50_seconds: number | null;
  p95_seconds: number | null;
  p99_seconds: number | null;
  /** true when a quantile's rank fell in the +Inf bucket and the highest finite bound is reported. */
  quantiles_capped: boolean;
  /** Series whose counters went down between snapshots (the app restarted). */
  counter_resets: number;
}
