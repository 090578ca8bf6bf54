/**
 * Synthetic records for the benchmark. Records are dated RECORDS_PER_DAY to a
 * day from 1990-01-01 on (record `i` on day `i / RECORDS_PER_DAY`), so
 * records made in increasing order are appended at the newest end of the
 * index, like a live feed; a backfill gives new records dates spread over
 * the days already covered instead. A million records span 27 years, as a
 * large event dataset does (ACLED holds a few million events since 1997); at
 * one record a day they reached the year 4727, and every period-keyed
 * structure (the `/stats` aggregates are kept per month and year) grew with
 * that span instead of with the records.
 */

/** Records dated on each day. */
export const RECORDS_PER_DAY = 100;

/** Days from 1990-01-01 that the first `count` records cover. */
export const daysCovered = (count: number): number => Math.ceil(count / RECORDS_PER_DAY);

/** The record the benchmark writes as number `i` (ids `bench-000000`, …), dated `dayNumber` days after 1990-01-01 (default: its day in the sequence). */
export function syntheticRecord(i: number, dayNumber = Math.floor(i / RECORDS_PER_DAY)) {
  const day = new Date(Date.UTC(1990, 0, 1 + dayNumber)).toISOString().slice(0, 10);
  const inSyria = i % 37 === 0;
  return {
    id: `bench-${String(i).padStart(6, '0')}`,
    type: i % 5 === 0 ? 'strike' : 'attack',
    title: `Benchmark event ${i}`,
    summary: 'A synthetic record for the benchmark.',
    date: day,
    date_precision: 'day',
    location: inSyria ? { name: 'Deir ez-Zor', country: 'SY', lat: 35.33, lon: 40.14, precision: 'city' } : { name: 'Al-Asad Air Base', country: 'IQ', lat: 33.78, lon: 42.44, precision: 'site' },
    actors: [
      { id: 'iran-backed-militias', role: 'perpetrator', as_written: 'Benchmark Militia' },
      { id: 'us-forces', role: 'target', as_written: 'US forces' },
    ],
    weapons: ['rocket'],
    casualties: i % 11 === 0 ? [{ group: 'us_military', killed: null, injured: 1 }] : [],
    sources: [{ document: '000_47b8be4f10ca94f1.txt', publisher: 'Benchmark', quote: 'Last Friday' }],
    related: [],
  };
}

/** A synthetic record. */
export type SyntheticRecord = ReturnType<typeof syntheticRecord>;

/** Records `from` … `from + count - 1`. */
export const syntheticRecords = (from: number, count: number): SyntheticRecord[] => Array.from({ length: count }, (_, offset) => syntheticRecord(from + offset));

/**
 * Records `from` … `from + count - 1` dated on days drawn uniformly from the
 * first `spanDays` days (a backfill into the past of a store holding that
 * many), by a seeded generator so that runs write the same dates.
 */
export function backfillRecords(from: number, count: number, spanDays: number): SyntheticRecord[] {
  let seed = from + 1;
  // mulberry32: small, fast, good enough to scatter dates.
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return Array.from({ length: count }, (_, offset) => syntheticRecord(from + offset, Math.floor(random() * spanDays)));
}
