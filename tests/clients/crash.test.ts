/**
 * Crash safety with real processes: `wrangler dev` (local KV, Durable Object
 * SQLite and queues persisted to a temporary folder) is killed with
 * `kill -9` of its whole process group while it writes a batch of 500
 * records, then restarted on the same state, and the client either retries
 * the same POST or does not. Two example receivers (`examples/receiver.mjs`)
 * are subscribed, one to everything and one filtered with `q=flagged`, and
 * stay up across restarts.
 *
 * Scenarios: batches of new records, and batches editing 500 records written
 * before the subscriptions (changed title; for the filtered subscriber some
 * records enter its filter, some leave it and some stay in it). Each kind is
 * killed at 30 % and 70 % of the duration of an uncrashed 500-record POST
 * (measured first, by an uncrashed control) and then retried, at 20 %, 50 %
 * and 80 % with no retry, and just after the answer with no retry. Once
 * everything has settled:
 * - every record the server acknowledged (or a retry wrote) is served by
 *   `/events/:id` with its latest content; a record of an unacknowledged batch
 *   is absent or at its previous or its new version, never anything else;
 * - every record served is in the `/events` index exactly once, and the index
 *   is fresh (`q=flagged` and `q=corrected` select exactly the records whose
 *   current title has the word);
 * - every (record, revision) served was alerted exactly once to each
 *   subscriber it concerns (its filter matches the revision or the one it
 *   replaced), as `event.created` (revision 1) or `event.updated` with that
 *   revision's title; a repeat of the same webhook-id is allowed, two
 *   webhook-ids or a missing alert are not, and nothing is alerted that is
 *   not served;
 * - `/admin/status` counts exactly the records served, and no request got a
 *   5xx other than 503 with Retry-After.
 * wrangler 4.124's dev-proxy race (`PROXY_RACE_MESSAGE` in processes.ts: a
 * 500 "Network connection lost", or wrangler exiting with that ProxyWorker
 * error) is taken as one more crash: the server is killed if still up and
 * restarted on the same state, the request is sent again as a client would,
 * and each such event is counted and printed. Any other unplanned exit of
 * wrangler fails the test.
 * Last, values put under `event:` with `wrangler kv bulk put --local` that
 * are not JSON or fail the schema are quarantined and never served, and stop
 * neither the cron, which adopts a valid record put with them, nor reads, nor
 * writes of those ids.
 *
 * The server answers a POST once the batch is committed and publishes it to
 * KV shortly after, so every check first waits for `/admin/status` to report
 * publishing up to date with an empty outbox (when the endpoint exists), then
 * for the receivers and `/healthz` to go quiet, and for missing alerts, each
 * with a deadline. Local queues keep their messages in memory only (miniflare's
 * queue broker), so messages queued but not yet delivered at a kill are gone:
 * only the server's own outbox can bring them back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventKey } from '../../functions/domain/layout.ts';
import type { Event, EventInput } from '../../functions/domain/schema.ts';
import { dayFrom2000, makeEvent, makeEventInput } from '../fixtures/records.ts';
import {
  PROXY_RACE_MESSAGE,
  accepted,
  bulkPutKv,
  crash,
  exitedOfProxyRace,
  freePorts,
  hasExited,
  lastLines,
  reportsProxyRace,
  startReceiver,
  startWranglerDev,
  stop,
  waitFor,
  type DevServer,
  type Receiver,
} from './processes.ts';

const TOKEN = 'crash-admin-token';
/** Records per batch: the most one POST may carry. */
const BATCH = 500;
/** The word the filtered subscription asks for (`q=flagged`). */
const FLAG = 'flagged';
/** The word every edited title gets, so that `q=corrected` finds stale index entries. */
const EDIT = 'corrected';
/** How long the receivers and `/healthz` must stay unchanged for the server to count as settled (the local queue batches for up to 2 s). */
const QUIET_MS = 3_000;
/** Longest wait for alerts that are expected but have not arrived yet. */
const ALERT_DEADLINE_MS = 35_000;
/** Requests in flight at once when reading every record. */
const READ_CONCURRENCY = 8;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** When in a write the server is killed: after this fraction of the measured duration of an uncrashed write, or as soon as the answer arrives. */
type KillPoint = number | 'answer';

