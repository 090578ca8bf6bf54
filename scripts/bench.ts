/**
 * Benchmark: what reads and writes cost as the dataset grows, each figure a
 * ratio to the same figure at the smallest size measured in the same run.
 *
 * Starts `wrangler dev` (local workerd, local KV and Coordinator storage in
 * a temporary folder, seeding off) on a free port, running the Worker with
 * a static baseline route added (scripts/bench/worker.ts), and grows one
 * store of synthetic records through `POST /events` in 500-record batches.
 * At each read size it times unfiltered, filtered and deep-cursor pages and
 * counts the KV operations and bytes of a cold request of each endpoint; at
 * each hot size it compares the requests/s of repeated requests and of a 304
 * with the static route of the same body size (scripts/bench/hot.ts); at each
 * peer size it compares the page of 50 with json-server's on the same records
 * (scripts/bench/peer.ts, reported without a target); at each
 * ingest size it measures records/s of single-record POSTs (several at once),
 * of 500-record batches appended after the newest record and of 500-record
 * batches dated all over the past, until committed and until published, and
 * KV puts per record. Every measurement is repeated (median and range shown);
 * the records an ingest measurement writes stay in the store. When wrangler
 * dev exits during a step (its proxy does now and then under sustained load),
 * it is restarted on the same state and the step is run again with new
 * records; the output lists every restart.
 *
 * Targets (exit 1 when one is missed, or when the run fails):
 * - the p95 of an unfiltered page of 50 at the largest read size is within
 *   2x of the p95 at the smallest;
 * - for both appended ingest modes, records/s committed and published at the
 *   largest ingest size are within 1.5x of the smallest (rate there / rate
 *   here ≤ 1.5);
 * - at every ingest size, batches with dates spread over the past (a
 *   backfill) publish at least half as many records/s as appended batches;
 * - at every hot size, each repeated request serves at least 0.67 times the
 *   requests/s of the static route of its body size (costs at most 1.5x);
 * - at the largest read size, a cold request of each read endpoint makes at
 *   most 1.3x the KV operations and reads at most 1.3x the KV bytes it does
 *   at the smallest (scripts/bench/kv-cost.ts); `/stats`, whose answer is a
 *   series over every month the records span, at most 1.3x the KV bytes per
 *   byte of its answer.
 *
 * Usage: npm run bench [-- --sizes 1000,20000,100000 --requests 200
 *   --hot-sizes 1000,100000 --hot-connections 16 --hot-seconds 1 --hot-pairs 20
 *   --peer-sizes 1000,100000
 *   --ingest-sizes 1000,100000 --repeats 3 --singles 200 --concurrency 8
 *   --batches 4 --load-concurrency 2 --publish-timeout 600 --port 8797]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { countRecords, detectPublishProbe, measureIngest, postRecords, waitUntilPublished, waitUntilUpToDate, type IngestMode, type IngestSample, type PublishProbe } from './bench/ingest.ts';
import { positiveFlag as positive, progressLogger, secondsSince as seconds } from './bench/cli.ts';
import { HOT_TARGET, measureHot, type HotResult } from './bench/hot.ts';
import { describeMachine } from './bench/machine.ts';
import { measureKvCost, SPAN_SIZED, type KvCost } from './bench/kv-cost.ts';
import { measurePeer, type PeerResult } from './bench/peer.ts';
import { cursorAt, measureReads, TARGET_QUERY, type ReadResult } from './bench/reads.ts';
import { backfillRecords, daysCovered, syntheticRecord, syntheticRecords } from './bench/records.ts';
import { startDevServer } from './bench/server.ts';
import { count, fixed, summarize, table, withSpread, type Summary } from './bench/stats.ts';

/** Most records a POST takes (the API's limit); the store is loaded in batches of this size. */
const BATCH_SIZE = 500;
/** Records loaded between progress lines. */
const LOAD_STEP = 10_000;
/** Read target: p95 of a page of 50, largest size over smallest. */
const READ_TARGET = 2;
/** Backfill target: records/s of appended batches over records/s of batches with dates spread over the past, at the same size. */
const BACKFILL_TARGET = 2;
/** Ingest target: records/s at the smallest ingest size over records/s at the largest. */
const INGEST_TARGET = 1.5;
/** Flat-in-size target: KV operations and bytes read by a cold request at the largest read size over the smallest. */
const KV_TARGET = 1.3;
/** The Worker entry the benchmark runs: the real Worker plus the static baseline route. */
const BENCH_ENTRY = 'scripts/bench/worker.ts';
/** Most restarts of wrangler dev in one run before the run fails. */
const MAX_RESTARTS = 5;

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,20000,100000' },
    requests: { type: 'string', default: '200' },
    'hot-sizes': { type: 'string', default: '1000,100000' },
    'hot-connections': { type: 'string', default: '16' },
    'hot-seconds': { type: 'string', default: '1' },
    'hot-pairs': { type: 'string', default: '20' },
    'peer-sizes': { type: 'string', default: '1000,100000' },
    'ingest-sizes': { type: 'string', default: '1000,100000' },
    repeats: { type: 'string', default: '3' },
    singles: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
    batches: { type: 'string', default: '4' },
    'load-concurrency': { type: 'string', default: '2' },
    'publish-timeout': { type: 'string', default: '600' },
    port: { type: 'string' },
  },
});

