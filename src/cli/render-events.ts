import type { EventSink, OperationEvent, Tone } from '../events.js';
import { decisionLines } from './decision.js';
import type { Output } from './output.js';
import { paintOf } from './paint.js';
import { progress, type Progress } from './progress.js';

/**
 * Draws a core operation's events: notices, decisions and runtime output as lines on stderr,
 * progress as a spinner redrawn in place on a terminal (plain lines otherwise), and the result as a
 * line on stdout, or with --json as the one JSON document on stdout.
 */
function percent(r: number | null): string {
  return r === null ? 'n/a' : `${Math.round(r * 1000) / 10}%`;
}

function millis(s: number | null): string {
  return s === null ? 'n/a' : `${Math.round(s * 1000)} ms`;
}

export function eventRenderer(out: Output): EventSink {
  const paint = paintOf(out.stderrC);
  const steps = new Map<string, Progress>();
  const toned = (text: string, tone: Tone | undefined): string => {
    switch (tone) {
      case 'good':
        return paint.ok(text);
      case 'bad':
        return paint.bad(text);
      case 'warn':
        return paint.warn(text);
      case 'dim':
        return paint.dim(text);
      default:
        return text;
    }
  };
  // A spinner being redrawn is erased before any other line, and comes back at its next update.
  const line = (write: () => void): void => {
    for (const step of steps.values()) step.suspend();
    write();
  };
  return {
    emit(event: OperationEvent): void {
      switch (event.kind) {
        case 'notice': {
          const text = toned(event.text, event.tone);
          if (event.level === 'info') line(() => out.info(text));
          else if (event.level === 'warning') line(() => out.warn(text));
          else line(() => out.error(text));
          return;
        }
        case 'progress-start':
          steps.set(event.id, progress(out, event.label));
          return;
        case 'progress-update':
          steps.get(event.id)?.update(event.detail);
          return;
        case 'progress-done':
          steps.get(event.id)?.done(event.message);
          steps.delete(event.id);
          return;
        case 'decision':
          line(() => {
            for (const l of decisionLines(event.decision, event.shadow, paint)) out.info(l);
          });
          return;
        case 'runtime-output':
          line(() => out.info(paint.dim(`  | ${event.line}`)));
          return;
        case 'result':
          out.result(event.human);
          out.emit(event.document);
          return;
        case 'rollout': {
          // --json: one JSON line per rollout event on stdout (before the result document).
          const { kind: _kind, ...document } = event;
          out.emit({ event: 'rollout', ...document });
          if (out.json) return;
          const tone = event.phase === 'aborted' ? 'bad' : event.phase === 'paused' ? 'warn' : event.phase === 'ready' || event.phase === 'completed' ? 'good' : undefined;
          line(() => {
            out.info(toned(`rollout: ${event.text}`, tone));
            if (event.tracks) {
              for (const track of ['stable', 'canary'] as const) {
                const t = event.tracks[track];
                out.info(`         ${track.padEnd(6)} ${t.requests} requests, error rate ${percent(t.error_rate)}, p99 ${millis(t.p99_seconds)}`);
              }
            }
          });
          return;
        }
        default: {
          const never: never = event;
          throw new TypeError(`unknown event ${JSON.stringify(never)}`);
        }
      }
    },
  };
}