/** A batch of 500 records written once, crashed or not. */
interface Scenario {
  name: string;
  /** `new`: the batch creates records; `update`: it edits 500 records written beforehand. */
  kind: 'new' | 'update';
  /** null for the uncrashed control. */
  kill: KillPoint | null;
  retry: boolean;
  /** Each scenario's records have ids and dates of their own (dates from `slot * 600` days after 2000-01-01). */
  slot: number;
}

/** What happened to a scenario's crashed POST and its retry. */
interface Outcome {
  /** Milliseconds after sending the POST at which the server was killed. */
  killedAtMs: number | null;
  /** Whether the crashed POST was answered (2xx, full body) before the kill. */
  answered: boolean;
  /** Status of the client's retry, when it retried. */
  retryStatus: number | null;
}

/** A record the test wrote: every version it submitted, oldest first, and how many of them must have been committed. */
interface Tracked {
  id: string;
  versions: EventInput[];
  /** The revision that must be served at least (0: the record may be absent). */
  required: number;
  /** The first revision alerted: 2 for records created before the subscriptions. */
  alertedFrom: number;
}

/** What the server serves, read once everything has settled. */
interface Snapshot {
  /** Records served by `/events/:id`, by id. */
  records: Map<string, Event>;
  /** Ids whose `/events/:id` answered neither 200 nor 404, with the status. */
  unreadable: Map<string, number>;
  /** Ids that `/events/:id` serves otherwise than `/events` lists them. */
  inconsistent: Set<string>;
  /** Pages of `/events` that answered other than 200 (the listing stops there), as `<query> -> <status>`. */
  listingErrors: string[];
  /** How often each id occurs in the unfiltered `/events`, paged to the end. */
  listed: Map<string, number>;
  /** Ids listed by `/events?q=flagged`. */
  flagged: Set<string>;
  /** Ids listed by `/events?q=corrected`. */
  corrected: Set<string>;
}

/** The alerts one subscriber received for one (record, revision). */
interface ReceivedAlerts {
  msgIds: Set<string>;
  /** `<type> <title>` of each distinct webhook-id. */
  contents: string[];
}

/** The numbers a scenario is judged by; every list should be empty (samples of ids are kept for the message). */
interface Audit {
  /** How many records are served at each revision (`0`: not served). */
  revisions: Record<number, number>;
  /** The snapshot's failed pages of `/events`, the same for every audit of it. */
  listingErrors: string[];
  unreadable: string[];
  inconsistent: string[];
  missing: string[];
  wrongContent: string[];
  notIndexed: string[];
  indexedMoreThanOnce: string[];
  staleIndex: string[];
  missingAlerts: string[];
  duplicateAlerts: string[];
  wrongAlerts: string[];
  unexpectedAlerts: string[];
}

/** A subscription, the receiver that verifies its deliveries, and which record versions concern it. */
interface Subscriber {
  name: string;
  receiver: Receiver;
  wants: (version: EventInput) => boolean;
}

/**
 * The uncrashed control first, then each kind of batch killed at 30 % and
 * 70 % of a write with a retry, at 20 %, 50 % and 80 % without, and just
 * after the answer without.
 */
const SCENARIOS: Scenario[] = [
  { name: 'control', kind: 'update' as const, kill: null, retry: false },
  ...(['new', 'update'] as const).flatMap((kind) =>
    (
      [
        [0.3, true],
        [0.7, true],
        [0.2, false],
        [0.5, false],
        [0.8, false],
        ['answer', false],
      ] as const
    ).map(([kill, retry]) => ({ name: `${kind} killed ${kill === 'answer' ? 'after the answer' : `at ${kill * 100} %`}${retry ? ', retried' : ''}`, kind, kill, retry })),
  ),
].map((scenario, slot) => ({ ...scenario, slot }));

/** The versions a scenario submits for its record `index`: one for new records, the original and the edit for updates. */
function versionsOf(scenario: Scenario, index: number): EventInput[] {
  const id = `crash-${scenario.slot}-${String(index).padStart(3, '0')}`;
  const date = dayFrom2000(scenario.slot * 600 + index);
  // By index mod 10, for the filtered subscriber: 0 stays in its filter, 1 enters it, 2 leaves it, the others are never in it.
  const original = makeEventInput(id, date, { title: `Crash ${scenario.name} ${index}${index % 10 === 0 || index % 10 === 2 ? ` ${FLAG}` : ''}` });
  if (scenario.kind === 'new') return [original];
  return [original, { ...original, title: `Crash ${scenario.name} ${index} ${EDIT}${index % 10 < 2 ? ` ${FLAG}` : ''}` }];
}

