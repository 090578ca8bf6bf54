/**
 * Summaries of repeated measurements, and the number formats of the
 * benchmark's tables.
 */

/** The median and range of a measurement's repeats. */
export interface Summary {
  median: number;
  min: number;
  max: number;
}

/** The value at quantile `q` (0–1) of `samples`, by the nearest-rank method. */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

/** Median (mean of the middle two for an even count), minimum and maximum of `repeats`. */
export function summarize(repeats: readonly number[]): Summary {
  if (repeats.length === 0) throw new Error('summary of no repeats');
  const sorted = [...repeats].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)! };
}

/** `value` with `digits` decimals, or with none from 100 up. */
export const fixed = (value: number, digits = 1): string => value.toFixed(Math.abs(value) >= 100 ? 0 : digits);

/** `12.3 (11.9–13.0)`: the median and the range of the repeats. */
export const withSpread = (summary: Summary, digits = 1): string => `${fixed(summary.median, digits)} (${fixed(summary.min, digits)}–${fixed(summary.max, digits)})`;

/** A count with thousands separators. */
export const count = (value: number): string => value.toLocaleString('en-US');

/** Left-aligned table rows: every column as wide as its widest cell, two spaces between. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column]?.length ?? 0)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}
