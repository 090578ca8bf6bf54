/**
 * Ingest through `POST /events` as a client sees it: records/s until every
 * POST has answered (committed) and until the records are published
 * (visible to readers), and KV puts per record.
 *
 * "Published" is read from `GET /admin/status` (`publish.up_to_date` and an
 * empty outbox) when the Worker has that endpoint; older code, which answers
 * a POST only after writing KV, has none, and there the benchmark polls
 * `GET /events/<last id>` until it answers 200 and cannot count KV puts.
 */
import { secondsSince } from './cli.ts';
import type { SyntheticRecord } from './records.ts';

/** Where the Worker listens and its admin token. */
export interface Api {
  base: string;
  token: string;
}

/** `GET /admin/status`, the fields the benchmark reads. */
interface AdminStatus {
  dataset: { revision: number; records: number };
  publish: { up_to_date: boolean; kv_puts: number };
  outbox: { pending: number; fanout?: number };
}

/** How the benchmark learns that records are published. */
export type PublishProbe = 'admin-status' | 'read-back';

/** One way of sending records: `perRequest` records a POST (1: a single object), `concurrency` POSTs in flight, dated after the newest (`appended`) or spread over the past (`backfill`). */
export interface IngestMode {
  label: string;
  records: number;
  perRequest: number;
  concurrency: number;
  dates: 'appended' | 'backfill';
}

/** One repeat of one mode. */
export interface IngestSample {
  records: number;
  /** Records/s until every POST had answered. */
  committedPerSecond: number;
  /** Records/s until the records were published. */
  publishedPerSecond: number;
  /** KV puts per record (`publish.kv_puts` delta), null without `/admin/status`. */
  kvPutsPerRecord: number | null;
}

/** How often publishing is polled; the resolution of the published times. */
const POLL_MS = 50;

async function readStatus(api: Api): Promise<AdminStatus> {
  const response = await fetch(`${api.base}/admin/status`, { headers: { authorization: `Bearer ${api.token}` } });
  if (!response.ok) throw new Error(`GET /admin/status: ${response.status} ${await response.text()}`);
  return (await response.json()) as AdminStatus;
}

/** `admin-status` when the Worker serves `GET /admin/status`, `read-back` when it answers 404 (code before it existed). */
export async function detectPublishProbe(api: Api): Promise<PublishProbe> {
  const response = await fetch(`${api.base}/admin/status`, { headers: { authorization: `Bearer ${api.token}` } });
  await response.arrayBuffer();
  if (response.status === 404) return 'read-back';
  if (!response.ok) throw new Error(`GET /admin/status: ${response.status}`);
  return 'admin-status';
}

/** POSTs `records`, `perRequest` to a request and `concurrency` requests at once; throws unless every record comes back `created`. */
export async function postRecords(api: Api, records: readonly SyntheticRecord[], perRequest: number, concurrency: number): Promise<void> {
  const requests: SyntheticRecord[][] = [];
  for (let start = 0; start < records.length; start += perRequest) requests.push(records.slice(start, start + perRequest));
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const batch = requests[next++]!;
      const response = await fetch(`${api.base}/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(perRequest === 1 ? batch[0] : batch),
      });
      const text = await response.text();
      if (response.status !== 201) throw new Error(`POST /events (${batch.length} records from ${batch[0]!.id}): ${response.status} ${text.slice(0, 500)}`);
      const { results } = JSON.parse(text) as { results: { id: string; change: string }[] };
      const notCreated = results.filter((result) => result.change !== 'created');
      if (notCreated.length > 0) throw new Error(`POST /events: ${notCreated.length} records not created, e.g. ${JSON.stringify(notCreated[0])}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, worker));
}

/** Polls `check` every POLL_MS until it returns a value other than undefined; throws after `timeoutSeconds`. */
async function pollUntil<T>(what: string, timeoutSeconds: number, check: () => Promise<T | undefined>): Promise<T> {
  const started = performance.now();
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (secondsSince(started) > timeoutSeconds) throw new Error(`${what} after ${timeoutSeconds} s`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Waits until `GET /admin/status` says everything committed is published and
 * the outbox is empty, and returns that status. Throws after
 * `timeoutSeconds`, or when the dataset does not hold `expectedRecords`
 * (unless null).
 */
export async function waitUntilUpToDate(api: Api, expectedRecords: number | null, timeoutSeconds: number): Promise<AdminStatus> {
  const status = await pollUntil('not published', timeoutSeconds, async () => {
    const seen = await readStatus(api);
    return seen.publish.up_to_date && (seen.outbox.fanout ?? 0) === 0 && seen.outbox.pending === 0 ? seen : undefined;
  });
  if (expectedRecords !== null && status.dataset.records !== expectedRecords) throw new Error(`published, but /admin/status counts ${status.dataset.records} records where ${expectedRecords} were created`);
  return status;
}

/**
 * Waits until the records up to `lastId` are published: with `admin-status`
 * as `waitUntilUpToDate` (and returns the status), with `read-back` until
 * `GET /events/<lastId>` answers 200 (and returns null).
 */
export async function waitUntilPublished(api: Api, probe: PublishProbe, lastId: string, expectedRecords: number, timeoutSeconds: number): Promise<AdminStatus | null> {
  if (probe === 'admin-status') return waitUntilUpToDate(api, expectedRecords, timeoutSeconds);
  return pollUntil(`${lastId} not readable`, timeoutSeconds, async () => {
    const response = await fetch(`${api.base}/events/${lastId}`);
    await response.arrayBuffer();
    return response.ok ? null : undefined;
  });
}

/** Records in the store: committed (`/admin/status`), else as `/healthz` counts them. */
export async function countRecords(api: Api, probe: PublishProbe): Promise<number> {
  if (probe === 'admin-status') return (await readStatus(api)).dataset.records;
  const response = await fetch(`${api.base}/healthz`);
  if (!response.ok) throw new Error(`GET /healthz: ${response.status}`);
  return ((await response.json()) as { events: number }).events;
}

/** Sends `records` with `mode`, on a store that already holds `stored` records, and times commit and publishing. */
export async function measureIngest(api: Api, probe: PublishProbe, mode: IngestMode, records: readonly SyntheticRecord[], stored: number, timeoutSeconds: number): Promise<IngestSample> {
  const before = probe === 'admin-status' ? await readStatus(api) : null;
  const started = performance.now();
  await postRecords(api, records, mode.perRequest, mode.concurrency);
  const committedSeconds = secondsSince(started);
  const after = await waitUntilPublished(api, probe, records.at(-1)!.id, stored + records.length, timeoutSeconds);
  const publishedSeconds = secondsSince(started);
  return {
    records: records.length,
    committedPerSecond: records.length / committedSeconds,
    publishedPerSecond: records.length / publishedSeconds,
    kvPutsPerRecord: before && after ? (after.publish.kv_puts - before.publish.kv_puts) / records.length : null,
  };
}
