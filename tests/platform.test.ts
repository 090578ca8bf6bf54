/**
 * The platform scenario of issue 7: the Worker under the rules of production
 * KV (tests/platform/simulated-kv.ts: stale copies per location for
 * STALE_MS, 429 on a second write of a key within a second, six connections),
 * with 200 concurrent single-record ingests (new records, concurrent updates
 * of one id, chains of updates) on top of a published baseline, readers in two
 * locations calling the app with their own stale view of KV, and webhook
 * subscribers (filtered and not) verifying every delivery.
 *
 * The scenario runs once (beforeAll) and records what clients, readers and
 * receivers saw; each check of the issue is then its own test:
 * (a) no 5xx but 503 with Retry-After; (b) every record listed with its latest
 * content in both locations once caches expire; (c) revisions strictly
 * increasing and never reused for different content; (d) exactly one alert
 * per (record revision, matching subscriber); (e) no ETag served with two
 * bodies; (f) the writer never asked for more than six KV operations at once
 * and no write was lost to a 429.
 *
 * POST answers on commit and reads see a change after publishing, so the
 * test waits for publishing by `GET /admin/status` (publish.up_to_date) when
 * that endpoint exists, else by reading KV directly, then for the locations'
 * copies to expire.
 */
import { createExecutionContext, runDurableObjectAlarm } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { app } from '../functions/app.ts';
import type { Event } from '../functions/domain/schema.ts';
import { call, dayFrom2000, makeEvent } from './helpers.ts';
import { simulation } from './platform/simulated-kv.ts';

/** How long a location serves its copy of a key read with the default cache time (60 s on the platform). */
const STALE_MS = 2000;
/** Most time a client keeps retrying one write that answers 5xx. */
const CLIENT_PATIENCE_MS = 6000;
/** Most time to wait for publishing, then for both locations to show every record. */
const PUBLISH_TIMEOUT_MS = 8000;
const CONVERGE_TIMEOUT_MS = 2 * STALE_MS + 2000;
/** Most time to wait for webhook deliveries once everything is published, and to wait when none arrives. */
const DELIVERY_TIMEOUT_MS = 30_000;
const DELIVERY_STALL_MS = 3000;

const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };
const RANGE = 'since=2011-01-01&until=2012-12-31';
const LOCATIONS = ['A', 'B'] as const;
const READERS_PER_LOCATION = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pad = (n: number) => String(n).padStart(3, '0');

// ---------------------------------------------------------------------------
// The records: each id keeps its date, type and country in every version (an
// update changes the title and summary only), so which subscribers a version
// concerns is known from the id alone.

interface Shape {
  id: string;
  date: string;
  type: 'attack' | 'strike';
  country: 'IQ' | 'SY';
}

const SYRIA = { name: 'Deir ez-Zor', country: 'SY', lat: 35.33, lon: 40.14, precision: 'city' } as const;

const baseShape = (i: number): Shape => ({ id: `plat-base-${pad(i)}`, date: dayFrom2000(4018 + i), type: i % 4 === 0 ? 'strike' : 'attack', country: i % 3 === 0 ? 'SY' : 'IQ' });
const newShape = (i: number): Shape => ({ id: `plat-new-${pad(i)}`, date: dayFrom2000(4383 + 3 * i), type: i % 4 === 1 ? 'strike' : 'attack', country: i % 3 === 1 ? 'SY' : 'IQ' });

const BASELINE = Array.from({ length: 300 }, (_, i) => baseShape(i));
const NEW = Array.from({ length: 100 }, (_, i) => newShape(i));
const SHAPES = new Map([...BASELINE, ...NEW].map((shape) => [shape.id, shape]));

function version(shape: Shape, title: string): Event {
  const record = makeEvent(shape.id, shape.date, { type: shape.type, title, summary: `${title}: a synthetic record of the platform scenario.` });
  return shape.country === 'SY' ? { ...record, location: { ...SYRIA } } : record;
}

