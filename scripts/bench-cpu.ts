/**
 * CPU benchmark: the Worker's own CPU time per request, at dataset sizes up
 * to a million records, without `wrangler dev` or the local KV simulator.
 *
 * The app is bundled by esbuild for Node (scripts/bench/cpu-app.ts) and called
 * with `app.fetch`, against the published KV layout of a store of synthetic
 * records built in memory the way the Coordinator builds it (its reads cost
 * what Workers KV costs the isolate: a copy of the text, parsed as JSON where
 * asked), and a Cache API kept in memory. Each request is measured as the
 * process CPU time (user + system) of `count` sequential requests, body read
 * and `waitUntil` work awaited, divided by `count`, in `repeats` rounds
 * (median and range); the baseline is a route answering a constant body of
 * the same size through Hono (`/__bench/static`, as in `npm run bench`),
 * measured in the same rounds. Machine noise moves both
 * sides alike; the ratios are what to read.
 *
 * Requests: cold ones miss the rendered-body cache (each gets a Worker
 * version of its own, which every cache key names) and read head, manifest,
 * segments, chunks and records (the front page: the head and the page
 * published for its revision); repeated ones are served from it; the 304
 * revalidates the feed; `/stats` reads the head and the answer published with
 * the aggregates, or with a filter the directory and the year keys. Apart
 * from the timing, one request of each is counted on the in-memory KV: its
 * operations (a bulk read is one, as Workers KV counts it) and the bytes of
 * the values it read, which `npm run bench` counts through `wrangler dev`
 * only up to the sizes it loads.
 *
 * Targets (exit 1 when one is missed): a cold page of 50 (the front page,
 * which the Coordinator publishes ready-made with each revision) costs at
 * most 3x the static route of its body size at every size (issue 9, "cold
 * page"); the page of 49, built from the index, is shown beside it;
 * every request costs at most 1.3x at the largest size what it costs at the
 * smallest, in CPU and in KV operations and bytes ("flat in size"; `/stats`,
 * whose answer is a series over every month the records span, per byte of
 * answer); a cold `/stats`, with no filter (the answer the
 * Coordinator publishes) and with one (summed from the year keys), within
 * 50 ms of CPU at the largest size ("stats at any size").
 *
 * Usage: npm run bench:cpu [-- --sizes 1000,100000,1000000 --count 200 --repeats 5]
 */
import { build } from 'esbuild';
import { DatabaseSync } from 'node:sqlite';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { positiveFlag as positive, progressLogger } from './bench/cli.ts';
import { describeMachine } from './bench/machine.ts';
import { syntheticRecord } from './bench/records.ts';
import { fixed, summarize, table, withSpread, type Summary } from './bench/stats.ts';

const COLD_TARGET = 3;
const FLAT_TARGET = 1.3;
/** Issue 9's "stats at any size": a cold `/stats` within this many µs of CPU at the largest size. */
const STATS_TARGET_MICROS = 50_000;
/** Requests whose answer is a series over every month the records span (`/stats`): held flat in CPU per byte of answer. */
const spanSized = (label: string): boolean => label.startsWith('/stats');

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,100000,1000000' },
    count: { type: 'string', default: '200' },
    repeats: { type: 'string', default: '5' },
  },
});
const sizes = [...new Set(values.sizes.split(',').filter(Boolean).map((size) => positive('sizes', size)))].sort((a, b) => a - b);
const count = positive('count', values.count);
const repeats = positive('repeats', values.repeats);
const progress = progressLogger(performance.now());

/** The URL a Cache API key names (a Request or, as the Worker passes it, a URL string). */
const urlOf = (key: Request | string): string => (typeof key === 'string' ? key : key.url);

/** The Cache API's `caches.default`, kept in memory. */
class MemoryCache {
  readonly entries = new Map<string, { body: ArrayBuffer; status: number; headers: [string, string][] }>();
  async match(key: Request | string): Promise<Response | undefined> {
    const hit = this.entries.get(urlOf(key));
    return hit ? new Response(hit.body.slice(0), { status: hit.status, headers: hit.headers }) : undefined;
  }
  async put(key: Request | string, response: Response): Promise<void> {
    this.entries.set(urlOf(key), { body: await response.arrayBuffer(), status: response.status, headers: [...response.headers] });
  }
}
const cache = new MemoryCache();
Object.assign(globalThis, { caches: { default: cache } });

