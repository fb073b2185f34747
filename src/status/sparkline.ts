/** Unicode sparklines for the dashboard. A missing value is a gap, never drawn as zero. */
const BARS = '▁▂▃▄▅▆▇█';

export function sparkline(values: ReadonlyArray<number | null>, width: number): string {
  const shown = values.slice(-width);
  const present = shown.filter((v): v is number => v !== null && Number.isFinite(v));
  if (present.length === 0) return ' '.repeat(shown.length);
  const max = Math.max(...present);
  const min = Math.min(0, ...present);
  const span = max - min;
  return shown
    .map((v) => {
      if (v === null || !Number.isFinite(v)) return ' ';
      // A flat non-zero series sits mid-height; a flat zero series on the floor.
      if (span === 0) return max === 0 ? BARS[0] : BARS[3];
      return BARS[Math.min(BARS.length - 1, Math.floor(((v - min) / span) * (BARS.length - 1) + 0.5))];
    })
    .join('');
}

/** Bounded history of the last `capacity` ticks of one signal. */
export class SignalHistory {
  private readonly values: Array<number | null> = [];
  constructor(private readonly capacity: number) {}
  push(value: number | null): void {
    this.values.push(value);
    if (this.values.length > this.capacity) this.values.shift();
  }
  get all(): ReadonlyArray<number | null> {
    return this.values;
  }
}
