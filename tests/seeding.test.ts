/**
 * Publishing the dataset bundled from data/: with SEED_FROM_BUNDLE on, the
 * first request seeds an empty KV namespace through the Coordinator, and
 * later requests and cron runs leave it alone while data/ is unchanged.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import bundledEvents from '../data/events.json';
import bundledTallies from '../data/tallies.json';
import { app } from '../functions/app.ts';
import { readManifest } from '../functions/store/events-store.ts';

const seededEnv = { ...env, SEED_FROM_BUNDLE: 'true' };
const get = async (path: string) => (await app.request(path, {}, seededEnv)).json() as Promise<any>;

describe('bundled dataset', () => {
  it('is published into an empty namespace on the first request', async () => {
    expect((await readManifest(env.EVENTS)).count).toBe(0);
    const health = await get('/healthz');
    expect(health.events).toBe(bundledEvents.length);
    const tallies = await get('/tallies');
    expect(tallies.data).toHaveLength(bundledTallies.length);
    const record = await get('/events/2019-12-27-kataib-hezbollah-attack-kills-us-civilian');
    expect(record).toMatchObject({ revision: 1, created_at: bundledEvents[0]!.created_at });
  });

  it('is not written again while data/ is unchanged', async () => {
    const before = await readManifest(env.EVENTS);
    await get('/events?limit=1');
    expect(await env.COORDINATOR.getByName('main').publishBundle(new Date().toISOString())).toBe(false);
    expect((await readManifest(env.EVENTS)).revision).toBe(before.revision);
  });

  it('is not served when seeding is off and the namespace is empty elsewhere', async () => {
    const spare = await app.request('/healthz', {}, { ...env, EVENTS: env.SPARE_EVENTS, SEED_FROM_BUNDLE: 'false' });
    expect(((await spare.json()) as { events: number }).events).toBe(0);
  });
});
