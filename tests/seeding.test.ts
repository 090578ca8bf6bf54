/**
 * Publishing the dataset bundled from data/: with SEED_FROM_BUNDLE on, the
 * first request hands it to the Coordinator, which writes it into the truth
 * and publishes it before that request is answered; later requests and cron
 * runs leave it alone while data/ is unchanged.
 */
import { createExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import bundledEvents from '../data/events.json';
import bundledTallies from '../data/tallies.json';
import { app } from '../functions/app.ts';
import { ensureBundlePublished } from '../functions/jobs/publish-bundle.ts';
import { coordinatorStub } from './helpers.ts';

const seededEnv = { ...env, SEED_FROM_BUNDLE: 'true' };
const get = async (path: string) => (await app.request(path, { headers: { Accept: 'application/json' } }, seededEnv, createExecutionContext())).json() as Promise<any>;

describe('bundled dataset', () => {
  it('is published into an empty namespace on the first request', async () => {
    expect((await coordinatorStub().status()).dataset.records).toBe(0);
    const health = await get('/healthz');
    expect(health.events).toBe(bundledEvents.length);
    const tallies = await get('/tallies');
    expect(tallies.data).toHaveLength(bundledTallies.length);
    const record = await get('/events/2019-12-27-kataib-hezbollah-attack-kills-us-civilian');
    expect(record).toMatchObject({ revision: 1, created_at: bundledEvents[0]!.created_at });
  });

  it('is not written again while data/ is unchanged', async () => {
    const before = (await coordinatorStub().status()).dataset.revision;
    await get('/events?limit=1');
    expect(await ensureBundlePublished(env, new Date().toISOString(), true)).toBe(false);
    expect((await coordinatorStub().status()).dataset.revision).toBe(before);
  });

  it('is not served when seeding is off and the namespace is empty elsewhere', async () => {
    const spare = await app.request('/healthz', {}, { ...env, EVENTS: env.SPARE_EVENTS, SEED_FROM_BUNDLE: 'false' });
    expect(((await spare.json()) as { events: number }).events).toBe(0);
  });
});
