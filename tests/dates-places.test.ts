/**
 * Dates are intervals and places say how exact they are, on the curated
 * dataset published from data/: `since`/`until` select by overlap with each
 * record's `date_start`/`date_end` (or containment with `date_match=within`),
 * the 2023-12-25 strikes are found on the local day the Iraqi officials give,
 * `bbox` matches only site- or city-precise points unless `precision=` says
 * otherwise, the 82nd Airborne deployment sits on no exact point, and the
 * feeds carry GeoRSS only for points a map can trust.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { xml2js } from 'xml-js';
import bundled from '../data/events.json';
import { ensureBundlePublished } from '../functions/jobs/publish-bundle.ts';
import type { Event } from '../functions/domain/schema.ts';
import { call, expectInvalidParameter, getJson } from './helpers.ts';

type Page = { data: Array<Event & { date_start: string; date_end: string }>; next_cursor: string | null };
const ids = async (query: string): Promise<string[]> => {
  const { status, body } = await getJson<Page>(`/events?limit=500&${query}`);
  expect(status, query).toBe(200);
  return body.data.map((event) => event.id);
};

const JANUARY_AL_ASAD = '2024-01-al-asad-air-base-missile-attack';
const EMBASSY_MORTARS = '2023-12-us-embassy-baghdad-mortar-fire';
const CHRISTMAS_STRIKES = '2023-12-25-us-strikes-kataib-hezbollah-facilities-iraq';
const AIRBORNE = '2019-12-31-82nd-airborne-battalion-deployed';
const KH_ATTACK = '2019-12-27-kataib-hezbollah-attack-kills-us-civilian';
const STRIKES_IRAQ = '2019-12-29-us-strikes-kataib-hezbollah-iraq';
/** Anbar and its edges, west of Baghdad: Al-Asad and Al-Qa'im are inside, the Iraq centroid (43.68, 33.22) too. */
const ANBAR = 'bbox=38.8,32.0,44.0,35.0';
const EVERY_PRECISION = 'precision=site,city,approximate,region,country';

beforeAll(async () => {
  await ensureBundlePublished(env, '2026-11-28T00:00:00.000Z');
});

describe('dates are intervals', () => {
  it('since=2024-01-15 finds the January 2024 Al-Asad attack, dated by month', async () => {
    expect(await ids('since=2024-01-15')).toContain(JANUARY_AL_ASAD);
  });

  it('since=2023-12-02&until=2023-12-24 finds the December 2023 embassy mortar fire', async () => {
    expect(await ids('since=2023-12-02&until=2023-12-24')).toEqual([EMBASSY_MORTARS]);
  });

  it('date_match=within asks for records wholly inside the range', async () => {
    expect(await ids('since=2024-01-15&date_match=within')).not.toContain(JANUARY_AL_ASAD);
    expect(await ids('since=2024-01-01&until=2024-01-31&date_match=within')).toContain(JANUARY_AL_ASAD);
    expect(await ids('since=2023-12-02&until=2023-12-24&date_match=within')).toEqual([]);
    expect(await ids('since=2023-12-02&until=2023-12-24&date_match=overlap')).toEqual([EMBASSY_MORTARS]);
    await expectInvalidParameter('/events?date_match=inside', 'date_match');
  });

  it('every record carries date_start and date_end, derived from date, date_precision and date_window', async () => {
    const { body } = await getJson<Page>('/events?limit=500');
    expect(body.data).toHaveLength(bundled.length);
    const byId = new Map(body.data.map((event) => [event.id, event]));
    expect(byId.get(JANUARY_AL_ASAD)).toMatchObject({ date: '2024-01-01', date_start: '2024-01-01', date_end: '2024-01-31' });
    expect(byId.get(STRIKES_IRAQ)).toMatchObject({ date: '2019-12-29', date_precision: 'approximate', date_start: '2019-12-27', date_end: '2020-01-05' });
    for (const event of body.data) {
      expect(event.date_start <= event.date && event.date <= event.date_end, event.id).toBe(true);
      if (event.date_precision === 'day') expect([event.date_start, event.date_end], event.id).toEqual([event.date, event.date]);
    }
    const single = await getJson<Page['data'][number]>(`/events/${JANUARY_AL_ASAD}`);
    expect(single.body).toMatchObject({ date_start: '2024-01-01', date_end: '2024-01-31' });
  });

  it('the approximate 2019 strikes overlap the days after the attack they answered, not the days before', async () => {
    expect(await ids(`since=2020-01-02&until=2020-01-02&type=strike`)).toEqual(['2019-12-29-us-strikes-kataib-hezbollah-syria', STRIKES_IRAQ].sort().reverse());
    expect(await ids(`until=2019-12-26&type=strike`)).toEqual([]);
  });

  it('the 2023-12-25 strikes are found on the local day Iraqi officials give ("early Tuesday", 26 December)', async () => {
    expect(await ids('since=2023-12-26&until=2023-12-26&type=strike')).toEqual([CHRISTMAS_STRIKES]);
    const { body } = await getJson<Event>(`/events/${CHRISTMAS_STRIKES}`);
    expect(body.date_note).toMatch(/early Tuesday/);
  });

  it('still sorts by date, newest first', async () => {
    const { body } = await getJson<Page>('/events?limit=500');
    const keys = body.data.map((event) => `${event.date}|${event.id}`);
    expect(keys).toEqual([...keys].sort().reverse());
  });
});

