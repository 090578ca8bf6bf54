/**
 * Issue 10, actors are data: `actor=` matches the actor dictionary
 * (data/actors.json) by id, canonical name or alias as whole folded words,
 * follows its links (part of, directed by), and `actor_role=` narrows the
 * roles; `GET /actors` and `GET /actors/:id` serve the dictionary with counts
 * per role, with conditional GET; `POST /events` takes only known actor ids.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBundlePublished } from '../functions/jobs/publish-bundle.ts';
import { call, getJson, settled } from './helpers.ts';
import { makeEventInput } from './fixtures/records.ts';

const ids = async (query: string): Promise<string[]> => {
  const { status, body } = await getJson<{ data: { id: string }[] }>(`/events?limit=500&${query}`);
  expect(status, query).toBe(200);
  return body.data.map((event) => event.id);
};

/** The bundled records that name Kata'ib Hezbollah, in any role. */
const KATAIB_HEZBOLLAH_RECORDS = [
  '2024-01-us-strikes-jurf-al-sakhar',
  '2024-01-us-strikes-al-qaim',
  '2024-01-al-asad-air-base-missile-attack',
  '2023-12-25-us-strikes-kataib-hezbollah-facilities-iraq',
  '2023-12-25-erbil-air-base-drone-attack',
  '2019-12-31-militia-rally-damages-us-embassy-baghdad',
  '2019-12-29-us-strikes-kataib-hezbollah-syria',
  '2019-12-29-us-strikes-kataib-hezbollah-iraq',
  '2019-12-27-kataib-hezbollah-attack-kills-us-civilian',
];

/** The four attacks of Nov–Dec 2019 the Secretary of Defense says were "directed by the Iranian regime, specifically IRGC leadership". */
const IRGC_DIRECTED = [
  '2019-12-09-baghdad-diplomatic-support-center-rocket-attack',
  '2019-12-05-balad-air-base-rocket-attack',
  '2019-12-03-al-asad-air-base-rocket-attack',
  '2019-11-09-q-west-air-base-rocket-attack',
];

const US_STRIKES = [
  '2024-01-us-strikes-jurf-al-sakhar',
  '2024-01-us-strikes-al-qaim',
  '2023-12-25-us-strikes-kataib-hezbollah-facilities-iraq',
  '2019-12-29-us-strikes-kataib-hezbollah-syria',
  '2019-12-29-us-strikes-kataib-hezbollah-iraq',
];

beforeAll(async () => {
  await ensureBundlePublished(env, '2026-11-28T00:00:00.000Z');
  await settled();
});

