/**
 * Records written straight into KV (`wrangler kv bulk put`, any other path)
 * are reconciled with the Coordinator's truth: valid new records and changed
 * content under existing keys are adopted (indexed, revised and alerted like
 * any write); stale copies of our own versions are recognised and left
 * alone; invalid values are quarantined once, never served, and our version
 * is published over them.
 */
import { createScheduledController } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { eventKey } from '../functions/domain/layout.ts';
import worker from '../functions/index.ts';
import { call, coordinatorStub, getJson, makeEvent, seed, settled } from './helpers.ts';

const NOW = '2026-11-28T12:00:00.000Z';
const ADMIN = { authorization: 'Bearer test-admin-token' };

async function runCron(): Promise<void> {
  await worker.scheduled(createScheduledController({ scheduledTime: new Date(NOW), cron: '*/5 * * * *' }), env);
  await settled();
}

async function reconcile() {
  const report = await coordinatorStub().reconcile(NOW);
  await settled();
  return report;
}

describe('reconciliation', () => {
  it('adopts valid records put straight into KV, and quarantines invalid ones once', async () => {
    const outside = makeEvent('bulk-put-record', '2022-07-07');
    await env.EVENTS.put(eventKey(outside.id), JSON.stringify(outside));
    await env.EVENTS.put(eventKey('bulk-put-broken'), JSON.stringify({ ...makeEvent('bulk-put-broken', '2022-07-08'), date: 'July' }));
    await env.EVENTS.put(eventKey('bulk-put-not-json'), '{"id": "bulk-put-not-json", ');
    expect((await getJson('/events?since=2022-07-01&until=2022-07-31')).body.data).toEqual([]);

    const warn = vi.spyOn(console, 'warn');
    const report = await reconcile();
    expect(report.adopted).toEqual(['bulk-put-record']);
    expect(report.quarantined).toEqual([
      { key: 'event:bulk-put-broken', problem: expect.stringContaining('date') },
      { key: 'event:bulk-put-not-json', problem: 'not valid JSON' },
    ]);
    expect(report.complete).toBe(true);
    expect(warn.mock.calls.filter((args) => String(args[0]).startsWith('quarantined'))).toHaveLength(2);

    const listed = await getJson('/events?since=2022-07-01&until=2022-07-31');
    expect(listed.body.data.map((event: { id: string }) => event.id)).toEqual(['bulk-put-record']);
    for (const id of ['bulk-put-broken', 'bulk-put-not-json']) expect((await call(`/events/${id}`)).status).toBe(404);

    warn.mockClear();
    const again = await reconcile();
    expect(again).toMatchObject({ adopted: [], quarantined: [] });
    expect(warn.mock.calls.filter((args) => String(args[0]).startsWith('quarantined'))).toHaveLength(0);
    warn.mockRestore();

    const quarantine = await getJson('/admin/quarantine', { headers: ADMIN });
    expect(quarantine.status).toBe(200);
    expect(quarantine.body.data.map((entry: { key: string }) => entry.key)).toEqual(['event:bulk-put-broken', 'event:bulk-put-not-json']);
    expect((await getJson('/admin/quarantine')).status).toBe(401);
  });

  it('adopts content changed under an existing key as an update, once', async () => {
    const [created] = await seed([makeEvent('edited-elsewhere', '2022-07-10')], NOW);
    expect(created!.record.revision).toBe(1);
    const edited = { ...created!.record, title: 'Edited with wrangler kv' };
    await env.EVENTS.put(eventKey(edited.id), JSON.stringify(edited));

    expect((await reconcile()).adopted).toEqual(['edited-elsewhere']);
    const stored = await getJson('/events/edited-elsewhere');
    expect(stored.body).toMatchObject({ title: 'Edited with wrangler kv', revision: 2 });
    expect((await reconcile()).adopted).toEqual([]);
  });

  it('leaves a stale copy of one of its own versions alone', async () => {
    const [first] = await seed([makeEvent('stale-copy', '2022-07-11')], NOW);
    await seed([makeEvent('stale-copy', '2022-07-11', { title: 'Second version' })], NOW);
    // What a location still caching the first version would serve.
    await env.EVENTS.put(eventKey('stale-copy'), JSON.stringify(first!.record));
    expect((await reconcile()).adopted).toEqual([]);
    expect((await coordinatorStub().status()).dataset.records).toBeGreaterThan(0);
  });

  it('quarantines an invalid value under a known id and publishes the true version over it', async () => {
    await seed([makeEvent('overwritten-badly', '2022-07-12')], NOW);
    await env.EVENTS.put(eventKey('overwritten-badly'), 'not json at all');
    expect((await call('/events/overwritten-badly')).status).toBe(404);
    const report = await reconcile();
    expect(report.quarantined).toEqual([{ key: 'event:overwritten-badly', problem: 'not valid JSON' }]);
    const restored = await getJson('/events/overwritten-badly');
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ id: 'overwritten-badly', revision: 1 });
  });

  it('runs from the cron trigger', async () => {
    const outside = makeEvent('bulk-put-by-cron', '2022-08-08');
    await env.EVENTS.put(eventKey(outside.id), JSON.stringify(outside));
    await runCron();
    expect((await getJson('/events/bulk-put-by-cron')).status).toBe(200);
    expect((await getJson('/events?since=2022-08-08&until=2022-08-08')).body.data).toHaveLength(1);
  });
});