const folder = await mkdtemp(join(tmpdir(), 'strikewire-cpu-'));
const bundle = join(folder, 'cpu-app.mjs');
await build({ entryPoints: ['scripts/bench/cpu-app.ts'], bundle: true, platform: 'node', format: 'esm', outfile: bundle, loader: { '.txt': 'text' }, tsconfig: 'tsconfig.json', logLevel: 'error' });
/** What the bundle exports (scripts/bench/cpu-app.ts, type-checked with the Worker, not here). */
interface CpuApp {
  benchApp: { fetch(request: Request, env: unknown, ctx: unknown): Response | Promise<Response> };
  buildStore(size: number, db: DatabaseSync): { counted(work: () => Promise<unknown>): Promise<KvCount> };
  STATIC_PATH: string;
}
/** KV operations made and bytes of values read by one request. */
interface KvCount {
  operations: number;
  bytes: number;
}
const { benchApp: app, buildStore, STATIC_PATH } = (await import(pathToFileURL(bundle).href)) as CpuApp;
await rm(folder, { recursive: true, force: true });

/** Pending `waitUntil` work of the request being measured. */
let pending: Promise<unknown>[] = [];
const ctx = { waitUntil: (promise: Promise<unknown>) => void pending.push(promise), passThroughOnException: () => undefined, props: {} };
const ORIGIN = 'http://strikewire.bench';

/** One request to measure: how to make it (a fresh Request, and the Worker version it runs as) and the status it must get. */
interface Probe {
  label: string;
  path: string;
  headers?: Record<string, string>;
  cold: boolean;
  status: number;
}