const sizeList = (name: string, text: string): number[] => [...new Set(text.split(',').filter(Boolean).map((size) => positive(name, size)))].sort((a, b) => a - b);

const readSizes = sizeList('sizes', values.sizes);
const ingestSizes = sizeList('ingest-sizes', values['ingest-sizes']);
const hotSizes = sizeList('hot-sizes', values['hot-sizes']);
const peerSizes = sizeList('peer-sizes', values['peer-sizes']);
const hotConnections = positive('hot-connections', values['hot-connections']);
const hotSeconds = positive('hot-seconds', values['hot-seconds']);
const hotPairs = positive('hot-pairs', values['hot-pairs']);
const requests = positive('requests', values.requests);
const repeats = positive('repeats', values.repeats);
const concurrency = positive('concurrency', values.concurrency);
const loadConcurrency = positive('load-concurrency', values['load-concurrency']);
const publishTimeout = positive('publish-timeout', values['publish-timeout']);
const singles = positive('singles', values.singles);
const batches = positive('batches', values.batches);
/** The ways of ingesting that are measured: appended singles and batches, and batches backfilling the past (compared with the appended batches). */
const appendedBatches: IngestMode = { label: `${batches} POST${batches === 1 ? '' : 's'} of ${BATCH_SIZE}, one at a time`, records: batches * BATCH_SIZE, perRequest: BATCH_SIZE, concurrency: 1, dates: 'appended' };
const backfillBatches: IngestMode = { ...appendedBatches, label: `${appendedBatches.label}, dates spread over the past`, dates: 'backfill' };
const modes: IngestMode[] = [
  { label: `${singles} single-record POST${singles === 1 ? '' : 's'}, ${concurrency} at once`, records: singles, perRequest: 1, concurrency, dates: 'appended' },
  appendedBatches,
  backfillBatches,
];
/** The modes held to the flat-in-size ingest target (the backfill is held to BACKFILL_TARGET against the appended batches instead). */
const appendedModes = modes.filter((mode) => mode.dates === 'appended');

/** Loading the store from one size to the next. */
interface Load {
  from: number;
  to: number;
  seconds: number;
}
/** The read measurements at one size. */
interface ReadBlock {
  stored: number;
  /** 1-minute load average of the machine when the measurement started. */
  load: number;
  results: ReadResult[];
}
/** The KV cost of cold requests at one size. */
interface KvBlock {
  stored: number;
  results: KvCost[];
}
/** The hot-path measurements at one size. */
interface HotBlock {
  stored: number;
  /** 1-minute load average of the machine when the measurement started. */
  load: number;
  results: HotResult[];
}
/** The ingest measurements at one size: the store grows from `from` to `to` while they run. */
interface IngestBlock {
  /** 1-minute load average of the machine when the measurement started. */
  load: number;
  from: number;
  to: number;
  samples: Map<string, IngestSample[]>;
}

const runStarted = performance.now();
const progress = progressLogger(runStarted);

