/**
 * Webhook benchmark: how fast alerts reach subscribers, and whether a slow
 * endpoint or a large record holds others back.
 *
 * Starts `wrangler dev` (local workerd, local KV, queues and Coordinator
 * storage in a temporary folder, seeding off, loopback webhooks allowed, a
 * random admin token) and, in this process, local receivers on free ports
 * of 127.0.0.1 that verify every delivery with `standardwebhooks` and log
 * its webhook-id, arrival time and subscription. Records are new, so each
 * subscriber expects one `event.created` per record. Scenarios, each
 * repeated (median and range), with baselines measured in the same run:
 *
 * 1. 200 records in one POST to 50 subscribers: 10,000 deliveries/s from the
 *    POST to the last delivery; none lost.
 * 2. 1 record to 1,000 subscribers: seconds from the POST to the last delivery.
 * 3. 30 records to 9 healthy subscribers, with and without a tenth endpoint
 *    that accepts the connection and never answers: the healthy ones'
 *    seconds to their last delivery, with it over without it.
 * 4. A record with a 2,000-character summary, then an ordinary record, to
 *    100 subscribers, against two ordinary records: seconds from the first
 *    POST to the last delivery of the second record, large over ordinary.
 *
 * 5. Only when asked for (`--scenarios 5`; it takes ten minutes or more):
 *    500 records in one POST to 1,000 subscribers, once: 500,000 deliveries,
 *    none lost, and the rate they ran at.
 *
 * Across the run no delivery may fail its signature check and no webhook-id
 * may be carried by two different deliveries; a repeat of the same delivery
 * (at-least-once) is allowed and counted.
 *
 * Targets (exit 1 when one is missed or the run fails): scenario 1 ≥ 1,000
 * deliveries/s with 0 lost; scenario 2 ≤ 5 s; scenarios 3 and 4 ≤ 1.2x their
 * baseline with 0 lost; scenario 5 with 0 lost.
 *
 * Usage: npm run bench:webhooks [-- --repeats 3 --scenarios 1,2,3,4 --deadline 60 --port 8798]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { postRecords, waitUntilUpToDate } from './bench/ingest.ts';
import { positiveFlag as positive, progressLogger, secondsSince as elapsed } from './bench/cli.ts';
import { describeMachine } from './bench/machine.ts';
import { DeliveryLog, startReceiver, startReceivers } from './bench/receivers.ts';
import { syntheticRecords, type SyntheticRecord } from './bench/records.ts';
import { startDevServer, type DevServer } from './bench/server.ts';
import { deleteSubscriptions, Expectation, subscribe, unsubscribe, type Subscriber } from './bench/subscribers.ts';
import { count, fixed, summarize, table, withSpread } from './bench/stats.ts';

const THROUGHPUT_TARGET = 1_000;
const WIDE_FANOUT_TARGET_SECONDS = 5;
const RATIO_TARGET = 1.2;
/** Seconds the Worker may take to publish what the previous step wrote (and empty its outbox) before the next starts. */
const SETTLE_SECONDS = 120;
/** Seconds a silent endpoint's held requests may take to be given up by the consumer (its timeout is 10 s). */
const SILENT_DRAIN_SECONDS = 60;

const { values } = parseArgs({
  options: {
    repeats: { type: 'string', default: '3' },
    scenarios: { type: 'string', default: '1,2,3,4' },
    deadline: { type: 'string', default: '60' },
    port: { type: 'string' },
  },
});
const repeats = positive('repeats', values.repeats);
const deadline = positive('deadline', values.deadline);
const scenarios = new Set(values.scenarios.split(',').filter(Boolean).map((scenario) => positive('scenarios', scenario)));

const runStarted = performance.now();
const progress = progressLogger(runStarted);

/** One measured figure of a scenario, over its repeats. */
interface Row {
  scenario: string;
  load: number;
  figure: string;
  samples: number[];
  lost: number;
}
const rows: Row[] = [];
const targets: { line: string; met: boolean }[] = [];
const log = new DeliveryLog();
let nextIndex = 0;
/** The next `n` synthetic records, never written before. */
const takeRecords = (n: number): SyntheticRecord[] => {
  const records = syntheticRecords(nextIndex, n);
  nextIndex += n;
  return records;
};

/**
 * Writes `batches` (one POST each, one after another) once the Worker has
 * settled, and waits until every subscriber has every record. Returns when
 * the first POST started, the expectation (for its times and losses).
 */
async function deliver(server: DevServer, subscribers: readonly Subscriber[], batches: readonly SyntheticRecord[][]): Promise<{ started: number; expectation: Expectation }> {
  await waitUntilUpToDate(server, null, SETTLE_SECONDS);
  const expectation = new Expectation(log, subscribers.map(({ id }) => id), batches.flat().map(({ id }) => id));
  const started = performance.now();
  for (const batch of batches) await postRecords(server, batch, batch.length, 1);
  await expectation.wait(deadline);
  return { started, expectation };
}

