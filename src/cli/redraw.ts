/**
 * The one in-place redraw on a terminal: a region of one or more lines that each draw replaces.
 * Used by progress lines (stderr) and the status dashboard (stdout). Only ever given a TTY stream:
 * callers decide when to draw in place, so no escape code reaches a pipe or a log file.
 */

const ESC = '\x1b[';
const CLEAR_LINE = `\r${ESC}2K`;
const CLEAR_DOWN = `${ESC}J`;
const HOME = `${ESC}H`;
const HIDE_CURSOR = `${ESC}?25l`;
const SHOW_CURSOR = `${ESC}?25h`;

export interface LiveRegionOptions {
  /** Draw from the top of the screen, clearing it (a dashboard), instead of from the current line. */
  fullScreen?: boolean;
  /** Hide the cursor while the region is live (shown again by close()). */
  hideCursor?: boolean;
}

export class LiveRegion {
  /** Lines the last frame occupies below its first line (0 for a one-line frame). */
  private height = 0;
  private drawn = false;
  private cursorHidden = false;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly options: LiveRegionOptions = {},
  ) {}

  /** Replace what the region shows with `frame` (lines separated by \n). */
  draw(frame: string): void {
    let prefix = '';
    if (this.options.hideCursor && !this.cursorHidden) {
      this.cursorHidden = true;
      prefix += HIDE_CURSOR;
    }
    if (this.options.fullScreen) prefix += `${HOME}${CLEAR_DOWN}`;
    else prefix += `${this.drawn && this.height > 0 ? `${ESC}${this.height}A` : ''}${CLEAR_LINE}${CLEAR_DOWN}`;
    this.stream.write(`${prefix}${frame}${this.options.fullScreen ? '\n' : ''}`);
    this.height = this.options.fullScreen ? 0 : frame.split('\n').length - 1;
    this.drawn = true;
  }

  /** Erase the region (the cursor is left where it began), so ordinary lines can follow. */
  clear(): void {
    if (!this.drawn || this.options.fullScreen) return;
    this.stream.write(`${this.height > 0 ? `${ESC}${this.height}A` : ''}${CLEAR_LINE}${CLEAR_DOWN}`);
    this.height = 0;
    this.drawn = false;
  }

  /** Give the cursor back; the last frame stays on screen. Safe to call more than once. */
  close(): void {
    if (this.cursorHidden) {
      this.cursorHidden = false;
      this.stream.write(SHOW_CURSOR);
    }
  }
}
