/**
 * Retractions: `DELETE /events/:id` takes a record out of `/events`, the
 * feeds, the exports, `/stats` and the actor counts; `GET /events/:id`
 * answers 410 with the tombstone (a "retracted" page for browsers);
 * `/changes` carries it; the subscribers whose filters matched the record
 * get one `event.deleted`, verified with `standardwebhooks`; retracting again
 * changes and alerts nothing; re-posting the id restores it as an update
 * with the next revision. The cron reconciliation retracts a record whose
 * `event:` key was deleted out of band, once it has been missing for two
 * passes at least ten minutes apart. Bodies served from the rendered-body
 * cache before a retraction (or a restore) are never served after it is
 * published: the index head never names the retraction's revision while
 * `event:<id>` is still in KV.
 */
import { runDurableObjectAlarm } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChangeEntry } from '../functions/domain/change-feed.ts';
import { eventKey } from '../functions/domain/layout.ts';
import { readHead } from '../functions/store/events-store.ts';
import { MISSING_CONFIRM_MS } from '../functions/store/reconciler.ts';
import { simulation } from './platform/simulated-kv.ts';
import { installVerifyingReceivers, type VerifyingReceivers } from './fixtures/verifying-receiver.ts';
import { call, coordinatorStub, getJson, makeEvent, seed, settled, untilCached } from './helpers.ts';

const NOW = '2026-12-02T12:00:00.000Z';
const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };

/** Deliveries verified with each subscription's secret; anything that fails verification is kept apart. */
const receivers: VerifyingReceivers<any> = { deliveries: [], rejected: [], secrets: new Map() };
const { deliveries, rejected, secrets } = receivers;
beforeEach(() => {
  installVerifyingReceivers(receivers);
});

afterEach(() => {
  vi.restoreAllMocks();
});

async function subscribe(url: string, filters: Record<string, string>, eventTypes?: string[]): Promise<void> {
  const response = await call('/subscriptions', { method: 'POST', headers: ADMIN, body: JSON.stringify({ url, filters, event_types: eventTypes }) });
  expect(response.status).toBe(201);
  secrets.set(url, ((await response.json()) as { secret: string }).secret);
}

const retract = (id: string, body?: unknown, headers: Record<string, string> = ADMIN) => call(`/events/${id}`, { method: 'DELETE', headers, body: body === undefined ? undefined : JSON.stringify(body) });

const syria = (id: string, date: string, overrides = {}) => makeEvent(id, date, { location: { name: 'Deir ez-Zor', country: 'SY', lat: 35.33, lon: 40.14, precision: 'city' }, ...overrides });

/** The changes of record `id`, from the start of the feed. */
async function changesOf(id: string): Promise<ChangeEntry[]> {
  const found: ChangeEntry[] = [];
  for (let since = ''; ; ) {
    const { body } = await getJson<{ data: ChangeEntry[]; next: string }>(`/changes${since ? `?since=${since}` : ''}`);
    if (body.data.length === 0) return found;
    found.push(...body.data.filter((change) => change.id === id));
    since = body.next;
  }
}