/** Record content without the fields the server keeps or derives (the date interval served with every record). */
function contentOf(record: Event & { date_start?: string; date_end?: string }): EventInput {
  const { revision: _revision, created_at: _created, updated_at: _updated, date_start: _start, date_end: _end, ...content } = record;
  return content;
}

/** Up to five ids of a list, and how many there are, for a failure message. */
const sample = (ids: readonly string[]) => (ids.length === 0 ? 0 : `${ids.length} (e.g. ${ids.slice(0, 5).join(', ')})`);

/** An audit as numbers: the revision counts, then each list as 0 or its length with a few examples. */
function summarize(result: Audit): Record<string, unknown> {
  return Object.fromEntries(Object.entries(result).map(([key, value]) => [key, Array.isArray(value) ? sample(value) : value]));
}

/** What `summarize` gives when nothing is wrong: the same revision counts and 0 everywhere else. */
const clean = (summary: Record<string, unknown>) => Object.fromEntries(Object.entries(summary).map(([key, value]) => [key, key === 'revisions' ? value : 0]));

/** Runs `work` on each of `items`, at most `limit` at a time. */
async function forEachLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

describe('crash safety: kill -9 of wrangler dev during 500-record writes, restart on the same state', () => {
  let tmp = '';
  let persistTo = '';
  let worker: DevServer | undefined;
  const subscribers: Subscriber[] = [];
  /** Every 5xx other than 503 with Retry-After and the proxy race, as `<method> <path> -> <status> <body>`. */
  const serverErrors: string[] = [];
  /** Each time wrangler's dev-proxy race struck, as `<method> <path>: <what was seen>`. */
  const proxyRaces: string[] = [];
  const outcomes = new Map<string, Outcome>();
  /** Measured duration of an uncrashed 500-record POST, by kind. */
  const writeMs = { new: 0, update: 0 };
  let final: Snapshot | undefined;

  const context = () => `wrangler dev output:\n${lastLines(worker)}\n${subscribers.map((s) => `receiver ${s.name}:\n${lastLines(s.receiver, 10)}`).join('\n')}`;

  /**
   * After wrangler's dev-proxy race: counts and prints it, kills what is left
   * of the server (it exits by itself, but not at once) and restarts it on
   * the same state, as after any crash.
   */
  async function restartAfterProxyRace(event: string): Promise<void> {
    proxyRaces.push(event);
    console.log(`wrangler dev proxy race #${proxyRaces.length} (workers-sdk #14926): ${event}; restarting on the same state`);
    await crash(worker!);
    worker = await startWranglerDev(persistTo, TOKEN);
  }

  /**
   * Calls the running Worker (with the admin token when `admin`); JSON is
   * sent and parsed; 5xx answers are noted in `serverErrors`. The proxy race
   * (a 500 with PROXY_RACE_MESSAGE while wrangler reports the ProxyWorker's
   * error, or no answer from a wrangler that exited of it) restarts the
   * server and sends the request again, up to 3 times.
   */
  async function http(method: string, path: string, body?: unknown, admin = false): Promise<{ status: number; body: any }> {
    let response: Response;
    let text: string;
    for (let attempt = 1; ; attempt++) {
      try {
        response = await fetch(`${worker!.base}${path}`, {
          method,
          headers: { ...(admin || body !== undefined ? { authorization: `Bearer ${TOKEN}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        text = await response.text();
      } catch (error) {
        if (!exitedOfProxyRace(worker!) || attempt > 3) throw error;
        await restartAfterProxyRace(`${method} ${path}: no answer (${error instanceof Error ? error.message : String(error)}), wrangler exited with "Error inside ProxyWorker: ${PROXY_RACE_MESSAGE}"`);
        continue;
      }
      if (response.status === 500 && text.includes(PROXY_RACE_MESSAGE) && attempt <= 3 && (await reportsProxyRace(worker!))) {
        await restartAfterProxyRace(`${method} ${path}: 500 ${text.slice(0, 100)}`);
        continue;
      }
      break;
    }
    if (response.status >= 500 && !(response.status === 503 && response.headers.has('retry-after'))) serverErrors.push(`${method} ${path} -> ${response.status} ${text.slice(0, 300)}`);
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: kept as text
    }
    return { status: response.status, body: parsed };
  }

  /** GETs `path`, waiting out 503 answers (with Retry-After) for up to 10 s. */
  async function read(path: string): Promise<{ status: number; body: any }> {
    for (let attempt = 0; ; attempt++) {
      const answer = await http('GET', path);
      if (answer.status !== 503 || attempt === 20) return answer;
      await sleep(500);
    }
  }

  /** Posts a batch; the duration of the answer in ms. */
  async function timedPost(batch: EventInput[]): Promise<number> {
    const started = performance.now();
    const answer = await http('POST', '/events', batch);
    expect(answer.status, JSON.stringify(answer.body).slice(0, 500)).toBeOneOf([200, 201]);
    return performance.now() - started;
  }

  /** `/admin/status`, or null while the server has no such endpoint (404). */
  async function adminStatus(): Promise<any | null> {
    const status = await http('GET', '/admin/status', undefined, true);
    if (status.status === 404) return null;
    expect(status.status, JSON.stringify(status.body)).toBe(200);
    return status.body;
  }

  /**
   * Waits until the server has published everything it committed and sent
   * its outbox (when it has `/admin/status`), then until the receivers and
   * `/healthz` have stayed unchanged for QUIET_MS.
   */
  async function settle(what: string): Promise<void> {
    if (await adminStatus()) {
      await waitFor(`publishing up to date and an empty outbox ${what}`, async () => {
        const status = await adminStatus();
        return status.publish.up_to_date === true && (status.outbox.fanout ?? 0) === 0 && status.outbox.pending === 0 ? true : undefined;
      }, context, 60_000);
    }
    let last = '';
    let since = Date.now();
    await waitFor(`the receivers and /healthz to stay unchanged for ${QUIET_MS / 1000} s ${what}`, async () => {
      const health = await http('GET', '/healthz');
      const state = `${subscribers.map((s) => s.receiver.lines.length).join('/')} ${JSON.stringify(health.body)}`;
      if (state !== last) [last, since] = [state, Date.now()];
      return Date.now() - since >= QUIET_MS ? true : undefined;
    }, context, 120_000);
  }

  /** Restarts `wrangler dev` on the persisted state if it exited of the proxy race; any other unplanned exit fails the test. */
  async function ensureRunning(): Promise<void> {
    if (!hasExited(worker!.child)) return;
    if (!exitedOfProxyRace(worker!)) throw new Error(`wrangler dev exited unplanned (${worker!.child.exitCode ?? worker!.child.signalCode})\n${context()}`);
    await restartAfterProxyRace('wrangler exited between requests');
  }

  /** Posts a batch and kills the server at `kill`; what the client saw. */
  async function postAndCrash(batch: EventInput[], kill: KillPoint, kind: Scenario['kind']): Promise<Omit<Outcome, 'retryStatus'>> {
    const started = performance.now();
    const answer = fetch(`${worker!.base}/events`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(batch) })
      .then(async (response) => ({ status: response.status, body: (await response.json()) as unknown }))
      .catch(() => null);
    if (kill === 'answer') await answer;
    else await sleep(Math.round(writeMs[kind] * kill));
    const killedAtMs = Math.round(performance.now() - started);
    await crash(worker!);
    const seen = await answer;
    return { killedAtMs, answered: seen !== null && seen.status >= 200 && seen.status < 300 };
  }

  /** Posts a batch as a client that retries: network errors and 5xx are retried every second, for up to 10 attempts. */
  async function postWithRetry(batch: EventInput[]): Promise<{ status: number; body: any }> {
    for (let attempt = 1; ; attempt++) {
      const answer = await http('POST', '/events', batch).catch(() => null);
      if (answer && answer.status < 500) return answer;
      if (attempt === 10) return answer ?? { status: 0, body: 'no answer' };
      await sleep(1_000);
    }
  }

  /**
   * Reads the whole index, unfiltered and filtered by `q=flagged` and
   * `q=corrected`, then `/events/:id` for each id of `ids` that the index
   * does not list and for every tenth id it lists (reading all of them takes
   * a minute on a busy machine); the others are taken as `/events` lists them.
   * `scope` narrows the index to the records of a date range (`&since=…&until=…`).
   */
  async function snapshot(ids: readonly string[], scope = ''): Promise<Snapshot> {
    const listingErrors: string[] = [];
    const listAll = async (query: string): Promise<Event[]> => {
      const found: Event[] = [];
      let cursor: string | null = null;
      for (let page = 0; page === 0 || cursor; page++) {
        expect(page, `/events?${query} pages`).toBeLessThan(200);
        const answer = await read(`/events?limit=500${scope}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        if (answer.status !== 200) {
          listingErrors.push(`/events?limit=500${scope}${query} page ${page + 1} -> ${answer.status}`);
          break;
        }
        found.push(...(answer.body.data as Event[]));
        cursor = answer.body.next_cursor;
      }
      return found;
    };
    const listed = new Map<string, number>();
    const records = new Map<string, Event>();
    for (const event of await listAll('')) {
      listed.set(event.id, (listed.get(event.id) ?? 0) + 1);
      records.set(event.id, event);
    }
    const unreadable = new Map<string, number>();
    const inconsistent = new Set<string>();
    await forEachLimit(
      ids.filter((id, n) => !listed.has(id) || n % 10 === 0),
      READ_CONCURRENCY,
      async (id) => {
        const answer = await read(`/events/${id}`);
        if (answer.status !== 200 && answer.status !== 404) unreadable.set(id, answer.status);
        if (listed.has(id) && (answer.status !== 200 || !isDeepStrictEqual(answer.body, records.get(id)))) inconsistent.add(id);
        if (answer.status === 200) records.set(id, answer.body as Event);
      },
    );
    const idsOf = (events: Event[]) => new Set(events.map((event) => event.id));
    return { records, unreadable, inconsistent, listingErrors, listed, flagged: idsOf(await listAll(`&q=${FLAG}`)), corrected: idsOf(await listAll(`&q=${EDIT}`)) };
  }

  /** The alerts the receivers accepted, by record id, then by `<subscriber>|<record id>#<revision>`. */
  function receivedAlerts(): Map<string, Map<string, ReceivedAlerts>> {
    const byRecord = new Map<string, Map<string, ReceivedAlerts>>();
    for (const subscriber of subscribers) {
      for (const delivery of accepted(subscriber.receiver)) {
        const match = /^(\S+) \(revision (\d+)\): (.*)$/.exec(delivery.detail);
        if (!match) continue;
        const [, id, revision, title] = match as unknown as [string, string, string, string];
        const alerts = byRecord.get(id) ?? new Map<string, ReceivedAlerts>();
        byRecord.set(id, alerts);
        const key = `${subscriber.name}|${id}#${revision}`;
        const entry = alerts.get(key) ?? { msgIds: new Set<string>(), contents: [] };
        alerts.set(key, entry);
        entry.msgIds.add(delivery.msgId);
        entry.contents.push(`${delivery.type} ${title}`);
      }
    }
    return byRecord;
  }

  /** The alerts a served record at `revision` must have had: `<subscriber>|<id>#<revision>` -> `<type> <title>`. */
  function expectedAlerts(record: Tracked, revision: number): Map<string, string> {
    const expected = new Map<string, string>();
    for (let r = record.alertedFrom; r <= revision; r++) {
      const version = record.versions[r - 1]!;
      const previous = record.versions[r - 2];
      for (const subscriber of subscribers) {
        if (!subscriber.wants(version) && !(previous && subscriber.wants(previous))) continue;
        expected.set(`${subscriber.name}|${record.id}#${r}`, `${r === 1 ? 'event.created' : 'event.updated'} ${version.title}`);
      }
    }
    return expected;
  }

  /** Judges tracked records against what is served, indexed and alerted. */
  function audit(tracked: readonly Tracked[], state: Snapshot): Audit {
    const result: Audit = { revisions: {}, listingErrors: state.listingErrors, unreadable: [], inconsistent: [], missing: [], wrongContent: [], notIndexed: [], indexedMoreThanOnce: [], staleIndex: [], missingAlerts: [], duplicateAlerts: [], wrongAlerts: [], unexpectedAlerts: [] };
    const received = receivedAlerts();
    for (const record of tracked) {
      const served = state.records.get(record.id);
      const revision = served?.revision ?? 0;
      result.revisions[revision] = (result.revisions[revision] ?? 0) + 1;
      if (state.unreadable.has(record.id)) result.unreadable.push(`${record.id}: ${state.unreadable.get(record.id)}`);
      if (state.inconsistent.has(record.id)) result.inconsistent.push(record.id);
      if (revision < record.required) result.missing.push(record.id);
      const version = record.versions[revision - 1];
      if (served && (!version || !isDeepStrictEqual(contentOf(served), version))) result.wrongContent.push(`${record.id}@${revision}`);
      const listed = state.listed.get(record.id) ?? 0;
      if (served && listed === 0) result.notIndexed.push(record.id);
      if (listed > 1) result.indexedMoreThanOnce.push(record.id);
      if (served && listed > 0 && (state.flagged.has(record.id) !== served.title.includes(FLAG) || state.corrected.has(record.id) !== served.title.includes(EDIT))) result.staleIndex.push(record.id);

      if (state.unreadable.has(record.id)) continue; // whether it is served is unknown, so are the alerts it needs
      const expected = expectedAlerts(record, revision);
      const got = received.get(record.id) ?? new Map<string, ReceivedAlerts>();
      for (const [key, content] of expected) {
        const alerts = got.get(key);
        if (!alerts) result.missingAlerts.push(key);
        else {
          if (alerts.msgIds.size > 1) result.duplicateAlerts.push(key);
          if (alerts.contents.some((seen) => seen !== content)) result.wrongAlerts.push(`${key}: ${alerts.contents.join(' / ')}`);
        }
      }
      for (const key of got.keys()) if (!expected.has(key)) result.unexpectedAlerts.push(key);
    }
    return result;
  }

  /** Waits until none of the alerts the served records need is missing, for up to `timeoutMs`; never throws. */
  async function awaitAlerts(tracked: readonly Tracked[], state: Snapshot, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (audit(tracked, state).missingAlerts.length > 0 && Date.now() < deadline) await sleep(250);
  }

  /** The records of a scenario with the revision each must be served at least, from what the client was told. */
  function trackedOf(scenario: Scenario): Tracked[] {
    const outcome = outcomes.get(scenario.name);
    const retryStatus = outcome?.retryStatus ?? 0;
    const acknowledged = scenario.kill === null || outcome?.answered === true || (retryStatus >= 200 && retryStatus < 300);
    return Array.from({ length: BATCH }, (_, index) => {
      const versions = versionsOf(scenario, index);
      // The originals edited by the crashed updates were written before the subscriptions (beforeAll).
      return { id: versions[0]!.id, versions, required: acknowledged ? versions.length : versions.length - 1, alertedFrom: scenario.kind === 'update' && scenario.kill !== null ? 2 : 1 };
    });
  }

  const batchOf = (scenario: Scenario, version: number) => Array.from({ length: BATCH }, (_, index) => versionsOf(scenario, index)[version]!);

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'strikewire-crash-'));
    persistTo = join(tmp, 'state');
    worker = await startWranglerDev(persistTo, TOKEN);
    // The records the crashed updates edit, written before anyone subscribes: only their edits are alerted.
    for (const scenario of SCENARIOS.filter((s) => s.kind === 'update' && s.kill !== null)) await timedPost(batchOf(scenario, 0));
    for (const [name, filters] of [['all', {}], [FLAG, { q: FLAG }]] as const) {
      const port = (await freePorts(1))[0]!;
      const created = await http('POST', '/subscriptions', { url: `http://127.0.0.1:${port}/`, filters, description: `crash test: ${name}` });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const receiver = await startReceiver(created.body.secret, port);
      subscribers.push({ name, receiver, wants: name === 'all' ? () => true : (version) => version.title.includes(FLAG) });
    }
    // The uncrashed control times a 500-record write of new records, then one of edits, both alerted to the subscribers.
    const control = SCENARIOS[0]!;
    writeMs.new = await timedPost(batchOf(control, 0));
    writeMs.update = await timedPost(batchOf(control, 1));
    console.log(`uncrashed 500-record POST: new records ${Math.round(writeMs.new)} ms, edits ${Math.round(writeMs.update)} ms`);
    await settle('after the control');
  }, 180_000);

  afterAll(async () => {
    await Promise.all([stop(worker), ...subscribers.map((subscriber) => stop(subscriber.receiver))]);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  for (const scenario of SCENARIOS.filter((s) => s.kill !== null)) {
    it(`${scenario.name}: kill -9 during a 500-record POST of ${scenario.kind === 'new' ? 'new records' : 'edits'}, restart${scenario.retry ? ', retry the POST' : ''}`, async () => {
      await ensureRunning();
      const batch = batchOf(scenario, scenario.kind === 'new' ? 0 : 1);
      const crashed = await postAndCrash(batch, scenario.kill!, scenario.kind);
      const outcome: Outcome = { ...crashed, retryStatus: null };
      outcomes.set(scenario.name, outcome);
      worker = await startWranglerDev(persistTo, TOKEN);
      if (scenario.retry) {
        const retried = await postWithRetry(batch);
        outcome.retryStatus = retried.status;
        expect.soft(retried.status, JSON.stringify(retried.body).slice(0, 500)).toBeOneOf([200, 201]);
        const revisions = new Set((retried.body?.results ?? []).map((result: { revision: number }) => result.revision));
        expect.soft(retried.body?.results, 'the retry answers every record').toHaveLength(BATCH);
        expect.soft([...revisions], 'revisions in the answer to the retry').toEqual([scenario.kind === 'new' ? 1 : 2]);
      }
      console.log(`${scenario.name}: killed ${outcome.killedAtMs} ms after sending (${outcome.answered ? 'after' : 'before'} the answer)${scenario.retry ? `, retry answered ${outcome.retryStatus}` : ''}`);
      await settle(`after ${scenario.name}`);
    }, 180_000);
  }

  it('settles: everything published, every alert expected of the served records delivered', async () => {
    await ensureRunning();
    await settle('before the final reads');
    const tracked = SCENARIOS.flatMap(trackedOf);
    const ids = tracked.map((record) => record.id);
    const started = Date.now();
    final = await snapshot(ids);
    const missing = audit(tracked, final).missingAlerts.length;
    console.log(`final reads: ${ids.length} records and the index in ${((Date.now() - started) / 1000).toFixed(1)} s; ${missing} alerts missing`);
    if (missing === 0) return;
    // Give a late recovery (an alarm, a redelivery) its chance, then read everything again.
    await awaitAlerts(tracked, final, ALERT_DEADLINE_MS);
    await settle('before reading everything again');
    final = await snapshot(ids);
    console.log(`after waiting up to ${ALERT_DEADLINE_MS / 1000} s: ${audit(tracked, final).missingAlerts.length} alerts missing`);
  }, 300_000);

  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: every acknowledged record served at its latest version, indexed once, every revision alerted once per subscriber`, () => {
      expect(final, 'the final reads were not taken').toBeDefined();
      const summary = summarize(audit(trackedOf(scenario), final!));
      console.log(`${scenario.name} (${JSON.stringify(outcomes.get(scenario.name) ?? 'not crashed')}): ${JSON.stringify(summary)}`);
      expect(summary).toEqual(clean(summary));
    });
  }

  it('reports in /admin/status exactly the records it serves, published and with an empty outbox', async () => {
    expect(final, 'the final reads were not taken').toBeDefined();
    const status = await adminStatus();
    expect(status, 'GET /admin/status').not.toBeNull();
    expect(status.publish).toMatchObject({ up_to_date: true, pending_records: 0, pending_chunks: 0 });
    expect(status.outbox.pending).toBe(0);
    expect(status.dataset.records).toBe(final!.records.size);
    expect(status.dataset.records).toBe(final!.listed.size);
  });

  it('quarantines values under event: that are not JSON or fail the schema; the cron adopts a valid one put with them; reads and writes go on', async () => {
    await ensureRunning();
    const date = '1999-12-01';
    const scope = `&since=${date}&until=${date}`;
    const original = makeEventInput('crash-bad-json', date, { title: `Crash bad JSON ${FLAG}` });
    const edited = { ...original, title: `Crash bad JSON ${EDIT} ${FLAG}` };
    const neverValid = 'crash-bad-json-new';
    const laterValid = makeEventInput('crash-bad-schema', date, { title: 'Crash bad schema, later posted valid' });
    const bystander = makeEventInput('crash-after-quarantine', date);
    const adopted: Event = { ...makeEvent('crash-bulk-put-valid', date, { title: `Crash bulk put valid ${FLAG}` }), created_at: '1999-12-02T00:00:00.000Z', updated_at: '1999-12-02T00:00:00.000Z' };
    const tracked: Tracked[] = [
      { id: original.id, versions: [original, edited], required: 2, alertedFrom: 1 },
      { id: neverValid, versions: [], required: 0, alertedFrom: 1 },
      { id: laterValid.id, versions: [laterValid], required: 1, alertedFrom: 1 },
      { id: bystander.id, versions: [bystander], required: 1, alertedFrom: 1 },
      { id: adopted.id, versions: [contentOf(adopted)], required: 1, alertedFrom: 1 },
    ];
    /** Whether `/events/:id` serves `content`, and the index for `date` lists the record; undefined when not (yet). */
    const servedAndListed = async (id: string, content: EventInput) => {
      const answer = await read(`/events/${id}`);
      const listed = await read(`/events?limit=500${scope}`);
      return answer.status === 200 && isDeepStrictEqual(contentOf(answer.body), content) && listed.body?.data?.some((event: Event) => event.id === id) ? true : undefined;
    };
    const cron = async (when: string) => expect.soft((await http('GET', '/cdn-cgi/local/scheduled')).status, `cron run ${when}`).toBe(200);

    expect((await http('POST', '/events', original)).status).toBe(201);
    await waitFor(`${original.id} to be served`, () => servedAndListed(original.id, original), context);
    // Not JSON under a served record's key and under a new key, and JSON failing the schema (latitude 123) under a new key.
    const badKeys = [eventKey(original.id), eventKey(neverValid), eventKey(laterValid.id)];
    await bulkPutKv(persistTo, tmp, [
      { key: badKeys[0]!, value: `{"id": "${original.id}", "title": "not JSON` },
      { key: badKeys[1]!, value: `{"id": "${neverValid}", "title": "not JSON` },
      { key: badKeys[2]!, value: JSON.stringify({ ...makeEvent(laterValid.id, date), location: { ...makeEvent(laterValid.id, date).location, lat: 123 } }) },
      { key: eventKey(adopted.id), value: JSON.stringify(adopted) },
    ]);

    await cron('after the bulk put');
    const adoptedVisible = await waitFor(`${adopted.id} to be served and indexed`, () => servedAndListed(adopted.id, contentOf(adopted)), context, 10_000).catch(() => false);
    expect.soft(adoptedVisible, 'the valid record put with the bad ones is served and indexed after one cron run').toBe(true);
    await cron('again');

    const badJson = await http('GET', `/events/${original.id}`);
    expect.soft(badJson.status, `GET /events/${original.id} after its value became non-JSON`).toBeOneOf([200, 404]);
    if (badJson.status === 200) expect.soft(badJson.body, 'the previous valid version, never the bad value').toMatchObject({ ...original, revision: 1 });
    for (const id of [neverValid, laterValid.id]) {
      const neverServed = await http('GET', `/events/${id}`);
      expect.soft(neverServed.status, `GET /events/${id}, only ever put invalid: ${JSON.stringify(neverServed.body).slice(0, 200)}`).toBe(404);
    }
    for (const path of [`/events?limit=50${scope}`, '/events?limit=50', `/events/${versionsOf(SCENARIOS[0]!, 0)[0]!.id}`, '/stats', '/feed.json', '/events.csv']) {
      expect.soft((await http('GET', path)).status, `GET ${path}`).toBe(200);
    }

    const quarantine = await http('GET', '/admin/quarantine', undefined, true);
    expect.soft(quarantine.status, 'GET /admin/quarantine').toBe(200);
    const listedBad = ((quarantine.body?.data ?? []) as { key: string }[]).map((entry) => entry.key).filter((key) => badKeys.includes(key));
    expect.soft(listedBad.sort(), 'each bad value listed once after two cron runs').toEqual([...badKeys].sort());

    const posted = await http('POST', '/events', [edited, laterValid, bystander]);
    expect.soft(posted.status, JSON.stringify(posted.body).slice(0, 300)).toBe(201);
    expect.soft(posted.body?.results?.map((result: { id: string; change: string; revision: number }) => `${result.id} ${result.change} ${result.revision}`)).toEqual([
      `${edited.id} updated 2`,
      `${laterValid.id} created 1`,
      `${bystander.id} created 1`,
    ]);
    for (const [id, content] of [[edited.id, edited], [laterValid.id, laterValid]] as const) {
      const visible = await waitFor(`${id} to be served as posted`, () => servedAndListed(id, content), context, 10_000).catch(() => false);
      expect.soft(visible, `${id} served and indexed as posted after the quarantine`).toBe(true);
    }
    await cron('after the POST');

    await settle('after the quarantine checks');
    const state = await snapshot(tracked.map((record) => record.id), scope);
    await awaitAlerts(tracked, state, 10_000);
    const summary = summarize(audit(tracked, state));
    console.log(`quarantine: ${JSON.stringify(summary)}`);
    expect.soft(summary).toEqual({ ...clean(summary), revisions: { 0: 1, 1: 3, 2: 1 } });
  }, 180_000);

  it('answered no request with a 5xx other than 503 with Retry-After', () => {
    console.log(`wrangler dev proxy races (workers-sdk #14926, taken as crashes): ${proxyRaces.length}${proxyRaces.length ? `: ${proxyRaces.join('; ')}` : ''}`);
    expect(serverErrors.slice(0, 20), `${serverErrors.length} server errors`).toEqual([]);
  });
});