const loads: Load[] = [];
const readBlocks: ReadBlock[] = [];
const kvBlocks: KvBlock[] = [];
const hotBlocks: HotBlock[] = [];
const peerResults: { load: number; result: PeerResult }[] = [];
const ingestBlocks: IngestBlock[] = [];
/** Times wrangler dev exited during a step and was restarted on the same state. */
const restarts: string[] = [];
let probe: PublishProbe = 'read-back';
let failure: unknown;

const server = await startDevServer(values.port === undefined ? undefined : positive('port', values.port), {}, BENCH_ENTRY);
/** Records in the store. */
let stored = 0;
/** The next synthetic record number: never reused, so a step rerun after a restart writes new records. */
let nextIndex = 0;
/** Takes the next `count` synthetic records. */
const takeRecords = (count: number) => {
  const records = syntheticRecords(nextIndex, count);
  nextIndex += count;
  return records;
};
/** The next `count` records, new, dated on days spread over those the store's appended records cover. */
const takeBackfill = (count: number) => {
  const records = backfillRecords(nextIndex, count, daysCovered(nextIndex));
  nextIndex += count;
  return records;
};

/**
 * Runs `step`; when it fails because wrangler dev exited, restarts wrangler on
 * the same state, waits until what was committed is published, recounts the
 * store and runs `step` again with new records (at most MAX_RESTARTS times
 * in a run).
 */
async function resilient<T>(what: string, step: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (restarts.length >= MAX_RESTARTS || !(await server.exitsWithin(5_000))) throw error;
      const restartStarted = performance.now();
      await server.restart();
      // What the interrupted step committed is published before going on (older code published before answering).
      if (probe === 'admin-status') await waitUntilUpToDate(server, null, publishTimeout);
      stored = await countRecords(server, probe);
      const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
      const incident = `wrangler dev exited during ${what} (${message}); restarted on the same state in ${fixed(seconds(restartStarted))} s, ${count(stored)} records stored; the step was run again`;
      progress(incident);
      restarts.push(`[${fixed(seconds(runStarted))} s] ${incident}`);
    }
  }
}

try {
  probe = await detectPublishProbe(server);
  progress(`wrangler dev at ${server.base}; published = ${probe === 'admin-status' ? 'GET /admin/status up to date' : 'GET /events/<last id> answers 200 (no /admin/status)'}`);
  for (const size of [...new Set([...readSizes, ...hotSizes, ...peerSizes, ...ingestSizes])].sort((a, b) => a - b)) {
    if (stored < size) {
      const loadStarted = performance.now();
      const from = stored;
      while (stored < size) {
        await resilient(`loading from ${count(stored)} records`, async () => {
          const records = takeRecords(Math.min(LOAD_STEP, size - stored));
          await postRecords(server, records, BATCH_SIZE, loadConcurrency);
          stored += records.length;
        });
        progress(`loaded ${count(stored)} records`);
      }
      await resilient('publishing', () => waitUntilPublished(server, probe, syntheticRecords(nextIndex - 1, 1)[0]!.id, stored, publishTimeout));
      loads.push({ from, to: stored, seconds: seconds(loadStarted) });
      progress(`store of ${count(stored)} records published`);
    }
    if (readSizes.includes(size)) {
      const load = loadavg()[0]!;
      const results = await resilient(`reads at ${count(stored)} records`, () => measureReads(server.base, Math.floor(nextIndex / 2), requests, repeats));
      readBlocks.push({ stored, load, results });
      progress(`reads timed at ${count(stored)} records`);
      const middle = Math.floor(nextIndex / 2);
      const costs = await resilient(`KV cost at ${count(stored)} records`, async () =>
        measureKvCost(server, await cursorAt(server.base, middle), syntheticRecord(middle).id, repeats, async () => {
          // A new revision, so nothing is cached; dated before every record, so the pages measured stay the same.
          const [record] = takeRecords(1);
          await postRecords(server, [{ ...record!, date: '1985-01-01' }], 1, 1);
          stored += 1;
          await waitUntilPublished(server, probe, record!.id, stored, publishTimeout);
        }),
      );
      kvBlocks.push({ stored, results: costs });
      progress(`KV cost counted at ${count(stored)} records`);
    }
    if (hotSizes.includes(size)) {
      const load = loadavg()[0]!;
      const results = await resilient(`hot requests at ${count(stored)} records`, () => measureHot(server.base, syntheticRecord(Math.floor(nextIndex / 2)).id, hotConnections, hotSeconds, hotPairs));
      hotBlocks.push({ stored, load, results });
      progress(`hot requests measured at ${count(stored)} records`);
    }
    if (peerSizes.includes(size)) {
      const load = loadavg()[0]!;
      const result = await resilient(`json-server peer at ${count(stored)} records`, () => measurePeer(server.base, size, hotConnections, hotSeconds, hotPairs));
      peerResults.push({ load, result });
      progress(`json-server peer measured at ${count(size)} records`);
    }
    if (ingestSizes.includes(size)) {
      const block: IngestBlock = { load: loadavg()[0]!, from: stored, to: stored, samples: new Map(modes.map((mode) => [mode.label, []])) };
      for (let repeat = 0; repeat < repeats; repeat++) {
        for (const mode of modes) {
          const records = mode.dates === 'backfill' ? takeBackfill(mode.records) : takeRecords(mode.records);
          const sample = await resilient(`ingest (${mode.label}) at ${count(stored)} records`, () => measureIngest(server, probe, mode, records, stored, publishTimeout));
          block.samples.get(mode.label)!.push(sample);
          stored += mode.records;
        }
      }
      block.to = stored;
      ingestBlocks.push(block);
      progress(`ingest measured from ${count(block.from)} records`);
    }
  }
} catch (error) {
  failure = error;
} finally {
  await server.stop();
}

