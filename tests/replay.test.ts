/**
 * `POST /subscriptions/:id/replay`: a subscription gets again the alerts it
 * received for the changes committed in a window, with the same webhook-ids
 * and the same bodies (verified with `standardwebhooks`), and nothing it did
 * not receive: changes outside [since, until), of other event types, that its
 * filters did not match (an update leaving the filter included, as live), or
 * committed before it existed. Replays are queued in slices; deliveries name
 * their replay in the delivery log; a scoped token replays its own
 * subscription only; bad bodies are 400s naming the field.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChangeEntry } from '../functions/domain/change-feed.ts';
import { REPLAY_SLICE, REPLAY_THROTTLE } from '../functions/store/replay.ts';
import { makeEventInput } from './fixtures/records.ts';
import { installVerifyingReceivers, type VerifiedDelivery, type VerifyingReceivers } from './fixtures/verifying-receiver.ts';
import { call, coordinatorStub, getJson, settled } from './helpers.ts';

const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

/** A delivery that verified with its subscription's secret: webhook-id, raw body and parsed payload. */
type Delivery = VerifiedDelivery<{ id: string; revision: number }>;
const receivers: VerifyingReceivers<Delivery['data']> = { deliveries: [], rejected: [], secrets: new Map() };
const { deliveries, rejected, secrets } = receivers;
beforeEach(() => {
  installVerifyingReceivers(receivers);
});

afterEach(() => vi.restoreAllMocks());

interface Created {
  id: string;
  token: string;
  url: string;
}

async function subscribe(url: string, filters: Record<string, string> = {}, eventTypes?: string[]): Promise<Created> {
  const response = await call('/subscriptions', { method: 'POST', headers: ADMIN, body: JSON.stringify({ url, filters, event_types: eventTypes }) });
  expect(response.status).toBe(201);
  const created = (await response.json()) as { id: string; secret: string; token: string };
  secrets.set(url, created.secret);
  return { id: created.id, token: created.token, url };
}

