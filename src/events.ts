/**
 * The core's output port. Lifecycle operations (and what they call) report what they do as typed
 * events to an `EventSink`; `src/cli` decides how each is drawn (a redraw on a terminal, plain lines
 * in a log, JSON documents with --json). Nothing here knows about terminals, colour or streams.
 */
import type { Decision } from './policy/types.js';

/** How a line should stand out; the renderer picks the colour, or none. */
export type Tone = 'plain' | 'dim' | 'good' | 'bad' | 'warn';

export type OperationEvent =
  /** A line for the operator: info (progress and plans), warning, or error (said, not thrown). */
  | { kind: 'notice'; level: 'info' | 'warning' | 'error'; text: string; tone?: Tone }
  /** A step that takes a while: started, updated any number of times, finished once. */
  | { kind: 'progress-start'; id: string; label: string }
  | { kind: 'progress-update'; id: string; detail: string }
  | { kind: 'progress-done'; id: string; message: string }
  /** A policy decision as obeyed (shadow: a deny that did not block). */
  | { kind: 'decision'; decision: Decision; shadow: boolean }
  /** One line a runtime process (compose) printed while it ran. */
  | { kind: 'runtime-output'; line: string }
  /** The result of the command: a line for humans and the document for machines. */
  | { kind: 'result'; human: string; document: Record<string, unknown> }
  /** A progressive rollout's step: a line for humans, one JSON line per event with --json. */
  | RolloutEvent;

/** Where a progressive rollout is (src/lifecycle/rollout.ts). */
export type RolloutEventPhase = 'started' | 'weight' | 'analysed' | 'paused' | 'resumed' | 'aborted' | 'ready' | 'completed';

/** One track's figures over a step's window (raw: fractions and seconds; null when nothing was measured). */
export interface TrackFigure {
  requests: number;
  error_rate: number | null;
  p99_seconds: number | null;
}
export interface TrackFigures {
  stable: TrackFigure;
  canary: TrackFigure;
}

export interface RolloutEvent {
  kind: 'rollout';
  phase: RolloutEventPhase;
  /** Which rollout, step and weight (the same summary the ledger records carry). */
  rollout: Record<string, unknown>;
  text: string;
  outcome?: 'pass' | 'fail' | 'inconclusive';
  tracks?: TrackFigures;
}

export interface EventSink {
  emit(event: OperationEvent): void;
}

export interface ProgressHandle {
  update(detail: string): void;
  /** Finishes the step; later calls are ignored. */
  done(message: string): void;
}

/** A sink that drops everything (a library caller that wants no output). */
export const silentSink: EventSink = { emit: () => undefined };

/** Shorthands over a sink, so an operation reads `report.info(...)` rather than building events. */
export class Reporter {
  private nextId = 0;

  constructor(readonly sink: EventSink) {}

  info(text: string, tone?: Tone): void {
    this.sink.emit({ kind: 'notice', level: 'info', text, ...(tone ? { tone } : {}) });
  }

  warn(text: string): void {
    this.sink.emit({ kind: 'notice', level: 'warning', text });
  }

  error(text: string, tone?: Tone): void {
    this.sink.emit({ kind: 'notice', level: 'error', text, ...(tone ? { tone } : {}) });
  }

  decision(decision: Decision, shadow = false): void {
    this.sink.emit({ kind: 'decision', decision, shadow });
  }

  runtimeOutput(line: string): void {
    this.sink.emit({ kind: 'runtime-output', line });
  }

  rollout(event: Omit<RolloutEvent, 'kind'>): void {
    this.sink.emit({ kind: 'rollout', ...event });
  }

  result(human: string, document: Record<string, unknown>): void {
    this.sink.emit({ kind: 'result', human, document });
  }

  progress(label: string): ProgressHandle {
    const id = `p${++this.nextId}`;
    this.sink.emit({ kind: 'progress-start', id, label });
    let finished = false;
    return {
      update: (detail) => {
        if (!finished) this.sink.emit({ kind: 'progress-update', id, detail });
      },
      done: (message) => {
        if (finished) return;
        finished = true;
        this.sink.emit({ kind: 'progress-done', id, message });
      },
    };
  }
}
