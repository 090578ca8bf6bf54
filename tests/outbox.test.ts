/**
 * The webhook outbox under Queues' limits, enforced by the queue simulation
 * the suite's Coordinator sends through (tests/platform/simulated-queue.ts):
 * batches bounded by bytes as well as count, a message the queue refuses
 * isolated and dead-lettered without holding back the others, and an
 * unavailable queue blaming no message.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

describe('the webhook outbox', () => {
  it('delivers a 2,000-character record to 100 subscribers in batches within 256 KB, and later alerts are not held back', async () => {
    const urls = Array.from({ length: 100 }, (_, i) => `https://hooks.example.com/large-${i}`);
    for (const url of urls) await subscribe(url, { since: '2025-01-01', until: '2025-01-31' });
    await ingest(makeEvent('large-record', '2025-01-10', { summary: 'Ü'.repeat(2_000) }));
    await ingest(makeEvent('after-the-large-one', '2025-01-11'));
    await vi.waitFor(() => expect(urls.filter((url) => deliveredTo(url).length === 2)).toHaveLength(100), { timeout: 20_000, interval: 100 });
    for (const url of urls) expect(deliveredTo(url).sort()).toEqual(['after-the-large-one', 'large-record']);
    expect(queueSimulation.stats().largestBatchBytes).toBeLessThanOrEqual(QUEUE_LIMITS.batchBytes);
    expect(queueSimulation.stats().refused).toBe(0);
  });

  it('isolates a message the queue refuses: the others go on, and it is dead-lettered after five refusals', async () => {
    const url = 'https://hooks.example.com/poisoned';
    const id = await subscribe(url);
    queueSimulation.refuse((body) => (body as { record_id?: string }).record_id === 'refused-record');
    await ingest(makeEvent('refused-record', '2025-02-01'));
    for (let round = 0; round < 5; round++) {
      await ingest(makeEvent(`accepted-record-${round}`, '2025-02-02'));
      await retryNow();
      await vi.waitFor(() => expect(deliveredTo(url)).toContain(`accepted-record-${round}`));
    }
    await vi.waitFor(async () => {
      const letters = await getJson(`/subscriptions/${id}/dead-letters`, { headers: ADMIN });
      expect(letters.body.data).toEqual([expect.objectContaining({ record_id: 'refused-record', reason: expect.stringContaining('refused the message 5 times') })]);
    });
    expect(deliveredTo(url)).not.toContain('refused-record');
    expect((await coordinatorStub().status()).outbox).toEqual({ pending: 0, unconfirmed: 0 });
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