/** Seconds from `started` to the last delivery (of `recordId`, or of any record); the deadline when some were lost. */
const secondsToLast = (started: number, expectation: Expectation, recordId?: string): number => (expectation.lost > 0 ? deadline : (expectation.lastAt(recordId) - started) / 1000);

/** Scenario 1: 200 records × 50 subscribers, deliveries/s. */
async function throughput(server: DevServer): Promise<void> {
  const load = loadavg()[0]!;
  const subscribers = await subscribe(server, await startReceivers(log, 50));
  const rates: number[] = [];
  let lost = 0;
  for (let repeat = 0; repeat < repeats; repeat++) {
    const { started, expectation } = await deliver(server, subscribers, [takeRecords(200)]);
    rates.push((10_000 - expectation.lost) / secondsToLast(started, expectation));
    lost += expectation.lost;
    progress(`1. 10,000 deliveries: ${fixed(rates.at(-1)!)} deliveries/s, ${expectation.lost} lost; first delivery after ${fixed((expectation.firstAt - started) / 1000, 2)} s`);
  }
  await unsubscribe(server, subscribers);
  const rate = summarize(rates);
  rows.push({ scenario: '1. 200 records × 50 subscribers (10,000 deliveries)', load, figure: 'deliveries/s, POST to last delivery', samples: rates, lost });
  const met = rate.median >= THROUGHPUT_TARGET && lost === 0;
  targets.push({ line: `target: 10,000 deliveries: ${fixed(rate.median)} deliveries/s (≥ ${count(THROUGHPUT_TARGET)}), ${lost} lost (0) ${met ? 'MET' : 'MISSED'}`, met });
}

/** Scenario 2: 1 record × 1,000 subscribers, seconds to the last delivery. */
async function wideFanout(server: DevServer): Promise<void> {
  const load = loadavg()[0]!;
  const subscribers = await subscribe(server, await startReceivers(log, 1_000));
  const times: number[] = [];
  let lost = 0;
  for (let repeat = 0; repeat < repeats; repeat++) {
    const { started, expectation } = await deliver(server, subscribers, [takeRecords(1)]);
    times.push(secondsToLast(started, expectation));
    lost += expectation.lost;
    progress(`2. 1,000 subscribers: last delivery after ${fixed(times.at(-1)!, 2)} s, ${expectation.lost} lost`);
  }
  await unsubscribe(server, subscribers);
  const time = summarize(times);
  rows.push({ scenario: '2. 1 record × 1,000 subscribers', load, figure: 's, POST to last delivery', samples: times, lost });
  const met = time.median <= WIDE_FANOUT_TARGET_SECONDS && lost === 0;
  targets.push({ line: `target: 1,000 subscribers: last delivery after ${fixed(time.median, 2)} s (≤ ${WIDE_FANOUT_TARGET_SECONDS} s), ${lost} lost (0) ${met ? 'MET' : 'MISSED'}`, met });
}

/** Adds the rows of a scenario measured against a baseline, and its ratio target. */
function compare(scenario: string, load: number, figure: string, baseline: { samples: number[]; lost: number }, measured: { samples: number[]; lost: number }, what: string): void {
  rows.push({ scenario: `${scenario}: baseline`, load, figure, ...baseline });
  rows.push({ scenario: `${scenario}`, load, figure, ...measured });
  const ratio = summarize(measured.samples).median / summarize(baseline.samples).median;
  const met = ratio <= RATIO_TARGET && baseline.lost === 0 && measured.lost === 0;
  targets.push({ line: `target: ${what}: ${ratio.toFixed(2)}x the baseline (≤ ${RATIO_TARGET}x), ${measured.lost + baseline.lost} lost (0) ${met ? 'MET' : 'MISSED'}`, met });
}

/** Scenario 3: 9 healthy subscribers, with and without one that never answers. */
async function silentEndpoint(server: DevServer): Promise<void> {
  const load = loadavg()[0]!;
  const healthy = await subscribe(server, await startReceivers(log, 9));
  const baseline = { samples: [] as number[], lost: 0 };
  const withSilent = { samples: [] as number[], lost: 0 };
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const silent of [false, true]) {
      const silentSubscriber = silent ? (await subscribe(server, [await startReceiver(log, 'silent')]))[0]! : null;
      const { started, expectation } = await deliver(server, healthy, [takeRecords(30)]);
      const into = silent ? withSilent : baseline;
      into.samples.push(secondsToLast(started, expectation));
      into.lost += expectation.lost;
      progress(`3. ${silent ? 'with' : 'without'} a silent endpoint: healthy done after ${fixed(into.samples.at(-1)!, 2)} s, ${expectation.lost} lost`);
      if (silentSubscriber) {
        // Its requests still held are given up by the consumer's timeout before the next repeat starts.
        const { id, receiver } = silentSubscriber;
        await deleteSubscriptions(server, [id]);
        const drainStarted = performance.now();
        while (receiver.holding() > 0 && elapsed(drainStarted) < SILENT_DRAIN_SECONDS) await new Promise((resolve) => setTimeout(resolve, 100));
        await receiver.close();
      }
    }
  }
  await unsubscribe(server, healthy);
  compare('3. 30 records × 9 healthy + 1 silent endpoint', load, 's, POST to last healthy delivery', baseline, withSilent, 'healthy deliveries with a silent endpoint');
}

