import type { ProgressHandle } from '../events.js';
import type { Output } from './output.js';
import { LiveRegion } from './redraw.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Progress extends ProgressHandle {
  /** Erase the spinner line so another line can be printed; the next update draws it again. */
  suspend(): void;
}

/**
 * A spinner with elapsed seconds on a TTY (stderr), and plain timestamped-by-elapsed lines when not
 * a TTY or with --json: no carriage returns or escape codes ever reach a log file.
 */
export function progress(out: Output, label: string, plainEveryMs = 5000): Progress {
  const started = Date.now();
  const elapsed = () => `${Math.floor((Date.now() - started) / 1000)}s`;
  const line = out.interactive ? new LiveRegion(out.stderr) : undefined;
  let frame = 0;
  let lastPlain = -Infinity;
  let finished = false;
  return {
    update(detail) {
      if (finished) return;
      if (line) {
        frame = (frame + 1) % FRAMES.length;
        line.draw(`${FRAMES[frame]} ${label} (${elapsed()}) ${out.stderrC.dim(detail)}`);
      } else if (Date.now() - lastPlain >= plainEveryMs) {
        lastPlain = Date.now();
        out.info(`${label} (${elapsed()}): ${detail}`);
      }
    },
    done(message) {
      if (finished) return;
      finished = true;
      line?.clear();
      out.info(`${message} (${elapsed()})`);
    },
    suspend() {
      line?.clear();
    },
  };
}