// ---------------------------------------------------------------------------
// Subscribers, with the oracle of which (record, revision) each must hear of.

interface Subscriber {
  name: string;
  url: string;
  body: Record<string, unknown>;
  concerns(shape: Shape, revision: number): boolean;
}

const SUBSCRIBERS: Subscriber[] = [
  { name: 'all', url: 'https://hooks.example.com/platform-all', body: {}, concerns: () => true },
  { name: 'syria', url: 'https://hooks.example.com/platform-syria', body: { filters: { country: 'SY' } }, concerns: (shape) => shape.country === 'SY' },
  {
    name: 'strikes-2012',
    url: 'https://hooks.example.com/platform-strikes-2012',
    body: { filters: { type: 'strike', since: '2012-01-01' } },
    concerns: (shape) => shape.type === 'strike' && shape.date >= '2012-01-01',
  },
  { name: 'updates-only', url: 'https://hooks.example.com/platform-updates', body: { event_types: ['event.updated'] }, concerns: (_shape, revision) => revision > 1 },
];

interface Delivery {
  subscriber: string;
  webhookId: string;
  type: string;
  data: Event;
}

/** The subscribers' endpoints: verifies each request per Standard Webhooks and keeps it. */
class Receiver {
  readonly deliveries: Delivery[] = [];
  readonly rejected: string[] = [];
  private readonly endpoints = new Map<string, { name: string; secret: string }>();

  register(url: string, name: string, secret: string): void {
    this.endpoints.set(url, { name, secret });
  }

  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const body = await request.text();
    const endpoint = this.endpoints.get(request.url);
    if (!endpoint) return new Response('unknown endpoint', { status: 404 });
    try {
      const payload = new Webhook(endpoint.secret).verify(body, Object.fromEntries(request.headers)) as { type: string; data: Event };
      this.deliveries.push({ subscriber: endpoint.name, webhookId: request.headers.get('webhook-id')!, type: payload.type, data: payload.data });
      return new Response(null, { status: 204 });
    } catch (error) {
      this.rejected.push(String(error));
      return new Response('bad signature', { status: 400 });
    }
  };
}

// ---------------------------------------------------------------------------
// Writers: one client per write, retrying 5xx as a client would.

interface Write {
  shape: Shape;
  title: string;
  /** The previous write of the same chain, acknowledged before this one was sent. */
  after: Write | null;
  statuses: { status: number; retryAfter: string | null }[];
  ack: { change: string; revision: number } | null;
}

const write = (shape: Shape, title: string, after: Write | null = null): Write => ({ shape, title, after, statuses: [], ack: null });

/** 200 single-record writes: 100 new records (15 of them followed by a chain of 2 updates), 20 baseline ids updated twice at once, 10 baseline ids updated by a chain of 3. */
function burst(): { starters: Write[]; followers: Map<Write, Write> } {
  const starters: Write[] = [];
  const followers = new Map<Write, Write>();
  /** Queues steps `from`..`to` of a chain of updates after `first`. */
  const chain = (first: Write, shape: Shape, from: number, to: number) => {
    let previous = first;
    for (let step = from; step <= to; step++) {
      const next = write(shape, `Chain ${shape.id} step ${step}`, previous);
      followers.set(previous, next);
      previous = next;
    }
  };
  NEW.forEach((shape, i) => {
    const created = write(shape, `Created ${shape.id}`);
    starters.push(created);
    if (i < 15) chain(created, shape, 1, 2);
  });
  for (const shape of BASELINE.slice(0, 20)) starters.push(write(shape, `Concurrent ${shape.id} a`), write(shape, `Concurrent ${shape.id} b`));
  for (const shape of BASELINE.slice(20, 30)) {
    const first = write(shape, `Chain ${shape.id} step 1`);
    starters.push(first);
    chain(first, shape, 2, 3);
  }
  // A fixed shuffle, so that creates, concurrent updates and chains interleave.
  let seed = 7;
  for (let i = starters.length - 1; i > 0; i--) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = seed % (i + 1);
    [starters[i], starters[j]] = [starters[j]!, starters[i]!];
  }
  return { starters, followers };
}

