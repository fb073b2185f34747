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
      // Bars measure from zero (not from the series minimum), so 1% and 2% do not look like 0% and 100%.
      if (span === 0) return BARS[0];
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
