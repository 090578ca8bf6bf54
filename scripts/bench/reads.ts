/**
 * Read latency at one dataset size: repeated rounds of sequential requests
 * for an unfiltered page of 50, a page of 500, a sparse filter, a deep
 * cursor in the middle of the dataset and `/stats` of the sparse filter.
 */
import { syntheticRecord } from './records.ts';
import { percentile, summarize, type Summary } from './stats.ts';

/** Latency of one query at one size: the median and range over the repeats of each repeat's p50 and p95. */
export interface ReadResult {
  query: string;
  p50: Summary;
  p95: Summary;
}

/** The query the read target is about. */
export const TARGET_QUERY = 'page of 50';

/** p50 and p95 in ms of `requests` sequential GETs of `path`. */
async function timeRequests(base: string, path: string, requests: number): Promise<{ p50: number; p95: number }> {
  const samples: number[] = [];
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const response = await fetch(`${base}${path}`);
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
    samples.push(performance.now() - started);
  }
  return { p50: percentile(samples, 0.5), p95: percentile(samples, 0.95) };
}

/** A cursor that continues a page after synthetic record `middle` (its date), for deep-cursor requests. */
export async function cursorAt(base: string, middle: number): Promise<string> {
  const cursorPage = await fetch(`${base}/events?limit=1&until=${syntheticRecord(middle).date}`);
  if (!cursorPage.ok) throw new Error(`GET /events?limit=1&until=…: ${cursorPage.status}`);
  return ((await cursorPage.json()) as { next_cursor: string }).next_cursor;
}

/**
 * Times every query: `requests` GETs of each, split into `repeats` rounds
 * interleaved across the queries. The deep cursor starts at the date of
 * synthetic record `middle`.
 */
export async function measureReads(base: string, middle: number, requests: number, repeats: number): Promise<ReadResult[]> {
  const perRound = Math.ceil(requests / repeats);
  const cursor = await cursorAt(base, middle);
  const queries: Record<string, string> = {
    [TARGET_QUERY]: '/events?limit=50',
    'page of 500': '/events?limit=500',
    'filtered (SY strikes)': '/events?country=SY&type=strike&limit=50',
    'deep cursor (middle)': `/events?limit=50&cursor=${cursor}`,
    'stats (SY strikes)': '/stats?country=SY&type=strike',
  };
  const rounds = new Map<string, { p50: number; p95: number }[]>(Object.keys(queries).map((query) => [query, []]));
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const [query, path] of Object.entries(queries)) rounds.get(query)!.push(await timeRequests(base, path, perRound));
  }
  return [...rounds].map(([query, samples]) => ({ query, p50: summarize(samples.map((sample) => sample.p50)), p95: summarize(samples.map((sample) => sample.p95)) }));
}