/** `here / baseline` as `1.23x`. */
const ratio = (here: number, baseline: number): string => `${(here / baseline).toFixed(2)}x`;
const targetLine = (what: string, value: number, limit: number): string => `target: ${what}: ${value.toFixed(2)}x (≤ ${limit}x) ${value <= limit ? 'MET' : 'MISSED'}`;
const targets: { line: string; met: boolean }[] = [];

console.log(`\n${describeMachine()}`);
console.log(`every figure: median of ${repeats} repeats (range in brackets); ratio = cost here / cost at the smallest size of this run (> 1 is slower); load = the machine's 1-minute load average when the measurement started`);

if (loads.length > 0) {
  const loaded = loads.reduce((sum, load) => sum + load.to - load.from, 0);
  const loadSeconds = loads.reduce((sum, load) => sum + load.seconds, 0);
  console.log(`\nloading the store (POSTs of ${BATCH_SIZE}, ${loadConcurrency} at once, until published): ${count(loaded)} records in ${fixed(loadSeconds)} s, ${fixed(loaded / loadSeconds)} records/s`);
  console.log(table(['records', 'seconds', 'records/s'], loads.map((load) => [`${count(load.from)} → ${count(load.to)}`, fixed(load.seconds), fixed((load.to - load.from) / load.seconds)])));
}

if (readBlocks.length > 0) {
  const baseline = readBlocks[0]!;
  console.log(`\nreads: ${requests} sequential requests per query and size, in ${repeats} repeats of ${Math.ceil(requests / repeats)}; ms`);
  const rows = readBlocks.flatMap((block) =>
    block.results.map((result) => {
      const base = baseline.results.find((candidate) => candidate.query === result.query)!;
      return [count(block.stored), fixed(block.load, 2), result.query, withSpread(result.p50), withSpread(result.p95), ratio(result.p95.median, base.p95.median)];
    }),
  );
  console.log(table(['records', 'load', 'query', 'p50 ms', 'p95 ms', `p95 ratio to ${count(baseline.stored)}`], rows));
  if (readBlocks.length > 1) {
    const p95 = (block: ReadBlock) => block.results.find((result) => result.query === TARGET_QUERY)!.p95.median;
    const value = p95(readBlocks.at(-1)!) / p95(baseline);
    targets.push({ line: targetLine(`p95 of a ${TARGET_QUERY} at ${count(readBlocks.at(-1)!.stored)} records over ${count(baseline.stored)}`, value, READ_TARGET), met: value <= READ_TARGET });
  }
}

/** KV bytes read per byte of the answer sent. */
const perAnswerByte = (cost: KvCost): number => cost.bytes.median / Math.max(cost.answerBytes.median, 1);