/** Scenario 4: a 2,000-character record then an ordinary one, to 100 subscribers, against two ordinary ones. */
async function largeRecord(server: DevServer): Promise<void> {
  const load = loadavg()[0]!;
  const subscribers = await subscribe(server, await startReceivers(log, 100));
  const baseline = { samples: [] as number[], lost: 0 };
  const withLarge = { samples: [] as number[], lost: 0 };
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const large of [false, true]) {
      const [first, second] = takeRecords(2) as [SyntheticRecord, SyntheticRecord];
      if (large) first.summary = 'A long synthetic summary for the webhook benchmark. '.repeat(40).slice(0, 2_000);
      const { started, expectation } = await deliver(server, subscribers, [[first], [second]]);
      const into = large ? withLarge : baseline;
      into.samples.push(secondsToLast(started, expectation, second.id));
      into.lost += expectation.lost;
      progress(`4. ${large ? '2,000-character' : 'ordinary'} record then an ordinary one: the later one done after ${fixed(into.samples.at(-1)!, 2)} s, ${expectation.lost} lost`);
    }
  }
  await unsubscribe(server, subscribers);
  compare('4. 2,000-character record, then another, × 100', load, 's, first POST to last delivery of the second', baseline, withLarge, 'an alert after a 2,000-character record');
}

/** Seconds scenario 5 may take before a delivery not seen counts as lost. */
const SCALE_DEADLINE_SECONDS = 3_600;

/** Scenario 5 (only when asked for): 500 records × 1,000 subscribers, once: nothing lost, and the rate it ran at. */
async function scale(server: DevServer): Promise<void> {
  const load = loadavg()[0]!;
  const subscribers = await subscribe(server, await startReceivers(log, 1_000));
  await waitUntilUpToDate(server, null, SETTLE_SECONDS);
  const records = takeRecords(500);
  const scaled = new Expectation(log, subscribers.map(({ id }) => id), records.map(({ id }) => id));
  const started = performance.now();
  await postRecords(server, records, records.length, 1);
  await scaled.wait(SCALE_DEADLINE_SECONDS);
  const seconds = scaled.lost > 0 ? SCALE_DEADLINE_SECONDS : (scaled.lastAt() - started) / 1000;
  const rate = (500_000 - scaled.lost) / seconds;
  progress(`5. 500,000 deliveries: ${fixed(rate)} deliveries/s, ${scaled.lost} lost, last after ${fixed(seconds)} s`);
  await unsubscribe(server, subscribers);
  rows.push({ scenario: '5. 500 records × 1,000 subscribers (500,000 deliveries), once', load, figure: 'deliveries/s, POST to last delivery', samples: [rate], lost: scaled.lost });
  targets.push({ line: `target: 500,000 deliveries: ${count(scaled.lost)} lost (0) ${scaled.lost === 0 ? 'MET' : 'MISSED'}`, met: scaled.lost === 0 });
}

let failure: unknown;
const server = await startDevServer(values.port === undefined ? undefined : positive('port', values.port), { ALLOW_LOOPBACK_WEBHOOKS: 'true' });
try {
  progress(`wrangler dev at ${server.base}`);
  const steps: [number, (server: DevServer) => Promise<void>][] = [[1, throughput], [2, wideFanout], [3, silentEndpoint], [4, largeRecord], [5, scale]];
  for (const [number, step] of steps) if (scenarios.has(number)) await step(server);
} catch (error) {
  failure = error;
} finally {
  await server.stop();
}

console.log(`\n${describeMachine()}`);
console.log(`every figure: median of ${repeats} repeats (range in brackets); baselines are measured in the same run, alternating with the scenario; load = the machine's 1-minute load average when the scenario started; a delivery not seen within ${deadline} s is lost (its repeat counts as ${deadline} s)`);
console.log(table(['scenario', 'load', 'figure', 'median (range)', 'lost'], rows.map((row) => [row.scenario, fixed(row.load, 2), row.figure, withSpread(summarize(row.samples), 2), String(row.lost)])));
console.log(`\nverified deliveries ${count(log.arrivals.length)}; failed signature checks ${log.badSignatures}; webhook-ids carried by two different deliveries ${log.conflictingIds}; repeats of a delivery already seen (allowed) ${log.repeats}`);
const integrity = log.badSignatures === 0 && log.conflictingIds === 0;
targets.push({ line: `target: every signature verified, no webhook-id on two deliveries ${integrity ? 'MET' : 'MISSED'}`, met: integrity });
console.log('');
for (const target of targets) console.log(target.line);
console.log(`\nrun time ${fixed(elapsed(runStarted))} s`);
if (failure !== undefined) {
  console.error(`\nbenchmark failed: ${failure instanceof Error ? failure.message : String(failure)}`);
  process.exit(1);
}
process.exit(targets.every((target) => target.met) ? 0 : 1);
