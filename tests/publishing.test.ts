/**
 * Publishing the Coordinator's truth to KV under the platform's write rules,
 * enforced by the simulation the suite's Coordinator writes through
 * (tests/platform/simulated-kv.ts): a burst of writes is coalesced into a
 * handful of manifest puts (each head put after one of them) with no key
 * written twice within a second, and a
 * put refused with 429 stays queued and is retried with backoff until it
 * goes through.
 */
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { HEAD_KEY, MANIFEST_KEY, eventKey } from '../functions/domain/layout.ts';
import { readHead, readManifest } from '../functions/store/events-store.ts';
import { simulation } from './platform/simulated-kv.ts';
import { call, coordinatorStub, getJson, makeEvent, settled } from './helpers.ts';

const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };
const post = (body: unknown) => call('/events', { method: 'POST', headers: ADMIN, body: JSON.stringify(body) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeEach(() => simulation.reset());

describe('publishing to KV', () => {
  it('coalesces 200 single-record POSTs within two seconds into a handful of manifest puts, with no 429', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `burst-${String(i).padStart(3, '0')}`);
    const started = Date.now();
    const responses = await Promise.all(ids.map(async (id, i) => (await sleep(10 * i), post(makeEvent(id, '2025-05-05')))));
    expect(responses.map((response) => response.status)).toEqual(ids.map(() => 201));
    await settled(30_000);
    // Two seconds on a quiet machine; a loaded one stretches the burst, and at most one manifest put a second is allowed for it.
    const burstSeconds = Math.max(2, Math.ceil((Date.now() - started) / 1_000));

    const stats = simulation.stats();
    const manifestPuts = stats.keys.get(MANIFEST_KEY)?.puts ?? 0;
    expect(manifestPuts).toBeGreaterThan(0);
    expect(manifestPuts).toBeLessThanOrEqual(burstSeconds + 4);
    // The head follows the manifest, once per manifest put at most, and ends at its revision.
    expect(stats.keys.get(HEAD_KEY)?.puts ?? 0).toBeGreaterThan(0);
    expect(stats.keys.get(HEAD_KEY)?.puts ?? 0).toBeLessThanOrEqual(manifestPuts);
    expect((await readHead(env.EVENTS)).revision).toBe((await readManifest(env.EVENTS)).revision);
    expect(stats.totals.rejected).toBe(0);
    expect(simulation.writerConnections().peakRequested).toBeLessThanOrEqual(6);
    const listed = await getJson('/events?since=2025-05-05&until=2025-05-05&limit=500');
    expect(listed.body.data.map((event: { id: string }) => event.id).sort()).toEqual(ids);
  }, 60_000);

  it('keeps a put refused with 429 queued and retries it with backoff until it goes through', { timeout: 60_000 }, async () => {
    const record = makeEvent('refused-once', '2025-06-06');
    // Another writer touches the key just before the Coordinator publishes it: its put gets a 429.
    await simulation.writerView(env.EVENTS).put(eventKey(record.id), JSON.stringify(record));
    const response = await post({ ...record, title: 'The version the Coordinator publishes' });
    expect(response.status).toBe(201);
    const status = await settled(30_000);

    expect(status.publish.kv_failures).toBeGreaterThanOrEqual(1);
    expect(simulation.stats().keys.get(eventKey(record.id))?.rejected).toBeGreaterThanOrEqual(1);
    expect(simulation.stats().unrecoveredRejections).toEqual([]);
    expect((await getJson('/events/refused-once')).body).toMatchObject({ title: 'The version the Coordinator publishes', revision: 1 });
    expect((await coordinatorStub().status()).publish.consecutive_failures).toBe(0);
  });
});