async function send(item: Write): Promise<void> {
  const giveUpAt = Date.now() + CLIENT_PATIENCE_MS;
  for (let attempt = 0; ; attempt++) {
    const response = await call('/events', { method: 'POST', headers: ADMIN, body: JSON.stringify(version(item.shape, item.title)) });
    const retryAfter = response.headers.get('retry-after');
    item.statuses.push({ status: response.status, retryAfter });
    if (response.ok) {
      const body = (await response.json()) as { results: { change: string; revision: number }[] };
      item.ack = { change: body.results[0]!.change, revision: body.results[0]!.revision };
      return;
    }
    await response.body?.cancel();
    if (response.status < 500 || Date.now() > giveUpAt) return;
    const seconds = response.status === 503 && retryAfter ? Number(retryAfter) : NaN;
    await sleep(Number.isFinite(seconds) ? Math.min(seconds * 1000, 1000) : Math.min(100 * 2 ** attempt, 1000));
  }
}

// ---------------------------------------------------------------------------
// Readers: the app called with a location's view of KV, one view per request.

interface Observations {
  /** Every 5xx (and anything thrown), where and how. */
  failures: { where: string; status: number; retryAfter: string | null }[];
  /** `<path?query> <ETag>` → the bodies served with it (SHA-256). */
  etags: Map<string, Set<string>>;
  /** `<id>@<revision>` → the canonical JSON of every version seen with that revision (reads and deliveries). */
  versions: Map<string, Set<string>>;
  reads: number;
}

const observations: Observations = { failures: [], etags: new Map(), versions: new Map(), reads: 0 };

const addTo = <K, V>(map: Map<K, Set<V>>, key: K, value: V) => {
  const set = map.get(key) ?? new Set<V>();
  set.add(value);
  map.set(key, set);
};

/** JSON with object keys sorted, so that one version serialised twice compares equal. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : inner,
  );

const sha256 = async (text: string) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))].map((byte) => byte.toString(16).padStart(2, '0')).join('');

const seeVersion = (record: Event) => addTo(observations.versions, `${record.id}@${record.revision}`, canonical(record));

/** GETs `path` in `location`, records what it saw, and returns the parsed JSON body of a 200 (else null). */
async function readAt(location: string, path: string): Promise<any> {
  observations.reads++;
  let response: Response;
  try {
    response = await app.fetch(new Request(`http://strikewire.test${path}`, { headers: { Accept: 'application/json' } }), { ...env, EVENTS: simulation.location(location) }, createExecutionContext());
  } catch (error) {
    observations.failures.push({ where: `GET ${path} in ${location} threw ${String(error)}`, status: 0, retryAfter: null });
    return null;
  }
  const text = await response.text();
  if (response.status >= 500) observations.failures.push({ where: `GET ${path} in ${location}`, status: response.status, retryAfter: response.headers.get('retry-after') });
  if (response.status !== 200) return null;
  const etag = response.headers.get('etag');
  if (etag) addTo(observations.etags, `${path} ${etag}`, await sha256(text));
  if (!path.startsWith('/events')) return null;
  const body = JSON.parse(text);
  for (const record of (path.startsWith('/events?') ? body.data : [body]) as Event[]) seeVersion(record);
  return body;
}

/** Every id the burst writes. */
const TOUCHED = [...NEW, ...BASELINE.slice(0, 30)].map((shape) => shape.id);
/** The ids written more than once, which readers keep reading one by one. */
const HOT = [...BASELINE.slice(0, 30), ...NEW.slice(0, 15)].map((shape) => shape.id);

