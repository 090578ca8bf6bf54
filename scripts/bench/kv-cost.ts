/**
 * What one cold request of each read endpoint costs in KV at one dataset
 * size: operations (a bulk read of up to 100 keys is one, as Workers KV
 * counts them) and bytes of the values read. The benchmark's Worker entry
 * (scripts/bench/worker.ts) counts them per request and reports them in the
 * `x-bench-kv-ops` and `x-bench-kv-bytes` response headers.
 *
 * Cold means no rendered body is cached for the request yet: bodies are kept
 * per dataset revision, so each repeat first writes one new record (dated
 * before every other, so pages stay the same) and waits until it is
 * published, then requests each endpoint once. The 304 row is the
 * revalidation of the feed just fetched (its validators come from the index
 * head), as a client polling it would send.
 *
 * `/stats` answers with a series by month over every month the records
 * span, so its answer grows with the dataset's span, not with its records
 * (a page of 50 stays 50 records): its bytes are also given per byte of
 * answer, and its target is held to that (SPAN_SIZED).
 */
import type { Api } from './ingest.ts';
import { summarize, type Summary } from './stats.ts';

/** KV cost of one endpoint at one size, over the repeats. */
export interface KvCost {
  label: string;
  ops: Summary;
  bytes: Summary;
  /** Bytes of the response body. */
  answerBytes: Summary;
}

/** Endpoints whose answer grows with the span of the records (a series by month), whose KV bytes are compared per byte of answer. */
export const SPAN_SIZED = new Set(['/stats']);

/** The endpoints measured, by label; `{cursor}` and `{id}` are filled in for the size. */
const ENDPOINTS: [string, string][] = [
  // The front page: the Coordinator publishes it ready-made with each revision.
  ['page of 50', '/events?limit=50'],
  // Not the front page: built from the index (segments, a chunk's key line, the record versions).
  ['page of 49 (from the index)', '/events?limit=49'],
  ['sparse filter (SY strikes)', '/events?country=SY&type=strike&limit=50'],
  ['deep cursor (middle)', '/events?limit=50&cursor={cursor}'],
  ['/feed.rss', '/feed.rss'],
  ['/events.geojson', '/events.geojson?limit=50'],
  ['/events.csv', '/events.csv?limit=50'],
  ['/events/:id', '/events/{id}'],
  ['/stats', '/stats'],
  ['/healthz', '/healthz'],
];

/** The label of the 304 row. */
const REVALIDATION = '304 of /feed.rss';

/** KV operations and bytes one request reported; throws when the Worker did not report them (not the benchmark's entry). */
async function costOf(base: string, path: string, headers: Record<string, string> = {}): Promise<{ ops: number; bytes: number; answerBytes: number; etag: string | null }> {
  const response = await fetch(`${base}${path}`, { headers: { accept: 'application/json', 'x-bench-count-kv': '1', ...headers } });
  const answerBytes = (await response.arrayBuffer()).byteLength;
  if (!response.ok && response.status !== 304) throw new Error(`GET ${path}: ${response.status}`);
  const ops = response.headers.get('x-bench-kv-ops');
  const bytes = response.headers.get('x-bench-kv-bytes');
  if (ops === null || bytes === null) throw new Error(`GET ${path}: no x-bench-kv-* headers (is the Worker scripts/bench/worker.ts?)`);
  return { ops: Number(ops), bytes: Number(bytes), answerBytes, etag: response.headers.get('etag') };
}

/**
 * Measures every endpoint cold, `repeats` times: before each repeat,
 * `freshRevision` writes and publishes one record so that nothing is cached.
 * `cursor` is a cursor into the middle of the dataset, `id` a record there.
 */
export async function measureKvCost(api: Api, cursor: string, id: string, repeats: number, freshRevision: () => Promise<void>): Promise<KvCost[]> {
  const samples = new Map<string, { ops: number[]; bytes: number[]; answerBytes: number[] }>([...ENDPOINTS.map(([label]) => label), REVALIDATION].map((label) => [label, { ops: [], bytes: [], answerBytes: [] }]));
  const add = (label: string, cost: { ops: number; bytes: number; answerBytes: number }) => {
    samples.get(label)!.ops.push(cost.ops);
    samples.get(label)!.bytes.push(cost.bytes);
    samples.get(label)!.answerBytes.push(cost.answerBytes);
  };
  for (let repeat = 0; repeat < repeats; repeat++) {
    await freshRevision();
    for (const [label, template] of ENDPOINTS) {
      const cost = await costOf(api.base, template.replace('{cursor}', encodeURIComponent(cursor)).replace('{id}', id));
      add(label, cost);
      if (label === '/feed.rss' && cost.etag !== null) add(REVALIDATION, await costOf(api.base, '/feed.rss', { 'if-none-match': cost.etag }));
    }
  }
  return [...samples].map(([label, { ops, bytes, answerBytes }]) => ({ label, ops: summarize(ops), bytes: summarize(bytes), answerBytes: summarize(answerBytes) }));
}