describe('DELETE /events/:id', () => {
  it('retracts a record everywhere, alerts matching subscribers once, is idempotent, and a re-post restores it', async () => {
    const syriaUrl = 'https://hooks.example.com/retractions-syria';
    const iraqUrl = 'https://hooks.example.com/retractions-iraq';
    await subscribe(syriaUrl, { country: 'SY' });
    await subscribe(iraqUrl, { country: 'IQ' });
    // The types a subscription got by default before event.deleted existed, stored as given: it is not told of retractions.
    const olderUrl = 'https://hooks.example.com/retractions-older';
    await subscribe(olderUrl, { country: 'SY' }, ['event.created', 'event.updated']);
    const window = 'since=2020-05-01&until=2020-05-31';
    await seed([syria('retracted-strike', '2020-05-10'), syria('kept-strike', '2020-05-11')], NOW);
    await vi.waitFor(() => expect(deliveries.filter((delivery) => delivery.url === syriaUrl)).toHaveLength(2));
    const statsBefore = (await getJson(`/stats?${window}`)).body.data.total.events;
    expect(statsBefore).toBe(2);

    const response = await retract('retracted-strike', { reason: 'Duplicate of kept-strike' });
    expect(response.status).toBe(200);
    const tombstone = (await response.json()) as Record<string, unknown>;
    expect(tombstone).toEqual({ id: 'retracted-strike', revision: 2, retracted_at: expect.any(String), reason: 'Duplicate of kept-strike' });
    await settled();

    const gone = await getJson('/events/retracted-strike');
    expect(gone.status).toBe(410);
    expect(gone.body).toEqual(tombstone);
    expect((await getJson('/events/retracted-strike.json')).status).toBe(410);
    const page = await call('/events/retracted-strike', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(410);
    expect(await page.text()).toMatch(/Retracted[\s\S]*Duplicate of kept-strike/);

    const ids = (body: { data: { id: string }[] }) => body.data.map((event) => event.id);
    expect(ids((await getJson(`/events?${window}`)).body)).toEqual(['kept-strike']);
    expect((await getJson(`/feed.json?${window}`)).body.items.map((item: { url: string }) => item.url.split('/').pop())).toEqual(['kept-strike']);
    const atom = await (await call(`/feed.atom?${window}`)).text();
    expect(atom).not.toContain('retracted-strike');
    const csv = await (await call(`/events.csv?${window}`)).text();
    expect(csv).toContain('kept-strike');
    expect(csv).not.toContain('retracted-strike');
    expect((await (await call(`/events.geojson?${window}`)).text())).not.toContain('retracted-strike');
    expect((await getJson(`/stats?${window}`)).body.data.total.events).toBe(1);
    const militia = (await getJson(`/stats?${window}&actor=iran-backed-militias`)).body.data.by_actor.find((actor: { key: string }) => actor.key === 'iran-backed-militias');
    expect(militia.perpetrator).toBe(1);

    expect((await changesOf('retracted-strike')).map((change) => [change.kind, change.revision])).toEqual([['created', 1], ['retracted', 2]]);
    expect((await changesOf('retracted-strike'))[1]!.tombstone).toEqual(tombstone);

    await vi.waitFor(() => expect(deliveries.filter((delivery) => delivery.type === 'event.deleted')).toHaveLength(1));
    const [deleted] = deliveries.filter((delivery) => delivery.type === 'event.deleted');
    expect(deleted).toMatchObject({ url: syriaUrl, data: { ...tombstone, last_version: { id: 'retracted-strike', revision: 1, location: { country: 'SY' }, date_start: '2020-05-10' } } });
    expect(deliveries.filter((delivery) => delivery.url === iraqUrl)).toEqual([]);
    expect(deliveries.filter((delivery) => delivery.url === olderUrl && delivery.type === 'event.deleted')).toEqual([]);

    // Again: the same tombstone, nothing new anywhere.
    const again = await retract('retracted-strike');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(tombstone);
    await settled();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(deliveries.filter((delivery) => delivery.type === 'event.deleted')).toHaveLength(1);
    expect(await changesOf('retracted-strike')).toHaveLength(2);

    // Written again: restored as an update with the next revision.
    const restored = await call('/events', { method: 'POST', headers: ADMIN, body: JSON.stringify(syria('retracted-strike', '2020-05-10')) });
    expect(restored.status).toBe(200);
    expect(((await restored.json()) as { results: unknown[] }).results).toEqual([expect.objectContaining({ id: 'retracted-strike', change: 'updated', revision: 3 })]);
    await settled();
    expect((await getJson('/events/retracted-strike')).body).toMatchObject({ id: 'retracted-strike', revision: 3, created_at: '2026-01-01T00:00:00.000Z' });
    expect(ids((await getJson(`/events?${window}`)).body)).toEqual(['kept-strike', 'retracted-strike']);
    expect((await changesOf('retracted-strike')).map((change) => change.kind)).toEqual(['created', 'retracted', 'updated']);
    const alertsOf = (url: string) => deliveries.filter((delivery) => delivery.url === url && delivery.data.id === 'retracted-strike').map((delivery) => `${delivery.type} ${delivery.data.revision}`);
    await vi.waitFor(() => expect(alertsOf(syriaUrl)).toEqual(['event.created 1', 'event.deleted 2', 'event.updated 3']));
    await vi.waitFor(() => expect(alertsOf(olderUrl)).toEqual(['event.created 1', 'event.updated 3']));
    expect(new Set(deliveries.map((delivery) => delivery.id)).size).toBe(deliveries.length);
    expect(rejected).toEqual([]);
  });

  it('answers 404 for an unknown id, 401 without the token, and 400s naming the field', async () => {
    await seed([makeEvent('retraction-errors', '2020-06-01')], NOW);
    expect((await retract('no-such-record')).status).toBe(404);
    expect((await getJson('/events/no-such-record')).status).toBe(404);
    expect((await retract('retraction-errors', undefined, { 'content-type': 'application/json' })).status).toBe(401);
    for (const [body, field] of [
      [{ reason: 'two\nlines' }, 'reason'],
      [{ reason: 'x'.repeat(501) }, 'reason'],
      [{ reason: 42 }, 'reason'],
      [{ why: 'no' }, 'why'],
    ] as const) {
      const response = await retract('retraction-errors', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(((await response.json()) as { error: { fields: { field: string }[] } }).error.fields.map((problem) => problem.field)).toEqual([field]);
    }
    const notJson = await call('/events/retraction-errors', { method: 'DELETE', headers: ADMIN, body: '{reason' });
    expect(notJson.status).toBe(400);
    expect((await getJson('/events/retraction-errors')).status).toBe(200);
  });
});

describe('a retraction and a restore with cached bodies', () => {
  const HTML = { accept: 'text/html' };
  /** The list, and the record as JSON, as a page and as `<id>.json`: each cached before the change. */
  /** The routes of a record, each with the KV reads that find its cached body (the head; a record's `event:<id>`, and the head too for its page). */
  const routes = (id: string) => [
    { path: '/events?since=2020-08-01&until=2020-08-31', headers: {}, cachedReads: 1 },
    { path: '/events?since=2020-08-01&until=2020-08-31', headers: HTML, cachedReads: 1 },
    { path: `/events/${id}`, headers: {}, cachedReads: 1 },
    { path: `/events/${id}`, headers: HTML, cachedReads: 2 },
    { path: `/events/${id}.json`, headers: {}, cachedReads: 1 },
  ];

  it('moves every cached body off: the list drops the record and its URLs answer 410, then list and serve it again once restored', async () => {
    const id = 'cached-then-retracted';
    await seed([makeEvent(id, '2020-08-10'), makeEvent('cached-neighbour', '2020-08-11')], NOW);
    for (const { path, headers, cachedReads } of routes(id)) {
      const cached = await untilCached(path, headers, cachedReads);
      expect(cached.response.status, path).toBe(200);
      expect(cached.body, path).toContain(id);
    }

    expect((await retract(id, { reason: 'cached test' })).status).toBe(200);
    await settled();
    const [list, listPage, record, recordPage, recordJson] = await Promise.all(routes(id).map(({ path, headers }) => call(path, { headers })));
    expect(((await list!.json()) as { data: { id: string }[] }).data.map((event) => event.id)).toEqual(['cached-neighbour']);
    expect(listPage!.status).toBe(200);
    expect(await listPage!.text()).not.toContain(id);
    expect(record!.status).toBe(410);
    expect(await record!.json()).toMatchObject({ id, reason: 'cached test' });
    expect(recordPage!.status).toBe(410);
    expect(await recordPage!.text()).toContain('Retracted');
    expect(recordJson!.status).toBe(410);

    await seed([makeEvent(id, '2020-08-10', { title: 'Restored after the retraction' })], NOW);
    for (const { path, headers } of routes(id)) {
      const response = await call(path, { headers });
      expect(response.status, path).toBe(200);
      expect(await response.text(), path).toContain(path.startsWith('/events?') ? id : 'Restored after the retraction');
    }
  });

  it('never publishes the head of a retraction while the record\'s event:<id> is still in KV', { timeout: 30_000 }, async () => {
    simulation.reset();
    const id = 'removed-before-head';
    const [written] = await seed([makeEvent(id, '2020-08-20')], NOW);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    // Another writer touches the key just before the retraction: its delete is refused with 429 for a second.
    await simulation.writerView(env.EVENTS).put(eventKey(id), JSON.stringify(written!.record));
    expect((await retract(id)).status).toBe(200);
    const stub = coordinatorStub();
    const revision = (await stub.status()).dataset.revision;
    const deadline = Date.now() + 20_000;
    let sawHead = false;
    while (!sawHead) {
      expect(Date.now(), 'the head of the retraction was never published').toBeLessThan(deadline);
      await runDurableObjectAlarm(stub);
      sawHead = (await readHead(env.EVENTS)).revision >= revision;
      if (sawHead) expect(await env.EVENTS.get(eventKey(id)), 'event:<id> is gone before the head names the retraction').toBeNull();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(simulation.stats().keys.get(eventKey(id))?.rejected).toBeGreaterThanOrEqual(1);
    expect((await getJson(`/events/${id}`)).status).toBe(410);
    await settled();
    simulation.reset();
  });
});

describe('reconciliation of a key deleted out of band', () => {
  it('retracts the record once its key has been missing in two passes ten minutes apart', async () => {
    await seed([makeEvent('deleted-out-of-band', '2020-07-01')], NOW);
    await env.EVENTS.delete(eventKey('deleted-out-of-band'));
    const at = (ms: number) => new Date(Date.parse(NOW) + ms).toISOString();
    const pass = async (now: string) => {
      const report = await coordinatorStub().reconcile(now);
      await settled();
      return report.retracted;
    };
    expect(await pass(at(0))).toEqual([]);
    expect(await pass(at(MISSING_CONFIRM_MS - 60_000))).toEqual([]);
    expect((await getJson('/events?since=2020-07-01&until=2020-07-01')).body.data).toHaveLength(1);
    expect(await pass(at(MISSING_CONFIRM_MS))).toEqual(['deleted-out-of-band']);
    const gone = await getJson('/events/deleted-out-of-band');
    expect(gone.status).toBe(410);
    expect(gone.body.reason).toMatch(/^removed from KV out of band/);
    expect((await getJson('/events?since=2020-07-01&until=2020-07-01')).body.data).toEqual([]);
    expect(await pass(at(MISSING_CONFIRM_MS * 3))).toEqual([]);
    expect((await changesOf('deleted-out-of-band')).map((change) => change.kind)).toEqual(['created', 'retracted']);
  });

  it('forgets a key that is back before the second pass', async () => {
    const [written] = await seed([makeEvent('briefly-missing', '2020-07-02')], NOW);
    await env.EVENTS.delete(eventKey('briefly-missing'));
    const at = (ms: number) => new Date(Date.parse(NOW) + ms).toISOString();
    expect((await coordinatorStub().reconcile(at(0))).retracted).toEqual([]);
    await settled();
    await env.EVENTS.put(eventKey('briefly-missing'), JSON.stringify(written!.record));
    expect((await coordinatorStub().reconcile(at(MISSING_CONFIRM_MS))).retracted).toEqual([]);
    await settled();
    await env.EVENTS.delete(eventKey('briefly-missing'));
    expect((await coordinatorStub().reconcile(at(MISSING_CONFIRM_MS * 2))).retracted).toEqual([]);
    await settled();
    expect((await getJson('/events/briefly-missing.json')).status).toBe(404);
    expect((await coordinatorStub().reconcile(at(MISSING_CONFIRM_MS * 3))).retracted).toEqual(['briefly-missing']);
    await settled();
  });
});
