/**
 * Records that reach KV by another path (`wrangler kv bulk put`, or a write
 * interrupted before its index update) are indexed by the cron-triggered
 * reconciliation or the Coordinator's recovery alarm; invalid ones are
 * reported and left out.
 */
import { createScheduledController, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { eventKey } from '../functions/domain/layout.ts';
import worker from '../functions/index.ts';
import { readManifest } from '../functions/store/events-store.ts';
import { getJson, makeEvent } from './helpers.ts';

async function runCron(): Promise<void> {
  await worker.scheduled(createScheduledController({ scheduledTime: new Date('2026-11-28T12:00:00Z'), cron: '*/5 * * * *' }), env);
}

describe('reconciliation', () => {
  it('indexes valid records put straight into KV and reports invalid ones', async () => {
    const outside = makeEvent('bulk-put-record', '2022-07-07');
    await env.EVENTS.put(eventKey(outside.id), JSON.stringify(outside));
    await env.EVENTS.put(eventKey('bulk-put-broken'), JSON.stringify({ ...makeEvent('bulk-put-broken', '2022-07-08'), date: 'July' }));
    expect((await getJson('/events?since=2022-07-01&until=2022-07-31')).body.data).toEqual([]);

    const report = await env.COORDINATOR.getByName('main').reconcile('2026-11-28T12:00:00.000Z');
    expect(report.indexed).toEqual(['bulk-put-record']);
    expect(report.invalid).toEqual([{ id: 'bulk-put-broken', problem: expect.stringContaining('date') }]);

    const listed = await getJson('/events?since=2022-07-01&until=2022-07-31');
    expect(listed.body.data.map((event: { id: string }) => event.id)).toEqual(['bulk-put-record']);
    const again = await env.COORDINATOR.getByName('main').reconcile('2026-11-28T12:05:00.000Z');
    expect(again.indexed).toEqual([]);
  });

  it('runs from the cron trigger', async () => {
    const outside = makeEvent('bulk-put-by-cron', '2022-08-08');
    await env.EVENTS.put(eventKey(outside.id), JSON.stringify(outside));
    await runCron();
    expect((await getJson('/events/bulk-put-by-cron')).status).toBe(200);
    expect((await getJson('/events?since=2022-08-08&until=2022-08-08')).body.data).toHaveLength(1);
  });
});

describe('recovery of an interrupted write', () => {
  it('indexes a journalled record whose write stopped before the index update', async () => {
    const stub = env.COORDINATOR.getByName('main');
    const record = makeEvent('interrupted-write', '2022-09-09');
    const before = (await readManifest(env.EVENTS)).count;
    // The state a crash between the record write and the index write leaves behind.
    await env.EVENTS.put(eventKey(record.id), JSON.stringify(record));
    await runInDurableObject(stub, async (_instance, state) => {
      state.storage.sql.exec('INSERT INTO journal (record_id, started_at) VALUES (?, ?)', record.id, '2026-11-28T12:00:00.000Z');
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await readManifest(env.EVENTS)).count).toBe(before + 1);
    expect((await getJson('/events?since=2022-09-09&until=2022-09-09')).body.data.map((event: { id: string }) => event.id)).toEqual(['interrupted-write']);
    const journal = await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec('SELECT COUNT(*) AS n FROM journal').one().n);
    expect(journal).toBe(0);
  });
});
