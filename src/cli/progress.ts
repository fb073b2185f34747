import type { Output } from './output.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Progress {
  /** Report the current state; on a TTY it redraws one line, otherwise it prints at most every `plainEveryMs`. */
  update(detail: string): void;
  /** Finish the line with a final message. */
  done(message: string): void;
}

/**
 * A spinner with elapsed seconds on a TTY (stderr), and plain timestamped-by-elapsed lines when not
 * a TTY or with --json: no carriage returns or escape codes ever reach a log file.
 */
export function progress(out: Output, label: string, plainEveryMs = 5000): Progress {
  const started = Date.now();
  const elapsed = () => `${Math.floor((Date.now() - started) / 1000)}s`;
  let frame = 0;
  let lastPlain = -Infinity;
  let finished = false;
  return {
    update(detail) {
      if (finished) return;
      if (out.interactive) {
        frame = (frame + 1) % FRAMES.length;
        out.stderr.write(`\r\x1b[2K${FRAMES[frame]} ${label} (${elapsed()}) ${out.c.dim(detail)}`);
      } else if (Date.now() - lastPlain >= plainEveryMs) {
        lastPlain = Date.now();
        out.info(`${label} (${elapsed()}): ${detail}`);
      }
    },
    done(message) {
      if (finished) return;
      finished = true;
      if (out.interactive) out.stderr.write('\r\x1b[2K');
      out.info(`${message} (${elapsed()})`);
    },
  };
}