/** Process CPU time in µs of `run`, which makes `count` requests. */
async function cpuMicros(run: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  await run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

let coldVersion = 0;

/** A store of one size, and how to make requests against it. */
interface Sized {
  size: number;
  /** Makes one request as a client would and waits for its body and its `waitUntil` work; its response and body size. */
  fetchOnce(probe: Pick<Probe, 'path' | 'headers' | 'cold'>): Promise<{ response: Response; bytes: number }>;
  /** The KV operations and bytes read of one request (`fetchOnce`), and its body size. */
  kvCost(probe: Probe): Promise<KvCount & { answerBytes: number }>;
  probes: Probe[];
  /** Body bytes of the feed (what its 304 is compared with). */
  feedBytes: number;
}

/** Builds the store of `size` records and the requests measured on it. */
async function prepare(size: number): Promise<Sized> {
  const started = performance.now();
  const kv = buildStore(size, new DatabaseSync(':memory:'));
  progress(`store of ${size.toLocaleString('en')} records built in ${fixed((performance.now() - started) / 1000)} s`);
  const env = (version: string) => ({ EVENTS: kv, CF_VERSION_METADATA: { id: version, tag: '', timestamp: '' }, SEED_FROM_BUNDLE: 'false' });
  const fetchOnce: Sized['fetchOnce'] = async (probe) => {
    pending = [];
    const response = await app.fetch(new Request(`${ORIGIN}${probe.path}`, { headers: { accept: 'application/json', ...probe.headers } }), env(probe.cold ? `cold-${++coldVersion}` : `hot-${size}`), ctx);
    const bytes = (await response.arrayBuffer()).byteLength;
    await Promise.all(pending);
    return { response, bytes };
  };
  const middle = Math.floor(size / 2);
  const cursorPage = await app.fetch(new Request(`${ORIGIN}/events?limit=1&until=${syntheticRecord(middle).date}`, { headers: { accept: 'application/json' } }), env('cursor'), ctx);
  const deep = ((await cursorPage.json()) as { next_cursor: string }).next_cursor;
  const feed = await fetchOnce({ path: '/feed.rss', cold: false });
  const etag = feed.response.headers.get('etag') ?? '';
  const probes: Probe[] = [
    { label: 'page of 50, cold', path: '/events?limit=50', cold: true, status: 200 },
    { label: 'page of 49 from the index, cold', path: '/events?limit=49', cold: true, status: 200 },
    { label: 'deep cursor, cold', path: `/events?limit=50&cursor=${encodeURIComponent(deep)}`, cold: true, status: 200 },
    { label: 'sparse filter, cold', path: '/events?country=SY&type=strike&limit=50', cold: true, status: 200 },
    { label: '/feed.rss, cold', path: '/feed.rss', cold: true, status: 200 },
    { label: '/events/:id, cold', path: `/events/${syntheticRecord(middle).id}`, cold: true, status: 200 },
    { label: '/stats, cold', path: '/stats', cold: true, status: 200 },
    { label: '/stats (SY strikes), cold', path: '/stats?country=SY&type=strike', cold: true, status: 200 },
    { label: 'page of 50, repeated', path: '/events?limit=50', cold: false, status: 200 },
    { label: '/feed.rss, repeated', path: '/feed.rss', cold: false, status: 200 },
    { label: '/events/:id, repeated', path: `/events/${syntheticRecord(middle).id}`, cold: false, status: 200 },
    { label: '304 of /feed.rss', path: '/feed.rss', headers: { 'if-none-match': etag }, cold: false, status: 304 },
    { label: '/healthz', path: '/healthz', cold: false, status: 200 },
  ];
  const kvCost: Sized['kvCost'] = async (probe) => {
    let answerBytes = 0;
    const count = await kv.counted(async () => void ({ bytes: answerBytes } = await fetchOnce(probe)));
    return { ...count, answerBytes };
  };
  return { size, fetchOnce, kvCost, probes, feedBytes: feed.bytes };
}

const stores: Sized[] = [];
for (const size of sizes) stores.push(await prepare(size));
// Warm up: the JIT, the record versions made on first read, the repeated bodies cached.
for (let i = 0; i < 100; i++) for (const store of stores) for (const probe of store.probes) await store.fetchOnce(probe);
progress('warmed up');

/** KV operations and bytes read by one request of each probe at each size (counted in memory; not timed). */
const kvCosts: { size: number; label: string; cost: KvCount & { answerBytes: number } }[] = [];
for (const store of stores) for (const probe of store.probes) kvCosts.push({ size: store.size, label: probe.label, cost: await store.kvCost(probe) });

const results: { size: number; label: string; bytes: number; route: Summary; static: Summary; ratio: Summary }[] = [];
// Each request is measured at every size in turn within each round, so that drifting machine load weighs on all sizes alike.
for (const [index, { label }] of stores[0]!.probes.entries()) {
  const samples = new Map<number, { bytes: number; route: number[]; statics: number[] }>();
  for (const store of stores) {
    const probe = store.probes[index]!;
    const { response, bytes } = await store.fetchOnce(probe);
    if (response.status !== probe.status) throw new Error(`${label} at ${store.size}: ${response.status}, expected ${probe.status}`);
    samples.set(store.size, { bytes: probe.status === 304 ? store.feedBytes : bytes, route: [], statics: [] });
  }
  for (let round = 0; round < repeats; round++) {
    for (const store of stores) {
      const sample = samples.get(store.size)!;
      const staticProbe = { path: `${STATIC_PATH}?bytes=${sample.bytes}`, cold: false };
      sample.statics.push(await cpuMicros(async () => { for (let i = 0; i < count; i++) await store.fetchOnce(staticProbe); }));
      sample.route.push(await cpuMicros(async () => { for (let i = 0; i < count; i++) await store.fetchOnce(store.probes[index]!); }));
    }
  }
  for (const store of stores) {
    const sample = samples.get(store.size)!;
    results.push({ size: store.size, label, bytes: sample.bytes, route: summarize(sample.route), static: summarize(sample.statics), ratio: summarize(sample.route.map((value, at) => value / sample.statics[at]!)) });
  }
  progress(`measured ${label}`);
}

console.log(`\n${describeMachine().replace(/; local workerd.*$/, '')}; the Worker's app bundled by esbuild and run in Node (not workerd), KV and the Cache API in memory`);
console.log(`CPU µs per request (process user + system time of ${count} sequential requests, / ${count}), median (range) of ${repeats} rounds; static = the route /__bench/static answering a constant body of the same size through Hono, in the same rounds; ratio to static per round; ratio to ${sizes[0]!.toLocaleString('en')} = median here / median there`);
const smallest = (label: string) => results.find((result) => result.size === sizes[0] && result.label === label)!;
console.log(
  table(
    ['records', 'request', 'body bytes', 'CPU µs', 'static µs', 'ratio to static', `ratio to ${sizes[0]!.toLocaleString('en')}`],
    results.map((result) => [result.size.toLocaleString('en'), result.label, result.bytes.toLocaleString('en'), withSpread(result.route), withSpread(result.static), withSpread(result.ratio, 2), `${(result.route.median / smallest(result.label).route.median).toFixed(2)}x`]),
  ),
);
console.log(`\nKV per request, counted on the in-memory KV (a bulk read is one operation; bytes of the values read); ratio to ${sizes[0]!.toLocaleString('en')} = the larger of the operations' and the bytes' ratios (\`/stats\`: bytes per byte of answer)`);
const smallestKv = (label: string) => kvCosts.find((entry) => entry.size === sizes[0] && entry.label === label)!.cost;
/** The larger of the operations' and bytes' ratios of `cost` to the same request at the smallest size. */
const kvRatio = (label: string, cost: KvCount & { answerBytes: number }): number => {
  const base = smallestKv(label);
  const perByte = spanSized(label);
  const bytes = perByte ? cost.bytes / cost.answerBytes / (base.bytes / base.answerBytes) : cost.bytes / Math.max(base.bytes, 1);
  return Math.max(cost.operations / Math.max(base.operations, 1), bytes);
};
console.log(
  table(
    ['records', 'request', 'KV operations', 'KV bytes', 'answer bytes', `ratio to ${sizes[0]!.toLocaleString('en')}`],
    kvCosts.map(({ size, label, cost }) => [size.toLocaleString('en'), label, String(cost.operations), cost.bytes.toLocaleString('en'), cost.answerBytes.toLocaleString('en'), `${kvRatio(label, cost).toFixed(2)}x`]),
  ),
);
const targets: { line: string; met: boolean }[] = [];
for (const result of results.filter((candidate) => candidate.label === 'page of 50, cold')) {
  const value = result.ratio.median;
  targets.push({ line: `target: a cold page of 50 at ${result.size.toLocaleString('en')} records, CPU over the static route's: ${value.toFixed(2)}x (≤ ${COLD_TARGET}x) ${value <= COLD_TARGET ? 'MET' : 'MISSED'}`, met: value <= COLD_TARGET });
}
if (sizes.length > 1) {
  for (const result of results.filter((candidate) => candidate.size === sizes.at(-1))) {
    const base = smallest(result.label);
    // An answer that grows with the records' span is compared per byte of it.
    const perByte = spanSized(result.label);
    const value = perByte ? result.route.median / result.bytes / (base.route.median / base.bytes) : result.route.median / base.route.median;
    const what = perByte ? 'CPU per byte of answer' : 'CPU';
    targets.push({ line: `target: ${result.label}, ${what} at ${result.size.toLocaleString('en')} records over ${sizes[0]!.toLocaleString('en')}: ${value.toFixed(2)}x (≤ ${FLAT_TARGET}x) ${value <= FLAT_TARGET ? 'MET' : 'MISSED'}`, met: value <= FLAT_TARGET });
  }
  for (const { label, cost } of kvCosts.filter((entry) => entry.size === sizes.at(-1))) {
    const value = kvRatio(label, cost);
    const what = spanSized(label) ? 'KV operations and bytes per byte of answer' : 'KV operations and bytes';
    targets.push({ line: `target: ${label}, ${what} at ${sizes.at(-1)!.toLocaleString('en')} records over ${sizes[0]!.toLocaleString('en')} (the larger ratio): ${value.toFixed(2)}x (≤ ${FLAT_TARGET}x) ${value <= FLAT_TARGET ? 'MET' : 'MISSED'}`, met: value <= FLAT_TARGET });
  }
}
for (const result of results.filter((candidate) => spanSized(candidate.label) && candidate.size === sizes.at(-1))) {
  const value = result.route.median;
  targets.push({ line: `target: ${result.label} at ${result.size.toLocaleString('en')} records: ${Math.round(value).toLocaleString('en')} µs CPU (≤ ${STATS_TARGET_MICROS.toLocaleString('en')} µs) ${value <= STATS_TARGET_MICROS ? 'MET' : 'MISSED'}`, met: value <= STATS_TARGET_MICROS });
}
console.log('');
for (const target of targets) console.log(target.line);
process.exit(targets.every((target) => target.met) ? 0 : 1);