const replay = (id: string, body: unknown, headers: Record<string, string> = ADMIN) => call(`/subscriptions/${id}/replay`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

const post = async (records: unknown): Promise<void> => {
  const response = await call('/events', { method: 'POST', headers: ADMIN, body: JSON.stringify(records) });
  expect(response.status).toBeLessThan(300);
};

const retract = async (id: string): Promise<void> => {
  expect((await call(`/events/${id}`, { method: 'DELETE', headers: ADMIN })).status).toBe(200);
};

const syria = (id: string, overrides = {}) => makeEventInput(id, '2021-03-01', { location: { name: 'Deir ez-Zor', country: 'SY', lat: 35.33, lon: 40.14, precision: 'city' }, ...overrides });
const iraq = (id: string, overrides = {}) => makeEventInput(id, '2021-03-02', overrides);

/** Every change of the feed of these records, once published. */
async function changesOf(ids: readonly string[]): Promise<ChangeEntry[]> {
  await settled();
  const found: ChangeEntry[] = [];
  for (let since = ''; ; ) {
    const { body } = await getJson<{ data: ChangeEntry[]; next: string }>(`/changes${since ? `?since=${since}` : ''}`);
    if (body.data.length === 0) return found;
    found.push(...body.data.filter((change) => ids.includes(change.id)));
    since = body.next;
  }
}

/** Just after a change time: an exclusive `until` that still takes it in. */
const justAfter = (time: string) => new Date(Date.parse(time) + 1).toISOString();

const of = (url: string, from = 0) => deliveries.slice(from).filter((delivery) => delivery.url === url);
const summary = (list: readonly Delivery[]) => list.map((delivery) => `${delivery.type} ${delivery.data.id}@${delivery.data.revision}`).sort();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('POST /subscriptions/:id/replay', () => {
  it('re-sends exactly the alerts the subscription received, with the same webhook-ids and bodies, and names the replay in the delivery log', { timeout: 30_000 }, async () => {
    const sy = await subscribe('https://hooks.example.com/replay-sy', { country: 'SY' });
    const everything = await subscribe('https://hooks.example.com/replay-all');
    await post([syria('replay-a'), iraq('replay-b'), iraq('replay-c')]);
    await post(syria('replay-a', { title: 'Edited in Syria' })); // updated, matches
    await post(syria('replay-c')); // an Iraqi record moved to Syria: its new version matches
    await post(iraq('replay-a', { title: 'Moved to Iraq' })); // leaves the filter: its previous version matched
    await retract('replay-b'); // never matched
    await retract('replay-c'); // its last version matched
    await post(syria('replay-c', { title: 'Restored' })); // restored: an update with no previous version
    const changes = await changesOf(['replay-a', 'replay-b', 'replay-c']);
    expect(changes).toHaveLength(9);
    await vi.waitFor(() => expect(of(sy.url)).toHaveLength(6), { timeout: 10_000 });
    await vi.waitFor(() => expect(of(everything.url)).toHaveLength(9), { timeout: 10_000 });
    const live = of(sy.url);
    expect(summary(live)).toEqual(['event.created replay-a@1', 'event.deleted replay-c@3', 'event.updated replay-a@2', 'event.updated replay-a@3', 'event.updated replay-c@2', 'event.updated replay-c@4']);

    const before = deliveries.length;
    const response = await replay(sy.id, { since: changes[0]!.changed_at, until: justAfter(changes.at(-1)!.changed_at) });
    expect(response.status).toBe(202);
    const started = (await response.json()) as { replay_id: string; since: string; until: string; event_types: string[]; changes_in_window: number; status: string };
    expect(started).toMatchObject({ replay_id: expect.stringMatching(/^rpl_[0-9a-f]{24}$/), subscription_id: sy.id, since: changes[0]!.changed_at, event_types: ['event.created', 'event.updated', 'event.deleted'], status: 'queued' });
    expect(started.changes_in_window).toBeGreaterThanOrEqual(9);
    await settled();
    await vi.waitFor(() => expect(of(sy.url, before)).toHaveLength(6), { timeout: 10_000 });
    await sleep(200);
    const replayed = of(sy.url, before);
    expect(replayed).toHaveLength(6);
    // Same webhook-ids, same bytes: the receiver can drop them as repeats, or rebuild what it lost.
    const byId = (list: readonly Delivery[]) => Object.fromEntries(list.map((delivery) => [delivery.id, delivery.body]));
    expect(byId(replayed)).toEqual(byId(live));
    // Nothing to the other subscription.
    expect(of(everything.url, before)).toEqual([]);
    expect(rejected).toEqual([]);

    const log = (await getJson<{ data: { msg_id: string; outcome: string; replay_id: string | null }[] }>(`/subscriptions/${sy.id}/deliveries`, { headers: ADMIN })).body.data;
    const delivered = log.filter((entry) => entry.outcome === 'delivered');
    expect(delivered.filter((entry) => entry.replay_id === started.replay_id).map((entry) => entry.msg_id).sort()).toEqual(live.map((delivery) => delivery.id).sort());
    expect(delivered.filter((entry) => entry.replay_id === null).map((entry) => entry.msg_id).sort()).toEqual(live.map((delivery) => delivery.id).sort());

    // The replay's own record: finished, with the alerts it queued.
    const listed = await getJson<{ data: Record<string, unknown>[] }>(`/subscriptions/${sy.id}/replays`, { headers: ADMIN });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toEqual([{ ...started, status: 'finished', alerts_queued: 6, created_at: expect.any(String), finished_at: expect.any(String) }]);
  });

  it('keeps to the window [since, until) and the event types asked for', { timeout: 30_000 }, async () => {
    const all = await subscribe('https://hooks.example.com/replay-window');
    for (const id of ['replay-w1', 'replay-w2', 'replay-w3']) {
      await post(iraq(id));
      await sleep(5);
    }
    await post(iraq('replay-w2', { title: 'Edited' }));
    const changes = await changesOf(['replay-w1', 'replay-w2', 'replay-w3']);
    expect(changes.map((change) => `${change.kind} ${change.id}`)).toEqual(['created replay-w1', 'created replay-w2', 'created replay-w3', 'updated replay-w2']);
    await vi.waitFor(() => expect(of(all.url)).toHaveLength(4), { timeout: 10_000 });
    const liveId = (type: string, id: string) => of(all.url).find((delivery) => delivery.type === type && delivery.data.id === id)!.id;

    // since is inclusive, until exclusive: the second creation only.
    let before = deliveries.length;
    expect((await replay(all.id, { since: changes[1]!.changed_at, until: changes[2]!.changed_at })).status).toBe(202);
    await settled();
    await vi.waitFor(() => expect(of(all.url, before).map((delivery) => delivery.id)).toEqual([liveId('event.created', 'replay-w2')]), { timeout: 10_000 });

    // The whole window, updates only.
    before = deliveries.length;
    const response = await replay(all.id, { since: changes[0]!.changed_at, until: justAfter(changes[3]!.changed_at), event_types: ['event.updated'] });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ event_types: ['event.updated'] });
    await settled();
    await vi.waitFor(() => expect(of(all.url, before).map((delivery) => delivery.id)).toEqual([liveId('event.updated', 'replay-w2')]), { timeout: 10_000 });
    await sleep(200);
    expect(of(all.url, before)).toHaveLength(1);
  });

  it('sends nothing committed before the subscription existed', async () => {
    await post(iraq('replay-before-subscription'));
    const [change] = await changesOf(['replay-before-subscription']);
    await sleep(5);
    const late = await subscribe('https://hooks.example.com/replay-late');
    const response = await replay(late.id, { since: change!.changed_at, until: justAfter(change!.changed_at) });
    expect(response.status).toBe(202);
    expect(((await response.json()) as { changes_in_window: number }).changes_in_window).toBeGreaterThanOrEqual(1);
    await settled();
    await sleep(300);
    expect(of(late.url)).toEqual([]);
  });

  it('queues a large window in slices, every alert once', { timeout: 90_000 }, async () => {
    const bulk = await subscribe('https://hooks.example.com/replay-bulk', { country: 'SY' });
    const ids = Array.from({ length: REPLAY_SLICE + 50 }, (_, index) => `replay-bulk-${String(index).padStart(4, '0')}`);
    await post(ids.map((id) => syria(id)));
    const changes = await changesOf(ids);
    await vi.waitFor(() => expect(of(bulk.url)).toHaveLength(ids.length), { timeout: 30_000 });
    const before = deliveries.length;
    const stub = coordinatorStub();
    const queued = () => runInDurableObject(stub, (_instance, state) => state.storage.sql.exec<{ queued: number; finished_at: string | null }>('SELECT queued, finished_at FROM replays WHERE subscription_id = ?', bulk.id).one());
    const highWater = REPLAY_THROTTLE.outboxHighWater;
    REPLAY_THROTTLE.outboxHighWater = 0; // held until the test lets one alarm turn through
    try {
      expect((await replay(bulk.id, { since: changes[0]!.changed_at, until: justAfter(changes.at(-1)!.changed_at), event_types: ['event.created'] })).status).toBe(202);
      await runDurableObjectAlarm(stub);
      expect((await queued()).queued).toBe(0);
      // One alarm turn queues one slice, never the whole window.
      REPLAY_THROTTLE.outboxHighWater = highWater;
      await runDurableObjectAlarm(stub);
      REPLAY_THROTTLE.outboxHighWater = 0;
      const first = await queued();
      expect(first.queued).toBeGreaterThan(0);
      expect(first.queued).toBeLessThanOrEqual(REPLAY_SLICE);
      expect(first.finished_at).toBeNull();
    } finally {
      REPLAY_THROTTLE.outboxHighWater = highWater;
    }
    await settled(30_000);
    expect(await queued()).toEqual({ queued: ids.length, finished_at: expect.any(String) });
    await vi.waitFor(() => expect(new Set(of(bulk.url, before).map((delivery) => delivery.id))).toEqual(new Set(of(bulk.url).slice(0, ids.length).map((delivery) => delivery.id))), { timeout: 30_000 });
    expect(of(bulk.url, before)).toHaveLength(ids.length);
  });

  it('takes the subscription\'s own scoped token, for that subscription only', async () => {
    const mine = await subscribe('https://hooks.example.com/replay-token-mine');
    const theirs = await subscribe('https://hooks.example.com/replay-token-theirs');
    const window = { since: '2026-01-01T00:00:00Z', until: '2026-01-02T00:00:00Z' };
    expect((await replay(mine.id, window, bearer(mine.token))).status).toBe(202);
    expect((await call(`/subscriptions/${mine.id}/replays`, { headers: bearer(mine.token) })).status).toBe(200);
    expect((await call(`/subscriptions/${theirs.id}/replays`, { headers: bearer(mine.token) })).status).toBe(401);
    const unknown = await getJson<{ error: { fields: { field: string }[] } }>(`/subscriptions/sub_${'0'.repeat(32)}/replays`, { headers: ADMIN });
    expect([unknown.status, unknown.body.error.fields[0]!.field]).toEqual([404, 'id']);
    for (const [id, headers] of [[theirs.id, bearer(mine.token)], [mine.id, { 'content-type': 'application/json' }], [mine.id, bearer('swt_' + 'A'.repeat(43))]] as const) {
      const response = await replay(id, window, headers);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { fields: { field: string }[] } }).error.fields[0]!.field).toBe('authorization');
    }
  });

  it('answers 4xx naming the field, and starts nothing', async () => {
    const sub = await subscribe('https://hooks.example.com/replay-errors', {}, ['event.created', 'event.updated']);
    const fieldsOf = async (response: Response, status: number): Promise<string[]> => {
      expect(response.status).toBe(status);
      return ((await response.json()) as { error: { fields: { field: string }[] } }).error.fields.map((field) => field.field);
    };
    const since = '2026-01-01T00:00:00Z';
    expect(await fieldsOf(await replay(sub.id, {}), 400)).toEqual(['since']);
    expect(await fieldsOf(await replay(sub.id, { since: 'yesterday' }), 400)).toEqual(['since']);
    expect(await fieldsOf(await replay(sub.id, { since: '2026-01-01 00:00:00' }), 400)).toEqual(['since']);
    expect(await fieldsOf(await replay(sub.id, { since: '2026-02-30T00:00:00Z' }), 400)).toEqual(['since']);
    expect(await fieldsOf(await replay(sub.id, { since, until: '2026-01-32T00:00:00Z' }), 400)).toEqual(['until']);
    expect(await fieldsOf(await replay(sub.id, { since, until: since }), 400)).toEqual(['until']);
    expect(await fieldsOf(await replay(sub.id, { since, until: '2025-12-31T23:59:59+01:00' }), 400)).toEqual(['until']);
    expect(await fieldsOf(await replay(sub.id, { since, until: '2026-02-02T00:00:01Z' }), 400)).toEqual(['until']);
    expect(await fieldsOf(await replay(sub.id, { since: '2020-01-01T00:00:00Z' }), 400)).toEqual(['until']);
    expect(await fieldsOf(await replay(sub.id, { since, event_types: ['event.exploded'] }), 400)).toEqual(['event_types.0']);
    expect(await fieldsOf(await replay(sub.id, { since, event_types: [] }), 400)).toEqual(['event_types']);
    expect(await fieldsOf(await replay(sub.id, { since, until: '2026-01-02T00:00:00Z', event_types: ['event.deleted'] }), 400)).toEqual(['event_types']);
    expect(await fieldsOf(await replay(sub.id, { since, limit: 10 }), 400)).toEqual(['limit']);
    expect(await fieldsOf(await replay(sub.id, '{'), 400)).toEqual(['body']);
    expect(await fieldsOf(await call(`/subscriptions/${sub.id}/replay`, { method: 'POST', headers: { ...ADMIN, 'content-type': 'text/plain' }, body: JSON.stringify({ since }) }), 415)).toEqual(['content-type']);
    expect(await fieldsOf(await replay(`sub_${'0'.repeat(32)}`, { since, until: '2026-01-02T00:00:00Z' }), 404)).toEqual(['id']);
    // The 31-day window at its longest is fine.
    expect((await replay(sub.id, { since, until: '2026-02-01T00:00:00Z' })).status).toBe(202);
  });

  it('waits while the outbox is at its high water, and allows a few replays under way per subscription, then 409 naming id', { timeout: 30_000 }, async () => {
    const busy = await subscribe('https://hooks.example.com/replay-busy');
    await post(iraq('replay-busy-record'));
    const [change] = await changesOf(['replay-busy-record']);
    await vi.waitFor(() => expect(of(busy.url)).toHaveLength(1), { timeout: 10_000 });
    const window = { since: change!.changed_at, until: justAfter(change!.changed_at) };
    const highWater = REPLAY_THROTTLE.outboxHighWater;
    REPLAY_THROTTLE.outboxHighWater = 0; // every replay waits
    try {
      for (const _ of [1, 2, 3]) expect((await replay(busy.id, window)).status).toBe(202);
      const refused = await replay(busy.id, window);
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { error: { code: string; fields: { field: string }[] } }).error).toMatchObject({ code: 'replays_under_way', fields: [{ field: 'id' }] });
      await runDurableObjectAlarm(coordinatorStub());
      await sleep(300);
      expect(of(busy.url)).toHaveLength(1);
    } finally {
      REPLAY_THROTTLE.outboxHighWater = highWater;
    }
    await settled();
    // The replays of one alert carry its webhook-id (one still waiting in the outbox is not queued twice).
    await vi.waitFor(() => expect(of(busy.url).length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    expect(new Set(of(busy.url).map((delivery) => delivery.id)).size).toBe(1);
    expect((await replay(busy.id, window)).status).toBe(202);
  });
});