describe('actor= matches the dictionary, not pieces of names', () => {
  it('finds an actor by its abbreviation, id, canonical name or any spelling the sources use', async () => {
    expect(await ids('actor=KH')).toEqual(KATAIB_HEZBOLLAH_RECORDS);
    for (const name of ['kataib-hezbollah', "Kata'ib Hezbollah", "Kata'ib Hizbollah", 'Kataeb Hezbollah', 'kataib hezbollah']) {
      expect(await ids(`actor=${encodeURIComponent(name)}`), name).toEqual(KATAIB_HEZBOLLAH_RECORDS);
    }
  });

  it('matches whole words only: IS is nobody here, not "Islamic Resistance"', async () => {
    expect(await ids('actor=IS')).toEqual([]);
    expect(await ids('actor=kata')).toEqual([]);
  });

  it('actor=us finds the US strikes as well as the attacks on US forces', async () => {
    const us = await ids('actor=us');
    for (const id of US_STRIKES) expect(us).toContain(id);
    expect(us).toContain('2023-12-us-embassy-baghdad-mortar-fire');
    expect(await ids('actor=us&actor_role=perpetrator&type=strike')).toEqual(US_STRIKES);
  });

  it('actor=IRGC finds the attacks the sources say IRGC leadership directed', async () => {
    expect(await ids('actor=IRGC')).toEqual(IRGC_DIRECTED);
    expect(await ids('actor=IRGC&actor_role=directed_by')).toEqual(IRGC_DIRECTED);
    expect(await ids('actor=IRGC&actor_role=perpetrator')).toEqual([]);
  });

  it('actor=Iran-backed finds what the sources attribute to Iran-backed militias, through the links', async () => {
    expect((await ids('actor=Iran-backed')).length).toBeGreaterThan(0);
    const found = await ids('actor=Iran-backed&actor_role=perpetrator');
    // Named as such in the record, and Kata'ib Hezbollah, "the Iranian-backed militia".
    for (const id of [...IRGC_DIRECTED, '2019-12-27-kataib-hezbollah-attack-kills-us-civilian', '2023-12-25-erbil-air-base-drone-attack', '2024-01-al-asad-air-base-missile-attack']) expect(found).toContain(id);
    for (const id of US_STRIKES) expect(found).not.toContain(id);
  });

  it('actor_role narrows the roles an actor is matched in', async () => {
    expect(await ids('actor=KH&actor_role=target')).toEqual(US_STRIKES);
    expect(await ids('actor=KH&actor_role=claimant')).toEqual(['2023-12-25-erbil-air-base-drone-attack']);
    expect(await ids('actor=islamic%20resistance')).toEqual(['2023-12-25-erbil-air-base-drone-attack']);
    const bad = await getJson('/events?actor_role=victim');
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields.map((problem: { field: string }) => problem.field)).toEqual(['actor_role']);
  });
});

describe('GET /actors', () => {
  it('lists the dictionary with counts per role', async () => {
    const { status, body, response } = await getJson('/actors');
    expect(status).toBe(200);
    expect(response.headers.get('etag')).toMatch(/^"/);
    const kh = body.data.find((actor: { id: string }) => actor.id === 'kataib-hezbollah');
    expect(kh).toMatchObject({ name: "Kata'ib Hezbollah", kind: 'militia' });
    expect(kh.aliases).toEqual(expect.arrayContaining(['KH', "Kata'ib Hizbollah", 'Kataeb Hezbollah', 'Kataib Hezbollah']));
    expect(kh.counts).toEqual({ perpetrator: 4, claimant: 1, target: 5, directed_by: 0 });
    expect(kh.links).toContainEqual(expect.objectContaining({ relation: 'claims_under', to: 'islamic-resistance-in-iraq' }));
  });

  it('serves one actor, and a 404 naming id for an unknown one', async () => {
    const { status, body } = await getJson('/actors/irgc');
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: 'irgc', counts: { directed_by: 4 } });
    const missing = await getJson('/actors/no-such-actor');
    expect(missing.status).toBe(404);
    expect(missing.response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(missing.body.error.fields.map((problem: { field: string }) => problem.field)).toEqual(['id']);
  });

  it('answers a repeat with 304', async () => {
    for (const path of ['/actors', '/actors/kataib-hezbollah']) {
      const first = await call(path);
      expect(first.status, path).toBe(200);
      const again = await call(path, { headers: { 'If-None-Match': first.headers.get('etag')! } });
      expect(again.status, path).toBe(304);
      expect(await again.text()).toBe('');
    }
  });
});

describe('POST /events names actors by dictionary id', () => {
  it('refuses an id the dictionary does not hold, naming the field', async () => {
    const record = makeEventInput('unknown-actor-id', '2031-05-05', { actors: [{ id: 'no-such-militia', role: 'perpetrator', as_written: 'No Such Militia' }] } as never);
    const response = await call('/events', { method: 'POST', headers: { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' }, body: JSON.stringify(record) });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { fields: { field: string; message: string }[] } };
    expect(body.error.fields.map((problem) => problem.field)).toEqual(['actors.0.id']);
    expect(body.error.fields[0]!.message).toContain('GET /actors');
  });
});
