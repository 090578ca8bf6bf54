/**
 * What the benchmark scripts share around their measurements: reading a
 * positive integer flag, seconds since a moment, and progress lines stamped
 * with the run's elapsed time.
 */
import { fixed } from './stats.ts';

/** A positive integer flag, or exit with a message. */
export function positiveFlag(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer, got "${text}"`);
    process.exit(2);
  }
  return value;
}

/** Seconds since `started` (a `performance.now()` reading). */
export const secondsSince = (started: number): number => (performance.now() - started) / 1000;

/** A progress logger for stderr, each line stamped with the seconds since `runStarted`. */
export const progressLogger =
  (runStarted: number) =>
  (message: string): void =>
    console.error(`[${fixed(secondsSince(runStarted))} s] ${message}`);
