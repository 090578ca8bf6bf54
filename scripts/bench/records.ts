/**
 * Synthetic records for the benchmark. Record `i` is dated `i` days after
 * 1990-01-01, so records made in increasing order are appended at the
 * newest end of the index, like a live feed; a backfill gives new records
 * dates spread over the days already covered instead.
 */

/** The record the benchmark writes as number `i` (ids `bench-000000`, …), dated `dayNumber` days after 1990-01-01 (default `i`). */
export function syntheticRecord(i: number, dayNumber = i) {
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