/** A reader's n-th request: the whole listing every other time, else a filtered list, a feed or stats, between single reads of the ids written more than once. */
function readPath(n: number): string {
  const whole = `/events?${RANGE}&limit=500`;
  const rotation = [whole, `/events?${RANGE}&country=SY&limit=100`, whole, `/feed.json?${RANGE}&limit=20`, whole, `/stats?${RANGE}`, whole, `/events?${RANGE}&type=strike&limit=50`];
  return n % 2 === 0 ? `/events/${HOT[(n * 7) % HOT.length]}` : rotation[((n - 1) / 2) % rotation.length]!;
}

async function readLoop(location: string, offset: number, stop: { done: boolean }): Promise<void> {
  for (let n = offset; !stop.done; n++) {
    await readAt(location, readPath(n));
    await sleep(10);
  }
}

// ---------------------------------------------------------------------------
// What should be published: the latest acknowledged version of each id.

/** id → the titles of its acknowledged versions with the highest revision (one, unless revisions were reused). */
function expectedLatest(writes: readonly Write[]): Map<string, { revision: number; titles: Set<string> }> {
  const latest = new Map<string, { revision: number; titles: Set<string> }>();
  for (const item of writes) {
    if (!item.ack) continue;
    const known = latest.get(item.shape.id);
    if (!known || item.ack.revision > known.revision) latest.set(item.shape.id, { revision: item.ack.revision, titles: new Set([item.title]) });
    else if (item.ack.revision === known.revision) known.titles.add(item.title);
  }
  return latest;
}