describe('places users can trust on a map', () => {
  it('bbox matches only site- and city-precise points by default: no country centroid falls in Anbar', async () => {
    const found = await ids(ANBAR);
    expect(found).not.toContain(KH_ATTACK);
    expect(found).not.toContain(STRIKES_IRAQ);
    expect(found).toContain(JANUARY_AL_ASAD);
    expect(found).toContain('2019-12-03-al-asad-air-base-rocket-attack');
  });

  it('precision= asks for coarser places, with or without bbox', async () => {
    const every = await ids(`${ANBAR}&${EVERY_PRECISION}`);
    expect(every).toContain(KH_ATTACK);
    expect(every).toContain(STRIKES_IRAQ);
    expect(every).toContain('2024-01-us-strikes-al-qaim');
    expect((await ids('precision=country')).sort()).toEqual([KH_ATTACK, STRIKES_IRAQ, '2019-12-29-us-strikes-kataib-hezbollah-syria', AIRBORNE].sort());
    await expectInvalidParameter('/events?precision=street', 'precision');
  });

  it('the 82nd Airborne deployment, destination not stated, is not placed on the embassy', async () => {
    const { body } = await getJson<Event>(`/events/${AIRBORNE}`);
    expect(body.location.precision).toBe('country');
    const embassy = 'bbox=44.39,33.29,44.40,33.30';
    expect(await ids(`${embassy}&${EVERY_PRECISION}`)).not.toContain(AIRBORNE);
    expect(await ids(embassy)).toContain('2019-12-31-marines-deployed-to-us-embassy-baghdad');
  });

  it('GeoJSON features carry the location precision', async () => {
    const { body } = await getJson<{ features: Array<{ id: string; properties: { location_precision: string } }> }>('/events.geojson?limit=500');
    const precision = new Map(body.features.map((feature) => [feature.id, feature.properties.location_precision]));
    expect(precision.get(KH_ATTACK)).toBe('country');
    expect(precision.get(JANUARY_AL_ASAD)).toBe('site');
  });

  it('feeds give a GeoRSS point (and JSON Feed _geo) only for site- and city-precise places', async () => {
    const response = await getJson<any>('/feed.json?limit=500');
    const items = new Map<string, any>(response.body.items.map((item: any) => [item.id.split(':').at(-1), item]));
    expect(items.get(KH_ATTACK)._geo).toBeUndefined();
    expect(items.get(AIRBORNE)._geo).toBeUndefined();
    expect(items.get(JANUARY_AL_ASAD)._geo).toMatchObject({ type: 'Point' });

    const rss = (xml2js(await (await call('/feed.rss?limit=500')).text(), { compact: true }) as any).rss.channel.item as any[];
    const rssById = new Map(rss.map((item) => [String(item.guid._text).split(':').at(-1), item]));
    expect(rssById.get(KH_ATTACK)['georss:point']).toBeUndefined();
    expect(rssById.get(JANUARY_AL_ASAD)['georss:point']._text).toBe('33.7856 42.4412');
    const atom = (xml2js(await (await call('/feed.atom?limit=500')).text(), { compact: true }) as any).feed.entry as any[];
    const atomById = new Map(atom.map((entry) => [String(entry.id._text).split(':').at(-1), entry]));
    expect(atomById.get(STRIKES_IRAQ)['georss:point']).toBeUndefined();
    expect(atomById.get(JANUARY_AL_ASAD)['georss:point']._text).toBe('33.7856 42.4412');
  });
});