if (kvBlocks.length > 0) {
  const baseline = kvBlocks[0]!;
  console.log(`\nKV per cold request (counted by the benchmark's Worker entry; a bulk read of up to 100 keys is one operation): median of ${repeats} repeats, each after a write so that no rendered body is cached; ratio = here / at ${count(baseline.stored)} records (the target is ≤ ${KV_TARGET}x at the largest size; for ${[...SPAN_SIZED].join(', ')}, whose answer is a series over every month the records span, on KV bytes per byte of answer)`);
  const rows = kvBlocks.flatMap((block) =>
    block.results.map((result) => {
      const base = baseline.results.find((candidate) => candidate.label === result.label)!;
      return [count(block.stored), result.label, withSpread(result.ops, 0), ratio(result.ops.median, base.ops.median), withSpread(result.bytes, 0), ratio(result.bytes.median, base.bytes.median), count(result.answerBytes.median), ratio(perAnswerByte(result), perAnswerByte(base))];
    }),
  );
  console.log(table(['records', 'request', 'KV operations', 'ratio', 'KV bytes read', 'ratio', 'answer bytes', 'KV bytes per answer byte, ratio'], rows));
  if (kvBlocks.length > 1) {
    const last = kvBlocks.at(-1)!;
    for (const result of last.results) {
      const base = baseline.results.find((candidate) => candidate.label === result.label)!;
      // An answer that grows with the records' span (SPAN_SIZED) is held to its KV bytes per byte of answer.
      const spanSized = SPAN_SIZED.has(result.label);
      const bytesRatio = spanSized ? perAnswerByte(result) / perAnswerByte(base) : result.bytes.median / Math.max(base.bytes.median, 1);
      const worst = Math.max(result.ops.median / base.ops.median, bytesRatio);
      const what = spanSized ? 'KV operations and bytes per byte of answer' : 'KV operations and bytes';
      targets.push({ line: targetLine(`${what} of a cold ${result.label} at ${count(last.stored)} records over ${count(baseline.stored)} (the larger ratio)`, worst, KV_TARGET), met: worst <= KV_TARGET });
    }
  }
}

if (hotBlocks.length > 0) {
  console.log(
    `\nhot path: requests/s with ${hotConnections} keep-alive connections, in ${hotPairs} pairs of ${hotSeconds} s slices alternating with the static route of the same body size (/__bench/static, test-only) on the same wrangler dev; median (range) over the pairs; ratio = route / static of each pair (1 = as cheap as a static file; the target is ≥ ${HOT_TARGET.toFixed(2)} for a repeated request, i.e. at most 1.5x the cost); the 304 is compared with the static route of the body it revalidates (no target); the cold pages miss the rendered-body cache on every request (the bench entry gives each its own Worker version, which every cache key names): the page of 50 is the front page, the head and the page the Coordinator published read from the local KV simulator; the page of 49 is built from the index, head, manifest, segment, chunk and records read, rendered, and stored in the cache as any miss (no target: the simulator's reads weigh more than the Worker's own work here)`,
  );
  const rows = hotBlocks.flatMap((block) =>
    block.results.map((result) => [count(block.stored), fixed(block.load, 2), result.label, count(result.bytes), withSpread(result.route), withSpread(result.static), withSpread(result.ratio, 2)]),
  );
  console.log(table(['records', 'load', 'request', 'body bytes', 'req/s', 'static req/s', 'ratio to static'], rows));
  for (const block of hotBlocks) {
    for (const result of block.results) {
      if (result.target === null) continue;
      const value = result.ratio.median;
      targets.push({ line: `target: ${result.label} at ${count(block.stored)} records, requests/s over the static route's: ${value.toFixed(2)} (≥ ${result.target.toFixed(2)}) ${value >= result.target ? 'MET' : 'MISSED'}`, met: value >= result.target });
    }
  }
}