/** Every page of `/events` in the scenario's range, as seen by `read`. */
async function listAll(read: (path: string) => Promise<any>): Promise<Map<string, Event> | null> {
  const found = new Map<string, Event>();
  let cursor: string | null = null;
  do {
    const body = await read(`/events?${RANGE}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (!body) return null;
    for (const record of body.data as Event[]) found.set(record.id, record);
    cursor = body.next_cursor;
  } while (cursor);
  return found;
}

/** What a listing (and single reads) lack against `latest`; empty when it shows every record at its latest version. */
async function publishedGaps(read: (path: string) => Promise<any>, latest: Map<string, { revision: number; titles: Set<string> }>, singles: readonly string[]): Promise<string[]> {
  const listed = await listAll(read);
  if (!listed) return ['the listing did not answer 200'];
  const gaps: string[] = [];
  for (const [id, wanted] of latest) {
    const record = listed.get(id);
    if (!record) gaps.push(`${id}: missing from /events`);
    else if (!wanted.titles.has(record.title)) gaps.push(`${id}: /events shows revision ${record.revision} "${record.title}", not revision ${wanted.revision} "${[...wanted.titles].join('" or "')}"`);
  }
  // Single reads, ten at a time.
  for (let start = 0; start < singles.length; start += 10) {
    await Promise.all(
      singles.slice(start, start + 10).map(async (id) => {
        const wanted = latest.get(id);
        if (!wanted) return;
        const record = (await read(`/events/${id}`)) as Event | null;
        if (!record) gaps.push(`${id}: GET /events/${id} did not answer 200`);
        else if (!wanted.titles.has(record.title)) gaps.push(`${id}: GET /events/${id} shows revision ${record.revision} "${record.title}", not revision ${wanted.revision}`);
      }),
    );
  }
  return gaps;
}

/** What KV itself holds (the app on the unsimulated namespace, no stale copies): what has been published so far. */
async function readPublished(path: string): Promise<any> {
  const response = await app.fetch(new Request(`http://strikewire.test${path}`, { headers: { Accept: 'application/json' } }), env, createExecutionContext());
  return response.status === 200 ? response.json() : (await response.body?.cancel(), null);
}

/** publish.up_to_date from `GET /admin/status`, or null where that endpoint does not exist. */
async function publishUpToDate(): Promise<boolean | null> {
  const response = await call('/admin/status', { headers: ADMIN });
  if (response.status !== 200) {
    await response.body?.cancel();
    return null;
  }
  return ((await response.json()) as { publish?: { up_to_date?: boolean } }).publish?.up_to_date ?? null;
}

/** Polls until `done` or the timeout; whether it got there. */
async function until(done: () => Promise<boolean>, timeoutMs: number, everyMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------
// The scenario.

const baseline = BASELINE.map((shape) => write(shape, `Baseline ${shape.id}`));
const { starters, followers } = burst();
const burstWrites: Write[] = [...starters, ...followers.values()];
const writes: Write[] = [...baseline, ...burstWrites];
const subscriptionFailures: string[] = [];
const timeline: string[] = [];
let receiver: Receiver;
let finalGaps: Record<string, string[]> = {};
/** What KV itself (read directly, no stale copies) lacked at the end: gaps there are not the locations' caches. */
let publishedGapsAtEnd: string[] = [];

async function runScenario(): Promise<void> {
  const started = Date.now();
  const mark = (what: string) => timeline.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${what}`);
  simulation.reset();
  simulation.configure({ staleMs: STALE_MS });
  receiver = new Receiver();
  vi.spyOn(globalThis, 'fetch').mockImplementation(receiver.fetch);

  // The baseline, one batch; then wait until it is published.
  const response = await call('/events', { method: 'POST', headers: ADMIN, body: JSON.stringify(baseline.map((item) => version(item.shape, item.title))) });
  const results = response.ok ? ((await response.json()) as { results: { id: string; change: string; revision: number }[] }).results : (await response.body?.cancel(), []);
  for (const item of baseline) {
    item.statuses.push({ status: response.status, retryAfter: response.headers.get('retry-after') });
    const result = results.find((entry) => entry.id === item.shape.id);
    if (result) item.ack = { change: result.change, revision: result.revision };
  }
  const baselineLatest = expectedLatest(baseline);
  await until(async () => (await publishedGaps(readPublished, baselineLatest, [])).length === 0, PUBLISH_TIMEOUT_MS);
  mark('baseline published');

  for (const subscriber of SUBSCRIBERS) {
    const created = await call('/subscriptions', { method: 'POST', headers: ADMIN, body: JSON.stringify({ url: subscriber.url, ...subscriber.body }) });
    if (created.status !== 201) subscriptionFailures.push(`POST /subscriptions for ${subscriber.name}: ${created.status} ${await created.text()}`);
    else receiver.register(subscriber.url, subscriber.name, ((await created.json()) as { secret: string }).secret);
  }

  // Readers in two locations, all along.
  const stop = { done: false };
  const readers = LOCATIONS.flatMap((location) => Array.from({ length: READERS_PER_LOCATION }, (_, n) => readLoop(location, n * 5, stop)));

  // 200 writes: a new one starts every 10 ms; a chain's next step starts when the previous one is acknowledged.
  const runChain = async (first: Write) => {
    for (let item: Write | undefined = first; item; item = item.ack ? followers.get(item) : undefined) await send(item);
  };
  await Promise.all(starters.map(async (first, i) => (await sleep(10 * i), runChain(first))));
  mark(`${burstWrites.filter((item) => item.statuses.length > 0).length} writes answered, ${burstWrites.filter((item) => item.ack).length} acknowledged`);

  // Publishing done: by the admin status where it exists, else by what KV holds.
  const latest = expectedLatest(writes);
  const published = async () => (await publishUpToDate()) ?? (await publishedGaps(readPublished, latest, [])).length === 0;
  let done = await until(published, PUBLISH_TIMEOUT_MS);
  if (!done) {
    // Fast-forward a recovery alarm the writer scheduled (30 s on the old design), then wait again.
    const ran = await runDurableObjectAlarm(env.COORDINATOR.getByName('main'));
    mark(`not published after ${PUBLISH_TIMEOUT_MS / 1000} s; ran the Coordinator's alarm: ${ran}`);
    done = await until(published, PUBLISH_TIMEOUT_MS / 2);
  }
  mark(done ? 'published' : 'still not published; going on');

  // Once the locations' copies expire, both must show every record at its latest version.
  await sleep(STALE_MS + 100);
  const converged = await until(async () => {
    finalGaps = {};
    for (const location of LOCATIONS) {
      const gaps = await publishedGaps((path) => readAt(location, path), latest, TOUCHED);
      if (gaps.length > 0) finalGaps[location] = gaps;
    }
    return Object.keys(finalGaps).length === 0;
  }, CONVERGE_TIMEOUT_MS, 500);
  publishedGapsAtEnd = await publishedGaps(readPublished, latest, TOUCHED);
  mark(`locations ${converged ? 'converged' : 'did not converge'}; KV itself lacks ${publishedGapsAtEnd.length}`);

  // Deliveries of every expected alert (or until they stop coming), then a moment for duplicates to show.
  const expected = expectedAlerts();
  let delivered = -1;
  let lastDeliveryAt = Date.now();
  await until(async () => {
    if (receiver.deliveries.length !== delivered) [delivered, lastDeliveryAt] = [receiver.deliveries.length, Date.now()];
    const all = expected.every(({ subscriber, id, revision }) => receiver.deliveries.some((d) => d.subscriber === subscriber && d.data.id === id && d.data.revision === revision));
    return all || Date.now() - lastDeliveryAt > DELIVERY_STALL_MS;
  }, DELIVERY_TIMEOUT_MS);
  await sleep(500);
  mark(`${receiver.deliveries.length} deliveries received`);

  stop.done = true;
  await Promise.all(readers);
  for (const delivery of receiver.deliveries) seeVersion(delivery.data);
  mark(`${observations.reads} reads in ${LOCATIONS.join(' and ')}`);
}

/** The alerts the acknowledged writes call for: one per (subscriber, id, revision) with that version's title. */
function expectedAlerts(): { subscriber: string; id: string; revision: number; title: string }[] {
  return burstWrites.flatMap((item) =>
    item.ack
      ? SUBSCRIBERS.filter((subscriber) => subscriber.concerns(item.shape, item.ack!.revision)).map((subscriber) => ({ subscriber: subscriber.name, id: item.shape.id, revision: item.ack!.revision, title: item.title }))
      : [],
  );
}

/** At most `n` examples, and how many more. */
const examples = (items: readonly string[], n = 6) => (items.length <= n ? items.join('; ') : `${items.slice(0, n).join('; ')}; … and ${items.length - n} more`);

describe('the platform scenario: 200 concurrent ingests, readers in two stale locations, webhook subscribers', () => {
  beforeAll(runScenario, 120_000);
  afterAll(() => {
    vi.restoreAllMocks();
    simulation.reset();
    console.log(`platform scenario timeline:\n  ${timeline.join('\n  ')}`);
  });

  it('(a) answers no 5xx other than 503 with Retry-After', () => {
    const posts = writes.flatMap((item) => item.statuses.map((status) => ({ where: `POST /events ${item.shape.id}`, ...status })));
    const bad = [...posts.filter((status) => status.status >= 500), ...observations.failures].filter((failure) => !(failure.status === 503 && failure.retryAfter));
    const byStatus = new Map<number, number>();
    for (const failure of bad) byStatus.set(failure.status, (byStatus.get(failure.status) ?? 0) + 1);
    const unacknowledged = writes.filter((item) => !item.ack).length;
    const unsent = writes.filter((item) => item.statuses.length === 0).length;
    const badPosts = bad.filter((failure) => failure.where.startsWith('POST')).length;
    expect(
      bad.length + subscriptionFailures.length,
      `${bad.length} forbidden 5xx (${[...byStatus].map(([status, n]) => `${n}× ${status === 0 ? 'thrown' : status}`).join(', ')}): ${badPosts} of ${posts.length} POST attempts, ` +
        `${bad.length - badPosts} of ${observations.reads} reads; ${unacknowledged} of ${writes.length} writes never acknowledged (${unsent} not sent, the previous step of their chain having failed); ${subscriptionFailures.length} subscriptions refused. ` +
        `Examples: ${examples([...bad.map((failure) => `${failure.status} ${failure.where}`), ...subscriptionFailures])}`,
    ).toBe(0);
  });

  it('(b) lists every record at its latest version in both locations once caches expire', () => {
    const gaps = Object.entries(finalGaps).flatMap(([location, list]) => list.map((gap) => `${location}: ${gap}`));
    const missing = gaps.filter((gap) => gap.includes('missing from /events')).length;
    expect(
      gaps.length,
      `${gaps.length} gaps ${CONVERGE_TIMEOUT_MS} ms after caches could expire (${missing} records missing from /events, ${gaps.length - missing} stale or unreadable), ` +
        `per location: ${LOCATIONS.map((location) => `${location} ${finalGaps[location]?.length ?? 0}`).join(', ')}; read directly, KV itself has ${publishedGapsAtEnd.length} gaps` +
        `${publishedGapsAtEnd.length > 0 ? ` (${examples(publishedGapsAtEnd, 3)})` : ''}. Examples: ${examples(gaps)}`,
    ).toBe(0);
  });

  it('(c) gives each record strictly increasing revisions, never one revision to two contents', () => {
    const problems: string[] = [];
    // Acknowledged writes: one revision, one title.
    const titlesByRevision = new Map<string, Set<string>>();
    for (const item of writes) if (item.ack) addTo(titlesByRevision, `${item.shape.id}@${item.ack.revision}`, item.title);
    const reusedByWriters = [...titlesByRevision].filter(([, titles]) => titles.size > 1);
    for (const [key, titles] of reusedByWriters) problems.push(`${key} acknowledged for ${titles.size} different contents`);
    // A chain's next write came after the previous one's acknowledgement: its revision must be higher.
    const backwards = writes.filter((item) => item.ack && item.after?.ack && item.ack.revision <= item.after.ack.revision);
    for (const item of backwards) problems.push(`${item.shape.id}: "${item.title}" got revision ${item.ack!.revision} after "${item.after!.title}" got ${item.after!.ack!.revision}`);
    // Everything readers and receivers saw: one revision, one version.
    const reusedSeen = [...observations.versions].filter(([, bodies]) => bodies.size > 1);
    for (const [key, bodies] of reusedSeen) problems.push(`${key} seen with ${bodies.size} different bodies (${[...bodies].map((body) => JSON.parse(body).title).join(' | ')})`);
    const contradicted = [...observations.versions].filter(([key, bodies]) => {
      const titles = titlesByRevision.get(key);
      return titles && [...bodies].some((body) => !titles.has(JSON.parse(body).title));
    });
    for (const [key] of contradicted) problems.push(`${key} seen with content other than the write acknowledged with it`);
    expect(
      problems.length,
      `${reusedByWriters.length} revisions acknowledged for two contents, ${backwards.length} of ${writes.filter((item) => item.after).length} chained updates not above the previous revision, ` +
        `${reusedSeen.length} (id, revision) pairs served with two bodies, ${contradicted.length} served with content other than the acknowledged write. Examples: ${examples(problems)}`,
    ).toBe(0);
  });

  it('(d) sends exactly one alert per (record revision, matching subscriber), every update included', () => {
    const key = (subscriber: string, id: string, revision: number) => `${subscriber} ${id}@${revision}`;
    const received = new Map<string, Delivery[]>();
    for (const delivery of receiver.deliveries) {
      const at = key(delivery.subscriber, delivery.data.id, delivery.data.revision);
      received.set(at, [...(received.get(at) ?? []), delivery]);
    }
    // Titles acknowledged per alert key (more than one only where a revision was reused, which (c) reports).
    const expected = new Map<string, { revision: number; titles: Set<string> }>();
    for (const alert of expectedAlerts()) {
      const at = key(alert.subscriber, alert.id, alert.revision);
      const known = expected.get(at) ?? { revision: alert.revision, titles: new Set<string>() };
      known.titles.add(alert.title);
      expected.set(at, known);
    }
    const missing: string[] = [];
    const duplicated: string[] = [];
    const wrong: string[] = [];
    let missingUpdates = 0;
    for (const [at, { revision, titles }] of expected) {
      const got = received.get(at) ?? [];
      const alerts = new Set(got.map((delivery) => delivery.webhookId)).size;
      if (alerts === 0) {
        missing.push(`${at} "${[...titles].join('" | "')}"`);
        if (revision > 1) missingUpdates++;
      } else if (alerts > 1) {
        duplicated.push(`${at} ${alerts} alerts`);
      }
      const type = revision === 1 ? 'event.created' : 'event.updated';
      for (const delivery of got) if (!titles.has(delivery.data.title) || delivery.type !== type) wrong.push(`${at} delivered ${delivery.type} "${delivery.data.title}"`);
    }
    // Alerts for a version outside the subscriber's filter.
    const misrouted = receiver.deliveries
      .filter((delivery) => {
        const shape = SHAPES.get(delivery.data.id);
        return shape !== undefined && !SUBSCRIBERS.find((subscriber) => subscriber.name === delivery.subscriber)!.concerns(shape, delivery.data.revision);
      })
      .map((delivery) => key(delivery.subscriber, delivery.data.id, delivery.data.revision));
    const updates = [...expected.values()].filter(({ revision }) => revision > 1).length;
    const problems = [...missing.map((at) => `missing ${at}`), ...duplicated.map((at) => `duplicated ${at}`), ...wrong.map((at) => `wrong ${at}`), ...misrouted.map((at) => `misrouted ${at}`), ...receiver.rejected];
    expect(
      problems.length,
      `of ${expected.size} expected alerts (${updates} for updates) over ${SUBSCRIBERS.length} subscribers: ${missing.length} missing (${missingUpdates} of them updates), ` +
        `${duplicated.length} duplicated, ${wrong.length} with other content or type, ${misrouted.length} misrouted, ${receiver.rejected.length} failed verification; ` +
        `${receiver.deliveries.length} deliveries in all. Examples: ${examples(problems)}`,
    ).toBe(0);
  });

  it('(e) never serves one ETag with two different bodies', () => {
    const shared = [...observations.etags].filter(([, bodies]) => bodies.size > 1);
    const paths = new Set(shared.map(([key]) => key.split(' ')[0]!.split('?')[0]));
    expect(
      shared.length,
      `${shared.length} of ${observations.etags.size} (path, ETag) pairs served with more than one body, on ${[...paths].join(', ') || 'no path'}. Examples: ${examples(shared.map(([key, bodies]) => `${key} → ${bodies.size} bodies`))}`,
    ).toBe(0);
  });

  it('(f) keeps the writer within six KV operations at once and loses no write to a 429', () => {
    const writer = simulation.writerConnections();
    const stats = simulation.stats();
    const problems = [
      ...(writer.peakRequested > 6 ? [`the writer asked for ${writer.peakRequested} KV operations at once (${writer.waited} of ${writer.operations} had to wait)`] : []),
      ...stats.unrecoveredRejections.map((key) => `${key}: last write refused with 429, never written again`),
    ];
    expect(
      problems.length,
      `writer peak ${writer.peakRequested} operations asked for at once (${writer.waited} of ${writer.operations} waited); ${stats.totals.rejected} writes refused with 429 ` +
        `(${stats.totals.puts} puts, ${stats.totals.deletes} deletes went through), ${stats.unrecoveredRejections.length} keys whose last write was refused. Examples: ${examples(problems)}`,
    ).toBe(0);
  });
});
