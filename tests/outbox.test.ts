/**
 * The webhook outbox under Queues' limits, enforced by the queue simulation
 * the suite's Coordinator sends through (tests/platform/simulated-queue.ts):
 * batches bounded by bytes as well as count, a message the queue refuses
 * isolated and dead-lettered without holding back the others, an
 * unavailable queue blaming no message; alerts for disabled subscriptions
 * held and replayed; and fan-out to any number of subscribers in bounded slices.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AlertFanout, FANOUT_SLICE } from '../functions/store/alert-fanout.ts';
import { OUTBOX_QUERIES, OUTBOX_WINDOW } from '../functions/store/alert-outbox.ts';
import { QUEUE_LIMITS, queueSimulation } from './platform/simulated-queue.ts';
import { call, coordinatorStub, getJson, makeEvent } from './helpers.ts';

const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };

/** Every webhook request the Worker made, by URL, answered 204. */
let received: Map<string, string[]>;

beforeEach(() => {
  queueSimulation.reset();
  received = new Map();
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    received.set(request.url, [...(received.get(request.url) ?? []), await request.text()]);
    return new Response(null, { status: 204 });
  });
});

afterEach(() => vi.restoreAllMocks());

async function subscribe(url: string, filters: Record<string, string> = {}): Promise<string> {
  const response = await call('/subscriptions', { method: 'POST', headers: ADMIN, body: JSON.stringify({ url, filters }) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

const ingest = async (record: ReturnType<typeof makeEvent>) => expect((await call('/events', { method: 'POST', headers: ADMIN, body: JSON.stringify(record) })).status).toBe(201);
const deliveredTo = (url: string) => (received.get(url) ?? []).map((body) => (JSON.parse(body) as { data: { id: string } }).data.id);

/** Lets the outbox try again now: clears its backoffs and runs the alarm. */
async function retryNow(): Promise<void> {
  const stub = coordinatorStub();
  await runInDurableObject(stub, async (_instance, state) => {
    state.storage.sql.exec('UPDATE alert_outbox SET next_try_at = NULL');
    await state.storage.setAlarm(Date.now() + 60_000);
  });
  await runDurableObjectAlarm(stub);
}

/**
 * Makes subscriptions to `urls` directly in the Coordinator's storage (hundreds of POSTs would only slow the
 * test), their ids `sub_<prefix>` padded to the id's length.
 */
async function insertSubscribers(prefix: string, urls: readonly string[], status: 'active' | 'disabled'): Promise<void> {
  await runInDurableObject(coordinatorStub(), (_instance, state) => {
    urls.forEach((url, i) => state.storage.sql.exec(
      "INSERT INTO subscriptions (id, url, filters, event_types, description, secret, status, health, created_at, updated_at) VALUES (?, ?, '{}', ?, NULL, ?, ?, '{}', ?, ?)",
      `sub_${prefix}${String(i).padStart(32 - prefix.length, '0')}`, url, JSON.stringify(['event.created', 'event.updated']), `whsec_${btoa('a-test-secret-of-enough-bytes!!')}`, status, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z',
    ));
  });
}

/** Removes the subscriptions `insertSubscribers` made under `prefix`, so later tests' alerts are not fanned out to them. */
const deleteSubscribers = (prefix: string) => runInDurableObject(coordinatorStub(), (_instance, state) => void state.storage.sql.exec('DELETE FROM subscriptions WHERE id LIKE ?', `sub_${prefix}%`));

describe('the webhook outbox', () => {
  it('delivers a 2,000-character record to 100 subscribers in batches within 256 KB, and later alerts are not held back', async () => {
    const urls = Array.from({ length: 100 }, (_, i) => `https://hooks.example.com/large-${i}`);
    for (const url of urls) await subscribe(url, { since: '2025-01-01', until: '2025-01-31' });
    await ingest(makeEvent('large-record', '2025-01-10', { summary: 'Ü'.repeat(2_000) }));
    await ingest(makeEvent('after-the-large-one', '2025-01-11'));
    await vi.waitFor(() => expect(urls.filter((url) => deliveredTo(url).length === 2)).toHaveLength(100), { timeout: 20_000, interval: 100 });
    for (const url of urls) expect(deliveredTo(url).sort()).toEqual(['after-the-large-one', 'large-record']);
    // Every receiver got the whole record, though the queue carried only references to it.
    for (const url of urls) expect(received.get(url)!.some((body) => body.includes('Ü'.repeat(2_000)))).toBe(true);
    expect(queueSimulation.stats().largestMessageBytes).toBeLessThan(1_024);
    expect(queueSimulation.stats().largestBatchBytes).toBeLessThanOrEqual(QUEUE_LIMITS.batchBytes);
    expect(queueSimulation.stats().refused).toBe(0);
  });

  it('hands batches to the queue side by side, never more than six at once', async () => {
    const urls = Array.from({ length: 700 }, (_, i) => `https://hooks.example.com/wide-${i}`);
    // Seven batches' worth of subscribers.
    await insertSubscribers('wide', urls, 'active');
    await ingest(makeEvent('seven-hundred-alerts', '2025-02-01'));
    await vi.waitFor(() => expect(urls.filter((url) => deliveredTo(url).length === 1)).toHaveLength(700), { timeout: 30_000, interval: 100 });
    expect(queueSimulation.stats().maxInFlight).toBeGreaterThan(1);
    expect(queueSimulation.stats().maxInFlight).toBeLessThanOrEqual(6);
    await deleteSubscribers('wide');
  }, 60_000);

  it('isolates a message the queue refuses: the others go on, and it is dead-lettered after five refusals', async () => {
    const url = 'https://hooks.example.com/poisoned';
    const id = await subscribe(url);
    queueSimulation.refuse((body) => (body as { record_id?: string }).record_id === 'refused-record');
    await ingest(makeEvent('refused-record', '2025-02-01'));
    const deadLetters = async () => (await getJson(`/subscriptions/${id}/dead-letters`, { headers: ADMIN })).body.data as unknown[];
    // Each round lets the refused message go again together with a new one: it is blamed only when others go through in the same send.
    for (let round = 0; round < 12 && (await deadLetters()).length === 0; round++) {
      await runInDurableObject(coordinatorStub(), (_instance, state) => void state.storage.sql.exec('UPDATE alert_outbox SET next_try_at = NULL'));
      await ingest(makeEvent(`accepted-record-${round}`, '2025-02-02'));
      await vi.waitFor(() => expect(deliveredTo(url)).toContain(`accepted-record-${round}`));
    }
    expect(await deadLetters()).toEqual([expect.objectContaining({ record_id: 'refused-record', reason: expect.stringContaining('refused the message 5 times') })]);
    // Every new record went through while the refused one waited on its own.
    expect(deliveredTo(url).filter((recordId) => recordId.startsWith('accepted-record-')).length).toBeGreaterThanOrEqual(5);
    expect(deliveredTo(url)).not.toContain('refused-record');
    expect((await coordinatorStub().status()).outbox).toEqual({ fanout: 0, pending: 0, unconfirmed: 0 });
  });

  it('blames no message while the queue is unavailable, and sends everything once it is back', async () => {
    const url = 'https://hooks.example.com/patient';
    await subscribe(url, { since: '2025-03-01' });
    queueSimulation.setUnavailable(true);
    await ingest(makeEvent('queued-while-down', '2025-03-01'));
    await retryNow();
    await retryNow();
    const failures = await runInDurableObject(coordinatorStub(), (_instance, state) =>
      state.storage.sql.exec<{ send_failures: number }>("SELECT send_failures FROM alert_outbox WHERE body LIKE '%queued-while-down%'").toArray().map((row) => row.send_failures),
    );
    // One message per subscriber (the earlier tests' subscribers get it too), none blamed.
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((count) => count === 0)).toBe(true);
    expect(deliveredTo(url)).toEqual([]);
    queueSimulation.setUnavailable(false);
    await retryNow();
    await vi.waitFor(() => expect(deliveredTo(url)).toEqual(['queued-while-down']));
  });
});

describe('the queue window', () => {
  it('never leaves more messages in the queue without news than the window, and still delivers every one', async () => {
    const window = OUTBOX_WINDOW.messagesWithoutNews;
    OUTBOX_WINDOW.messagesWithoutNews = 150;
    try {
      const urls = Array.from({ length: 700 }, (_, i) => `https://hooks.example.com/windowed-${i}`);
      await insertSubscribers('window', urls, 'active');
      // Messages in the queue with no news yet, sampled all along the delivery.
      let most = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const withoutNews = await runInDurableObject(coordinatorStub(), (_instance, state) => state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM alert_outbox WHERE sent_at IS NOT NULL AND reported_at IS NULL').one().n);
          most = Math.max(most, withoutNews);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      await ingest(makeEvent('windowed-alerts', '2025-02-02'));
      await vi.waitFor(() => expect(urls.filter((url) => deliveredTo(url).length === 1)).toHaveLength(700), { timeout: 40_000, interval: 100 });
      sampling = false;
      await sampler;
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(150);
      expect(queueSimulation.stats().refused).toBe(0);
      await deleteSubscribers('window');
    } finally {
      OUTBOX_WINDOW.messagesWithoutNews = window;
    }
  }, 60_000);
});

describe('the outbox at any backlog', () => {
  it('answers every query of the send path from an index, never by reading the whole table', async () => {
    const plans = await runInDurableObject(coordinatorStub(), (_instance, state) =>
      Object.entries(OUTBOX_QUERIES).map(([name, sql]) => {
        const parameters = Array.from(sql.matchAll(/\?/g), () => 0);
        const steps = state.storage.sql.exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, ...parameters).toArray().map((row) => row.detail);
        return { name, steps };
      }),
    );
    for (const { name, steps } of plans) {
      // "SCAN alert_outbox" alone reads every row; a SEARCH, or a SCAN of an index in its order, does not.
      expect(steps.filter((step) => /^SCAN alert_outbox$/.test(step)), `${name}: ${steps.join('; ')}`).toEqual([]);
      expect(steps.some((step) => /USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/.test(step)), `${name}: ${steps.join('; ')}`).toBe(true);
    }
  });
});

describe('alerts for disabled subscriptions', () => {
  it('holds them, logged as skipped with record and revision, and replays them on enable?replay=true', async () => {
    const url = 'https://hooks.example.com/paused';
    const id = await subscribe(url, { since: '2025-04-01', until: '2025-04-30' });
    await runInDurableObject(coordinatorStub(), (_instance, state) => {
      state.storage.sql.exec("UPDATE subscriptions SET status = 'disabled' WHERE id = ?", id);
    });
    await ingest(makeEvent('while-paused', '2025-04-02'));
    await vi.waitFor(async () => {
      const log = await getJson(`/subscriptions/${id}/deliveries`, { headers: ADMIN });
      expect(log.body.data).toEqual([expect.objectContaining({ outcome: 'skipped', record_id: 'while-paused', revision: 1 })]);
    });
    const held = await getJson(`/subscriptions/${id}/dead-letters`, { headers: ADMIN });
    expect(held.body.data).toEqual([expect.objectContaining({ record_id: 'while-paused', reason: expect.stringContaining('disabled') })]);
    expect(deliveredTo(url)).toEqual([]);

    const enabled = await call(`/subscriptions/${id}/enable?replay=true`, { method: 'POST', headers: ADMIN });
    expect(await enabled.json()).toMatchObject({ status: 'active', replayed: 1 });
    await vi.waitFor(() => expect(deliveredTo(url)).toEqual(['while-paused']));
    expect((await call(`/subscriptions/${id}/enable?replay=maybe`, { method: 'POST', headers: ADMIN })).status).toBe(400);
  });
});

describe('fan-out', () => {
  it('alerts any number of subscribers in bounded slices, one payload per record revision', async () => {
    const stub = coordinatorStub();
    const count = 2 * FANOUT_SLICE + 100;
    // Disabled subscribers: their alerts are held, so the fan-out is checked without thousands of deliveries.
    await insertSubscribers('fanout', Array.from({ length: count }, (_, i) => `https://hooks.example.com/fanout-${i}`), 'disabled');
    // Count what each expansion (one per alarm run) holds; the Durable Object runs in this isolate.
    const increments: number[] = [];
    const expand = AlertFanout.prototype.expand;
    vi.spyOn(AlertFanout.prototype, 'expand').mockImplementation(async function (this: AlertFanout, storage, now) {
      const held = () => storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM dead_letters WHERE body LIKE '%fanned-out%'").one().n;
      const before = held();
      const more = await expand.call(this, storage, now);
      increments.push(held() - before);
      return more;
    });
    await stub.ingest([makeEvent('fanned-out', '2025-05-01')], new Date().toISOString());
    await vi.waitFor(async () => expect((await stub.status()).outbox.fanout).toBe(0), { timeout: 30_000, interval: 50 });
    expect(increments.reduce((sum, n) => sum + n, 0)).toBe(count);
    expect(increments.length).toBeGreaterThanOrEqual(Math.ceil(count / FANOUT_SLICE));
    expect(Math.max(...increments)).toBeLessThanOrEqual(FANOUT_SLICE);
    // One payload for the revision, however many subscribers.
    const payloads = await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM alert_payloads WHERE record_id = 'fanned-out'").one().n);
    expect(payloads).toBeLessThanOrEqual(1);
  }, 60_000);
});