if (peerResults.length > 0) {
  console.log(
    `\npeer: json-server 0.17 (npm) on the same synthetic records, read-only, against strikewire's page of 50 (json-server: /events?_sort=date&_order=desc&_limit=50, sorted in memory per request, nothing cached; strikewire: /events?limit=50, repeated, so from its rendered-body cache), requests/s with ${hotConnections} keep-alive connections in ${hotPairs} pairs of ${hotSeconds} s slices; ratio = strikewire / json-server of each pair (> 1: strikewire serves more); reported, no target`,
  );
  console.log(table(['records', 'load', 'strikewire req/s', 'json-server req/s', 'ratio'], peerResults.map(({ load, result }) => [count(result.records), fixed(load, 2), withSpread(result.strikewire), withSpread(result.peer), withSpread(result.ratio, 2)])));
}

if (ingestBlocks.length > 0) {
  const baseline = ingestBlocks[0]!;
  const published = probe === 'admin-status' ? 'published (GET /admin/status: up to date, outbox empty)' : 'published (no /admin/status in this code: GET /events/<last id> answers 200)';
  console.log(`\ningest: records/s committed (every POST answered) and ${published}; records are new, appended after the newest except in the backfill mode (dates drawn uniformly from the days the store covers, so a batch lands in chunks all over the index); ratio = records/s at ${count(baseline.from)} / records/s here`);
  const summaries = (block: IngestBlock, label: string, pick: (sample: IngestSample) => number | null): Summary | null => {
    const picked = block.samples.get(label)!.map(pick);
    return picked.every((value): value is number => value !== null) ? summarize(picked) : null;
  };
  const rows = ingestBlocks.flatMap((block) =>
    modes.map((mode) => {
      const committed = summaries(block, mode.label, (sample) => sample.committedPerSecond)!;
      const publishedRate = summaries(block, mode.label, (sample) => sample.publishedPerSecond)!;
      const puts = summaries(block, mode.label, (sample) => sample.kvPutsPerRecord);
      const basePuts = summaries(baseline, mode.label, (sample) => sample.kvPutsPerRecord);
      return [
        `${count(block.from)} → ${count(block.to)}`,
        fixed(block.load, 2),
        mode.label,
        withSpread(committed),
        ratio(summaries(baseline, mode.label, (sample) => sample.committedPerSecond)!.median, committed.median),
        withSpread(publishedRate),
        ratio(summaries(baseline, mode.label, (sample) => sample.publishedPerSecond)!.median, publishedRate.median),
        puts ? withSpread(puts, 2) : 'n/a (no /admin/status)',
        puts && basePuts ? ratio(puts.median, basePuts.median) : 'n/a',
      ];
    }),
  );
  console.log(table(['records (during)', 'load', 'mode', 'committed/s', 'ratio', 'published/s', 'ratio', 'KV puts/record', 'ratio'], rows));
  for (const block of ingestBlocks) {
    const value = summaries(block, appendedBatches.label, (sample) => sample.publishedPerSecond)!.median / summaries(block, backfillBatches.label, (sample) => sample.publishedPerSecond)!.median;
    targets.push({ line: targetLine(`batches of ${BATCH_SIZE} backfilling the past vs appended, published records/s from ${count(block.from)} records`, value, BACKFILL_TARGET), met: value <= BACKFILL_TARGET });
  }
  if (ingestBlocks.length > 1) {
    const last = ingestBlocks.at(-1)!;
    for (const mode of appendedModes) {
      for (const [kind, pick] of [['committed', (sample: IngestSample) => sample.committedPerSecond], ['published', (sample: IngestSample) => sample.publishedPerSecond]] as const) {
        const value = summaries(baseline, mode.label, pick)!.median / summaries(last, mode.label, pick)!.median;
        targets.push({ line: targetLine(`${mode.label}, ${kind} records/s at ${count(last.from)} vs ${count(baseline.from)}`, value, INGEST_TARGET), met: value <= INGEST_TARGET });
      }
    }
  }
}

if (restarts.length > 0) console.log(`\n${restarts.join('\n')}`);
console.log('');
for (const target of targets) console.log(target.line);
console.log(`\nrun time ${fixed(seconds(runStarted))} s`);
if (failure !== undefined) {
  console.error(`\nbenchmark failed: ${failure instanceof Error ? failure.message : String(failure)}`);
  process.exit(1);
}
process.exit(targets.every((target) => target.met) ? 0 : 1);
